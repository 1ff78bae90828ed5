//! Names of the places events store as codes: countries (ISO 3166-1 alpha-2) and
//! regions (ISO 3166-2), for Plausible's `visit:country_name` and `visit:region_name`.
//! The names come from Debian's `iso-codes` package (its JSON under
//! `/usr/share/iso-codes/json`, installed by scripts/setup-deps.sh and the gateway's
//! image) rather than from a table in this repository: iso-codes is maintained with
//! the standard and is LGPL data this project reads at run time without shipping it.
//! Cities are stored by name already.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Where iso-codes keeps its JSON.
const ISO_CODES_DIR: &str = "/usr/share/iso-codes/json";

/// Country and region names by code.
pub struct PlaceNames {
    countries: HashMap<String, String>,
    regions: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Countries {
    #[serde(rename = "3166-1")]
    entries: Vec<Country>,
}

#[derive(Deserialize)]
struct Country {
    alpha_2: String,
    name: String,
    /// The everyday name where the standard's differs ("Taiwan", "Bolivia").
    common_name: Option<String>,
}

#[derive(Deserialize)]
struct Regions {
    #[serde(rename = "3166-2")]
    entries: Vec<Region>,
}

#[derive(Deserialize)]
struct Region {
    code: String,
    name: String,
}

impl PlaceNames {
    /// The names iso-codes installs, read once per process; `None` without the package.
    pub fn installed() -> Option<&'static PlaceNames> {
        static NAMES: OnceLock<Option<PlaceNames>> = OnceLock::new();
        NAMES
            .get_or_init(|| {
                let read = |file: &str| std::fs::read(format!("{ISO_CODES_DIR}/{file}")).ok();
                let names = PlaceNames::from_json(&read("iso_3166-1.json")?, &read("iso_3166-2.json")?);
                if names.is_none() {
                    tracing::warn!("{ISO_CODES_DIR} holds files that are not iso-codes' JSON: place names are unavailable");
                }
                names
            })
            .as_ref()
    }

    /// The names from iso-codes' `iso_3166-1.json` and `iso_3166-2.json`.
    pub fn from_json(countries: &[u8], regions: &[u8]) -> Option<PlaceNames> {
        let countries: Countries = serde_json::from_slice(countries).ok()?;
        let regions: Regions = serde_json::from_slice(regions).ok()?;
        Some(PlaceNames {
            countries: countries.entries.into_iter().map(|c| (c.alpha_2, c.common_name.unwrap_or(c.name))).collect(),
            regions: regions.entries.into_iter().map(|r| (r.code, r.name)).collect(),
        })
    }

    /// The country's name, by its alpha-2 code.
    pub fn country(&self, code: &str) -> Option<&str> {
        self.countries.get(code).map(String::as_str)
    }

    /// Every country: (alpha-2 code, name).
    pub fn countries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.countries.iter().map(|(code, name)| (code.as_str(), name.as_str()))
    }

    /// Every region: (ISO 3166-2 code, name).
    pub fn regions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.regions.iter().map(|(code, name)| (code.as_str(), name.as_str()))
    }

    /// The region's name, by its ISO 3166-2 code (`DE-BE`).
    pub fn region(&self, code: &str) -> Option<&str> {
        self.regions.get(code).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_everyday_ones_by_code() {
        let names = PlaceNames::from_json(
            br#"{"3166-1": [{"alpha_2": "DE", "name": "Germany"}, {"alpha_2": "TW", "name": "Taiwan, Province of China", "common_name": "Taiwan"}]}"#,
            br#"{"3166-2": [{"code": "DE-BE", "name": "Berlin", "type": "Land"}]}"#,
        )
        .unwrap();
        assert_eq!((names.country("DE"), names.country("TW"), names.country("XX")), (Some("Germany"), Some("Taiwan"), None));
        assert_eq!(names.region("DE-BE"), Some("Berlin"));
        let mut countries: Vec<_> = names.countries().collect();
        countries.sort_unstable();
        assert_eq!(countries, [("DE", "Germany"), ("TW", "Taiwan")]);
        assert_eq!(names.regions().collect::<Vec<_>>(), [("DE-BE", "Berlin")]);
        assert!(PlaceNames::from_json(b"[]", b"{}").is_none());
    }

    #[test]
    fn the_installed_package_names_every_country() {
        let names = PlaceNames::installed().expect("iso-codes is installed by scripts/setup-deps.sh");
        assert_eq!(names.country("US"), Some("United States"));
        assert_eq!(names.region("FR-75"), Some("Paris"));
    }
}
