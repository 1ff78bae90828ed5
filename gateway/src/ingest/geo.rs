//! Client location: country, region and city, from headers a trusted proxy or CDN sets
//! (e.g. Cloudflare's `CF-IPCountry`) or from a MaxMind DB file (GeoLite2/GeoIP2 City)
//! read with the `maxminddb` crate. The file is loaded into memory at start, so a
//! lookup is a tree walk of a few microseconds on the request path, with no I/O.

use std::net::IpAddr;
use std::path::Path;

use axum::http::HeaderMap;
use maxminddb::{geoip2, Reader};

/// Where an event happened, as far as the gateway can tell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// ISO 3166-2, e.g. `DE-BE`.
    pub region: Option<String>,
    pub city: Option<String>,
}

/// Names of the headers a trusted proxy sets; each optional.
#[derive(Debug, Clone, Default)]
pub struct GeoHeaders {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}

pub struct Geo {
    db: Option<Reader<Vec<u8>>>,
    headers: GeoHeaders,
}

impl Geo {
    /// Loads the MMDB file when one is given.
    pub fn open(db: Option<&Path>, headers: GeoHeaders) -> anyhow::Result<Geo> {
        let db = match db {
            Some(path) => {
                Some(Reader::open_readfile(path).map_err(|e| anyhow::anyhow!("cannot open GeoIP database {}: {e}", path.display()))?)
            }
            None => None,
        };
        Ok(Geo { db, headers })
    }

    /// The location of a client: the trusted headers' values when present (`headers` is
    /// `None` unless the proxy is trusted and the IP is the request's own), otherwise
    /// the MMDB entry of `ip`.
    pub fn locate(&self, ip: IpAddr, headers: Option<&HeaderMap>) -> Location {
        let from_header = |name: &Option<String>| -> Option<String> {
            let value = headers?.get(name.as_deref()?)?.to_str().ok()?.trim();
            // Cloudflare sends XX for unknown and T1 for Tor.
            (!value.is_empty() && value != "XX" && value != "T1").then(|| value.to_string())
        };
        let header_country = from_header(&self.headers.country).map(|c| c.to_ascii_uppercase());
        if header_country.is_some() {
            return Location { country: header_country, region: from_header(&self.headers.region), city: from_header(&self.headers.city) };
        }
        self.lookup(ip).unwrap_or_default()
    }

    fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let result = self.db.as_ref()?.lookup(ip).ok()?;
        let city: geoip2::City = result.decode().ok()??;
        let country = city.country.iso_code.map(str::to_string);
        let region = match (&country, city.subdivisions.first().and_then(|s| s.iso_code)) {
            (Some(c), Some(sub)) => Some(format!("{c}-{sub}")),
            _ => None,
        };
        let city_name = city.city.names.english.map(str::to_string);
        Some(Location { country, region, city: city_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_headers_win_and_unknown_codes_are_ignored() {
        let geo = Geo::open(
            None,
            GeoHeaders { country: Some("cf-ipcountry".into()), region: Some("x-region".into()), city: Some("x-city".into()) },
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("cf-ipcountry", "de".parse().unwrap());
        headers.insert("x-region", "DE-BE".parse().unwrap());
        headers.insert("x-city", "Berlin".parse().unwrap());
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        assert_eq!(
            geo.locate(ip, Some(&headers)),
            Location { country: Some("DE".into()), region: Some("DE-BE".into()), city: Some("Berlin".into()) }
        );
        assert_eq!(geo.locate(ip, None), Location::default(), "untrusted: headers are not read");
        headers.insert("cf-ipcountry", "XX".parse().unwrap());
        assert_eq!(geo.locate(ip, Some(&headers)), Location::default());
    }
}
