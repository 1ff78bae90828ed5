//! Referring URL → source name (`Google`, `Twitter`, `Hacker News`, ...) from the list
//! this project writes and licenses with the code, `gateway/data/referrers.toml` (its
//! header says how rules match). Parsed once, on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use url::Url;

/// A known referrer, as the list names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KnownSource {
    /// Display name, e.g. `Google`.
    pub name: String,
    /// One of [`MEDIUMS`]: what kind of site it is, the category its visits'
    /// acquisition channel derives from ([`super::channel`]).
    pub medium: String,
}

/// One `[[source]]` of the list.
#[derive(Deserialize)]
struct ListedSource {
    #[serde(flatten)]
    source: KnownSource,
    /// UTM source shorthands that name the source (`fb`), besides its name.
    #[serde(default)]
    tags: Vec<String>,
    hosts: Vec<String>,
}

#[derive(Deserialize)]
struct List {
    source: Vec<ListedSource>,
}

const MEDIUMS: [&str; 7] = ["search", "social", "video", "shopping", "email", "paid", "referral"];

/// Second-level labels under which sites register in many countries (`google.co.uk`,
/// `google.com.br`): `name.*` matches `name.<one of these>.<tld>` as well as `name.<tld>`.
const SECOND_LEVELS: [&str; 10] = ["co", "com", "net", "org", "ac", "ne", "or", "gob", "gov", "edu"];

/// What the list knows about one host (or, for `name.*` rules, one name): the source of
/// the host as a whole, and sources under path prefixes (`google.*/imgres` is Google
/// Images), longest prefix first.
#[derive(Default)]
struct Host {
    bare: Option<&'static KnownSource>,
    by_path: Vec<(String, &'static KnownSource)>,
}

impl Host {
    fn source(&self, path: &str) -> Option<&'static KnownSource> {
        self.by_path.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map(|(_, s)| *s).or(self.bare)
    }
}

/// The list as lookup tables: exact hosts, the names of `name.*` rules, and the
/// sources by lower-case name and tag.
struct Rules {
    exact: HashMap<String, Host>,
    any_tld: HashMap<String, Host>,
    named: HashMap<String, &'static KnownSource>,
}

/// Why the list cannot be used; the unit tests check that the shipped list has none.
#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error("not a valid list: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("source {0:?}: medium {1:?} is not one of {MEDIUMS:?}")]
    Medium(String, String),
    #[error("host rule {0:?} is listed twice")]
    Duplicate(String),
    #[error("{0:?} names two sources (names and tags are compared without case)")]
    DuplicateName(String),
    #[error("host rule {0:?} is not a lower-case host name without www.")]
    Host(String),
}

impl Rules {
    fn parse(text: &str) -> Result<Rules, ListError> {
        let list: List = toml::from_str(text)?;
        let mut rules = Rules { exact: HashMap::new(), any_tld: HashMap::new(), named: HashMap::new() };
        for listed in list.source {
            if !MEDIUMS.contains(&listed.source.medium.as_str()) {
                return Err(ListError::Medium(listed.source.name, listed.source.medium));
            }
            // Leaked once per process: the rules live as long as the gateway.
            let source: &'static KnownSource = Box::leak(Box::new(listed.source));
            for name in std::iter::once(&source.name).chain(&listed.tags) {
                if rules.named.insert(name.to_lowercase(), source).is_some() {
                    return Err(ListError::DuplicateName(name.clone()));
                }
            }
            for rule in listed.hosts {
                let (host, path) = match rule.split_once('/') {
                    Some((host, path)) => (host, Some(format!("/{path}"))),
                    None => (rule.as_str(), None),
                };
                let valid = !host.starts_with("www.")
                    && host.contains('.')
                    && host.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '*'));
                let (table, key) = match host.strip_suffix(".*") {
                    Some(name) if valid && !name.contains('*') => (&mut rules.any_tld, name),
                    None if valid && !host.contains('*') => (&mut rules.exact, host),
                    _ => return Err(ListError::Host(rule)),
                };
                let entry = table.entry(key.to_string()).or_default();
                let taken = match path {
                    Some(prefix) if entry.by_path.iter().any(|(p, _)| *p == prefix) => true,
                    Some(prefix) => {
                        entry.by_path.push((prefix, source));
                        false
                    }
                    None => entry.bare.replace(source).is_some(),
                };
                if taken {
                    return Err(ListError::Duplicate(rule));
                }
            }
        }
        for host in rules.exact.values_mut().chain(rules.any_tld.values_mut()) {
            host.by_path.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        }
        Ok(rules)
    }

    /// The rule for exactly `host` (no parent domains): the host itself, else a `name.*`
    /// rule whose name is `host` less its top-level domain (and a common second level).
    fn at(&self, host: &str) -> Option<&Host> {
        if let Some(found) = self.exact.get(host) {
            return Some(found);
        }
        let (rest, tld) = host.rsplit_once('.')?;
        if let Some(found) = self.any_tld.get(rest) {
            return Some(found);
        }
        // A second level only under a country's two-letter domain (google.co.uk).
        let (name, second) = rest.rsplit_once('.')?;
        if tld.len() == 2 && SECOND_LEVELS.contains(&second) {
            self.any_tld.get(name)
        } else {
            None
        }
    }
}

static RULES: LazyLock<Rules> =
    LazyLock::new(|| Rules::parse(include_str!("../../data/referrers.toml")).expect("the shipped referrer list is valid (unit-tested)"));

fn without_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// The known source of `referrer`: the rule of its host (without `www.`), else of each
/// parent domain in turn (`lite.duckduckgo.com` → `duckduckgo.com`), so the most specific
/// listed host wins; on that host, a listed path prefix wins over the host's own source.
pub fn known_source(referrer: &Url) -> Option<&'static KnownSource> {
    if !matches!(referrer.scheme(), "http" | "https") {
        return None;
    }
    let host = referrer.host_str()?.to_ascii_lowercase();
    let path = referrer.path();
    let mut candidate = without_www(&host);
    loop {
        if let Some(found) = RULES.at(candidate).and_then(|h| h.source(path)) {
            return Some(found);
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return None,
        }
    }
}

/// The known source a stored source value stands for: a source's name or tag in any
/// case (`google`, `YouTube`, `fb`, what a UTM source usually says), else a host the
/// list knows (`walmart.com`).
pub fn named_source(value: &str) -> Option<&'static KnownSource> {
    let value = value.trim().to_lowercase();
    if let Some(found) = RULES.named.get(&value) {
        return Some(found);
    }
    let looks_like_host = value.contains('.') && !value.contains(['/', ' ', ':', '@', '?', '#']);
    looks_like_host.then(|| Url::parse(&format!("https://{value}/")).ok()).flatten().and_then(|url| known_source(&url))
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
    fn the_shipped_list_is_valid() {
        let rules = Rules::parse(include_str!("../../data/referrers.toml")).unwrap();
        assert!(rules.exact.len() + rules.any_tld.len() > 100, "the list covers the common sources");
    }

    #[test]
    fn bad_lists_are_refused_with_the_rule() {
        let one = |medium: &str, hosts: &str| format!("[[source]]\nname = \"X\"\nmedium = \"{medium}\"\nhosts = [{hosts}]\n");
        assert!(matches!(Rules::parse(&one("search", "\"a.com\", \"a.com\"")), Err(ListError::Duplicate(h)) if h == "a.com"));
        assert!(matches!(Rules::parse(&one("search", "\"a.*/x\", \"a.*/x\"")), Err(ListError::Duplicate(_))));
        assert!(matches!(Rules::parse(&one("tv", "\"a.com\"")), Err(ListError::Medium(..))));
        let two = "[[source]]\nname = \"A\"\nmedium = \"search\"\nhosts = [\"a.com\"]\n\
                   [[source]]\nname = \"B\"\nmedium = \"social\"\ntags = [\"a\"]\nhosts = [\"b.com\"]\n";
        assert!(matches!(Rules::parse(two), Err(ListError::DuplicateName(n)) if n == "a"));
        for bad in ["\"www.a.com\"", "\"A.com\"", "\"com\"", "\"*.a.com\"", "\"a.*.com\""] {
            assert!(matches!(Rules::parse(&one("search", bad)), Err(ListError::Host(_))), "{bad}");
        }
    }

    #[test]
    fn search_engines_and_social_networks_are_named() {
        assert_eq!(name("https://www.google.com/search?q=tally"), Some("Google"));
        assert_eq!(name("https://google.com/"), Some("Google"));
        assert_eq!(name("https://www.google.co.uk/"), Some("Google"));
        assert_eq!(name("https://www.google.com.br/"), Some("Google"));
        assert_eq!(name("https://t.co/abc"), Some("Twitter"));
        assert_eq!(name("https://x.com/someone/status/1"), Some("Twitter"));
        assert_eq!(name("https://news.ycombinator.com/item?id=1"), Some("Hacker News"));
        assert_eq!(source("https://www.bing.com/search?q=x"), Some(("Bing", "search")));
        assert_eq!(source("https://l.facebook.com/l.php?u=x"), Some(("Facebook", "social")));
        assert_eq!(source("https://chatgpt.com/"), Some(("ChatGPT", "referral")));
    }

    #[test]
    fn subdomains_and_www_fall_back_to_the_listed_domain() {
        assert_eq!(name("https://www.duckduckgo.com/"), Some("DuckDuckGo"));
        assert_eq!(name("https://lite.duckduckgo.com/lite/"), Some("DuckDuckGo"));
        assert_eq!(name("https://cn.bing.com/search?q=x"), Some("Bing"));
        assert_eq!(name("https://so.com/s?q=x"), Some("360 Search"));
        assert_eq!(name("https://www.so.com/s?q=x"), Some("360 Search"));
        // Host names are case-insensitive.
        assert_eq!(name("https://WWW.Google.COM/"), Some("Google"));
    }

    #[test]
    fn the_most_specific_host_and_the_longest_path_win() {
        assert_eq!(source("https://mail.google.com/mail/u/0/"), Some(("Gmail", "email")));
        assert_eq!(source("https://news.google.de/stories"), Some(("Google News", "referral")));
        assert_eq!(source("https://mail.yandex.ru/"), Some(("Yandex Mail", "email")));
        assert_eq!(source("https://yandex.ru/search/?text=x"), Some(("Yandex", "search")));
        assert_eq!(source("https://mail.yahoo.com/d/folders/1"), Some(("Yahoo! Mail", "email")));
        assert_eq!(source("https://search.yahoo.com/search?p=x"), Some(("Yahoo!", "search")));
        // A path prefix on a shared host names a different source than the host itself.
        assert_eq!(source("https://www.google.de/imgres?imgurl=x"), Some(("Google Images", "search")));
        assert_eq!(source("https://google.de/imgres"), Some(("Google Images", "search")));
        assert_eq!(source("https://www.google.de/search?q=x"), Some(("Google", "search")));
        assert_eq!(source("https://www.orange.fr/webmail/inbox"), Some(("Orange Webmail", "email")));
        assert_eq!(name("https://www.orange.fr/"), None, "only orange.fr/webmail is listed");
    }

    #[test]
    fn names_tags_and_hosts_name_sources_without_regard_to_case() {
        let medium = |value: &str| named_source(value).map(|s| (s.name.as_str(), s.medium.as_str()));
        assert_eq!(medium("google"), Some(("Google", "search")));
        assert_eq!(medium(" GOOGLE "), Some(("Google", "search")));
        assert_eq!(medium("Google Images"), Some(("Google Images", "search")));
        assert_eq!(medium("fb"), Some(("Facebook", "social")));
        assert_eq!(medium("YT"), Some(("YouTube", "video")));
        assert_eq!(medium("walmart.com"), Some(("Walmart", "shopping")));
        assert_eq!(medium("www.amazon.de"), Some(("Amazon", "shopping")));
        assert_eq!(medium("mail.google.com"), Some(("Gmail", "email")));
        assert_eq!(medium("newsletter"), None);
        assert_eq!(medium("blog.example.org"), None);
        assert_eq!(medium("not a host.com"), None);
    }

    #[test]
    fn unknown_hosts_are_not_matched() {
        assert_eq!(name("https://blog.example.org/post"), None);
        assert_eq!(name("android-app://com.google.android.gm/"), None);
        // A bare public suffix is never a match, even if a listed domain ends in it.
        assert_eq!(name("https://somebody.co.uk/"), None);
        // `google.*` is a name under a top-level domain, not any host that starts with it.
        assert_eq!(name("https://google.evil.com/"), None);
        assert_eq!(name("https://google.co.evil/"), None);
        assert_eq!(name("https://notgoogle.com/"), None);
    }
}
