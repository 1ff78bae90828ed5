//! Referring URL → source name (`Google`, `Twitter`, `Hacker News`, ...) from the
//! Snowplow referer-parser database vendored in `gateway/data/referer-parser/` (see its
//! README for provenance and licence). Parsed once, on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use url::Url;

/// The list's JSON: medium → source name → domains (and search parameters, unused here).
type RawList = HashMap<String, HashMap<String, RawSource>>;

#[derive(Deserialize)]
struct RawSource {
    domains: Vec<String>,
}

/// A known referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSource {
    /// Display name, e.g. `Google`.
    pub name: String,
    /// `search`, `social`, `email`, `paid` or `unknown`.
    pub medium: String,
}

/// Domain (or `domain/first-path-segment`, for sources that share a host) → source.
static SOURCES: LazyLock<HashMap<String, KnownSource>> = LazyLock::new(|| {
    let raw: RawList =
        serde_json::from_str(include_str!("../../data/referer-parser/referers.json")).expect("vendored referrer list is valid JSON");
    let mut sources = HashMap::new();
    for (medium, names) in raw {
        for (name, source) in names {
            for domain in source.domains {
                sources.insert(domain.to_ascii_lowercase(), KnownSource { name: name.clone(), medium: medium.clone() });
            }
        }
    }
    sources
});

/// The known source of `referrer`, if the list has its host: tried with the first path
/// segment, then bare, with and without `www.`, then each parent domain
/// (`news.google.de` → `google.de`).
pub fn known_source(referrer: &Url) -> Option<&'static KnownSource> {
    if !matches!(referrer.scheme(), "http" | "https") {
        return None;
    }
    let host = referrer.host_str()?.to_ascii_lowercase();
    let first_segment = referrer.path().split('/').nth(1).filter(|s| !s.is_empty());
    let mut candidate = host.as_str();
    loop {
        for h in [candidate.to_string(), format!("www.{candidate}")] {
            if let Some(seg) = first_segment {
                if let Some(s) = SOURCES.get(&format!("{h}/{seg}")) {
                    return Some(s);
                }
            }
            if let Some(s) = SOURCES.get(&h) {
                return Some(s);
            }
        }
        // Stop at the registrable part: never match a bare public suffix like `co.uk`.
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> Option<&'static str> {
        known_source(&Url::parse(url).unwrap()).map(|s| s.name.as_str())
    }

    #[test]
    fn search_engines_and_social_networks_are_named() {
        assert_eq!(name("https://www.google.com/search?q=tally"), Some("Google"));
        assert_eq!(name("https://google.com/"), Some("Google"));
        assert_eq!(name("https://www.google.co.uk/"), Some("Google"));
        assert_eq!(name("https://t.co/abc"), Some("Twitter"));
        assert_eq!(name("https://news.ycombinator.com/item?id=1"), Some("Hacker News"));
        assert_eq!(known_source(&Url::parse("https://www.bing.com/search?q=x").unwrap()).unwrap().medium, "search");
    }

    #[test]
    fn unknown_hosts_are_not_matched() {
        assert_eq!(name("https://blog.example.org/post"), None);
        assert_eq!(name("android-app://com.google.android.gm/"), None);
    }
}
