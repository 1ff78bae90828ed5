//! Enrichment of a validated event from its URL and referrer: hostname, pathname, UTM
//! tags and referrer source. Pure functions, so the rules are unit-tested here.
//!
//! Hostname, pathname and referrer are the URL parser's serialisation, in which control
//! characters are percent-encoded. UTM tags are percent-decoded, so they are normalised
//! ([`super::text`]): bytes that are not UTF-8 become U+FFFD and control characters are
//! removed, and a tag left empty is no tag.

use url::Url;

use super::text::strip_controls;

/// The page-derived fields of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageFields {
    pub hostname: String,
    pub pathname: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
}

/// The referrer-derived fields of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferrerFields {
    pub referrer: Option<String>,
    pub referrer_source: Option<String>,
}

/// Dimension values longer than this are cut: they are group-by keys, and a 10 KB
/// campaign name is a tracking bug, not a campaign.
const MAX_DIMENSION_LEN: usize = 500;

/// Hostname without a leading `www.`, so `www.a.com` and `a.com` count as one site host.
pub fn clean_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    host.strip_prefix("www.").map(str::to_string).unwrap_or(host)
}

/// Page fields of `url`; with `hash_mode` the fragment is part of the path (`/app#/settings`).
pub fn page_fields(url: &Url, hash_mode: bool) -> PageFields {
    let path = match url.fragment() {
        Some(fragment) if hash_mode => format!("{}#{fragment}", url.path()),
        _ => url.path().to_string(),
    };
    let mut fields =
        PageFields { hostname: url.host_str().map(clean_host).unwrap_or_default(), pathname: cut(&path), ..PageFields::default() };
    for (key, value) in url.query_pairs() {
        let value = cut(strip_controls(&value).trim());
        if value.is_empty() {
            continue;
        }
        let slot = match key.as_ref() {
            "utm_source" | "ref" | "source" => &mut fields.utm_source,
            "utm_medium" => &mut fields.utm_medium,
            "utm_campaign" => &mut fields.utm_campaign,
            "utm_term" => &mut fields.utm_term,
            "utm_content" => &mut fields.utm_content,
            _ => continue,
        };
        // The first occurrence wins, as in Plausible; `ref` only fills an absent utm_source.
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    fields
}

/// Referrer fields for a page on `site_host`. A referrer from the site itself is internal
/// navigation, not a source, and is dropped. The source is the UTM source when tagged,
/// else the referrer's name in the referrer list (`Google`, `Twitter`), else its host.
pub fn referrer_fields(referrer: Option<&Url>, site_host: &str, utm_source: Option<&str>) -> ReferrerFields {
    let external = referrer.filter(|r| r.host_str().map(clean_host).as_deref() != Some(site_host));
    let named = |r: &Url| super::referrer_source::known_source(r).map(|s| s.name.clone()).or_else(|| r.host_str().map(clean_host));
    let referrer_source = utm_source.map(str::to_string).or_else(|| external.and_then(named));
    ReferrerFields { referrer: external.map(|r| cut(r.as_str())), referrer_source }
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_DIMENSION_LEN {
        return s.to_string();
    }
    let mut end = MAX_DIMENSION_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The device class, from the viewport width the tracker reports where there is one, as
/// Plausible classifies it (below 576 px a phone, below 992 px a tablet; its laptop and
/// desktop classes are one here), else from the user agent. A console's or TV's user
/// agent outranks the width: their screens are wide but they are no desktop.
pub fn device_class(screen_width: Option<i32>, from_user_agent: Option<&str>) -> Option<String> {
    match (screen_width, from_user_agent) {
        (_, Some("appliance")) | (None, _) => from_user_agent.map(str::to_string),
        (Some(w), _) if w < 576 => Some("mobile".to_string()),
        (Some(w), _) if w < 992 => Some("tablet".to_string()),
        (Some(_), _) => Some("desktop".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_fields_take_path_host_and_utm() {
        let url = Url::parse("https://WWW.Example.com/docs/a?utm_source=news&utm_campaign=launch&ref=x&utm_medium=").unwrap();
        let f = page_fields(&url, false);
        assert_eq!(f.hostname, "example.com");
        assert_eq!(f.pathname, "/docs/a");
        assert_eq!(f.utm_source.as_deref(), Some("news"));
        assert_eq!(f.utm_campaign.as_deref(), Some("launch"));
        assert_eq!(f.utm_medium, None);
        let routed = Url::parse("https://a.com/app#/settings").unwrap();
        assert_eq!(page_fields(&routed, true).pathname, "/app#/settings");
        assert_eq!(page_fields(&routed, false).pathname, "/app");
    }

    #[test]
    fn decoded_utm_tags_lose_control_characters_and_invalid_utf8() {
        let url = Url::parse("https://a.com/?utm_source=%00&utm_medium=e%00mail%0A&utm_campaign=caf%FF&utm_term=%01%02").unwrap();
        let f = page_fields(&url, false);
        assert_eq!(f.utm_source, None, "a tag of control characters only is no tag");
        assert_eq!(f.utm_medium.as_deref(), Some("email"));
        assert_eq!(f.utm_campaign.as_deref(), Some("caf\u{fffd}"));
        assert_eq!(f.utm_term, None);
        let raw = Url::parse("https://a.com/p\u{1}ath#x\u{0}y").unwrap();
        assert_eq!(page_fields(&raw, true).pathname, "/p%01ath#x%00y", "the parser percent-encodes what is not decoded");
    }

    #[test]
    fn internal_referrers_are_not_sources() {
        let internal = Url::parse("https://www.example.com/home").unwrap();
        assert_eq!(referrer_fields(Some(&internal), "example.com", None), ReferrerFields::default());
        let google = Url::parse("https://www.google.com/search?q=x").unwrap();
        let f = referrer_fields(Some(&google), "example.com", None);
        assert_eq!(f.referrer_source.as_deref(), Some("Google"));
        let blog = Url::parse("https://blog.example.org/post").unwrap();
        assert_eq!(referrer_fields(Some(&blog), "example.com", None).referrer_source.as_deref(), Some("blog.example.org"));
        let tagged = referrer_fields(Some(&google), "example.com", Some("newsletter"));
        assert_eq!(tagged.referrer_source.as_deref(), Some("newsletter"));
    }

    #[test]
    fn long_values_are_cut_on_char_boundaries() {
        let long = "é".repeat(400);
        assert!(cut(&long).len() <= MAX_DIMENSION_LEN);
        assert!(cut(&long).chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_screen_width_decides_the_device_class() {
        assert_eq!(device_class(Some(390), Some("desktop")).as_deref(), Some("mobile"));
        assert_eq!(device_class(Some(820), Some("mobile")).as_deref(), Some("tablet"));
        assert_eq!(device_class(Some(575), None).as_deref(), Some("mobile"));
        assert_eq!(device_class(Some(576), None).as_deref(), Some("tablet"));
        assert_eq!(device_class(Some(992), Some("tablet")).as_deref(), Some("desktop"));
        assert_eq!(device_class(Some(1920), Some("appliance")).as_deref(), Some("appliance"));
        assert_eq!(device_class(None, Some("tablet")).as_deref(), Some("tablet"));
        assert_eq!(device_class(None, None), None);
    }
}
