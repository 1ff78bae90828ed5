//! Referring URL → source name (`Google`, `Twitter`, `Hacker News`, ...) from Ghost's
//! MIT-licensed referrer list vendored in `gateway/data/referrer-parser/` (see its README
//! for provenance, licence and how to refresh it). Parsed once, on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use url::Url;

/// A known referrer, as the list's JSON has it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KnownSource {
    /// Display name, e.g. `Google`.
    #[serde(rename = "source")]
    pub name: String,
    /// `search`, `social`, `email`, `paid`, `referral` or `unknown`.
    pub medium: String,
}

/// What the list knows about one host: the source of the host as a whole, and sources
/// that share the host under a path prefix (`google.de/imgres` is Google Images' search,
/// `orange.fr/webmail` is email), longest prefix first.
#[derive(Default)]
struct Host {
    bare: Option<KnownSource>,
    by_path: Vec<(String, KnownSource)>,
}

impl Host {
    /// The source for `path` on this host: the longest matching path prefix, else the
    /// host's own, as Ghost's parser matches `hostname + pathname` against the keys.
    fn source(&self, path: &str) -> Option<&KnownSource> {
        self.by_path.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map(|(_, s)| s).or(self.bare.as_ref())
    }
}

/// Host (lower case, without `www.`) → its sources. The list names some hosts with
/// `www.`, some without and some both ways (always alike), so `www.` is dropped on both
/// sides: `www.google.de/imgres` then finds the `google.de/imgres` entry.
static HOSTS: LazyLock<HashMap<String, Host>> = LazyLock::new(|| {
    let raw: HashMap<String, KnownSource> =
        serde_json::from_str(include_str!("../../data/referrer-parser/referrers.json")).expect("vendored referrer list is valid JSON");
    let mut hosts: HashMap<String, Host> = HashMap::new();
    for (key, source) in raw {
        let key = key.to_ascii_lowercase();
        let key = without_www(&key);
        match key.split_once('/') {
            Some((host, path)) => hosts.entry(host.to_string()).or_default().by_path.push((format!("/{path}"), source)),
            None => hosts.entry(key.to_string()).or_default().bare = Some(source),
        }
    }
    for host in hosts.values_mut() {
        host.by_path.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }
    hosts
});

fn without_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// The known source of `referrer`, if the list has its host: tried without `www.`, then
/// each parent domain (`news.google.de` → `google.de`); on a listed host, a listed path
/// prefix wins over the host's own source.
pub fn known_source(referrer: &Url) -> Option<&'static KnownSource> {
    if !matches!(referrer.scheme(), "http" | "https") {
        return None;
    }
    let host = referrer.host_str()?.to_ascii_lowercase();
    let path = referrer.path();
    let mut candidate = without_www(&host);
    loop {
        let found = HOSTS.get(candidate).and_then(|h| h.source(path));
        if found.is_some() {
            return found;
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

    fn source(url: &str) -> Option<(&'static str, &'static str)> {
        known_source(&Url::parse(url).unwrap()).map(|s| (s.name.as_str(), s.medium.as_str()))
    }

    fn name(url: &str) -> Option<&'static str> {
        source(url).map(|(name, _)| name)
    }

    #[test]
    fn search_engines_and_social_networks_are_named() {
        assert_eq!(name("https://www.google.com/search?q=tally"), Some("Google"));
        assert_eq!(name("https://google.com/"), Some("Google"));
        assert_eq!(name("https://www.google.co.uk/"), Some("Google"));
        assert_eq!(name("https://t.co/abc"), Some("Twitter"));
        assert_eq!(name("https://news.ycombinator.com/item?id=1"), Some("Hacker News"));
        assert_eq!(source("https://www.bing.com/search?q=x"), Some(("Bing", "search")));
        assert_eq!(source("https://l.facebook.com/l.php?u=x"), Some(("Facebook", "social")));
    }

    #[test]
    fn subdomains_and_www_fall_back_to_the_listed_domain() {
        // Listed only bare: the `www.` form and deeper subdomains find it.
        assert_eq!(name("https://www.duckduckgo.com/"), Some("DuckDuckGo"));
        assert_eq!(name("https://lite.duckduckgo.com/lite/"), Some("DuckDuckGo"));
        // Listed only with `www.` (`www.so.com`): the bare host finds it.
        assert_eq!(name("https://so.com/s?q=x"), Some("360.cn"));
        assert_eq!(name("https://www.so.com/s?q=x"), Some("360.cn"));
        // Host names are case-insensitive.
        assert_eq!(name("https://WWW.Google.COM/"), Some("Google"));
    }

    #[test]
    fn mediums_and_path_prefixes_are_kept() {
        assert_eq!(source("https://mail.google.com/mail/u/0/"), Some(("Gmail", "email")));
        // A path prefix on a shared host names a different source than the host itself.
        // Listed as `google.de/imgres`, found from `www.google.de` too.
        assert_eq!(source("https://www.google.de/imgres?imgurl=x"), Some(("Google Images", "search")));
        assert_eq!(source("https://google.de/imgres"), Some(("Google Images", "search")));
        assert_eq!(source("https://www.google.de/search?q=x"), Some(("Google", "search")));
        assert_eq!(source("https://www.orange.fr/webmail/inbox"), Some(("Orange Webmail", "email")));
        assert_eq!(name("https://www.orange.fr/"), None, "only orange.fr/webmail is listed");
    }

    #[test]
    fn unknown_hosts_are_not_matched() {
        assert_eq!(name("https://blog.example.org/post"), None);
        assert_eq!(name("android-app://com.google.android.gm/"), None);
        // A bare public suffix is never a match, even if a listed domain ends in it.
        assert_eq!(name("https://somebody.co.uk/"), None);
    }
}
