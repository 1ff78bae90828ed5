//! User agent → browser, OS and device class, with the `woothee` parser (a maintained,
//! dependency-free rule set shared with several languages' implementations). Crawlers
//! are recognised here so the pipeline can drop them: woothee's crawler class, plus the
//! `isbot` crate's pattern list (a port of the widely used `isbot` npm list), which also
//! knows monitoring tools, HTTP libraries, headless browsers and link previewers.

use std::sync::{Arc, LazyLock};

use quick_cache::sync::Cache;

/// The bot patterns compile into one regular expression; build it once.
static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

/// User agent strings whose parse is remembered. Parsing (woothee's rules, then the bot
/// regex) costs more than the rest of an event's enrichment, and real traffic repeats a
/// few thousand distinct strings; the bound keeps a flood of random ones from growing
/// memory (at most [`CACHE_ENTRIES`] × [`MAX_CACHED_LEN`] bytes of keys, about 5 MB).
const CACHE_ENTRIES: usize = 10_000;
/// Longer user agents are parsed every time: real browsers' strings are shorter.
const MAX_CACHED_LEN: usize = 512;
static PARSED: LazyLock<Cache<String, Arc<ClientFields>>> = LazyLock::new(|| Cache::new(CACHE_ENTRIES));

/// What the user agent says about the client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientFields {
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub device: Option<String>,
    pub is_bot: bool,
}

/// What `user_agent` says, parsed once per distinct string while it stays in the cache.
pub fn client_fields(user_agent: &str) -> Arc<ClientFields> {
    if user_agent.len() > MAX_CACHED_LEN {
        return Arc::new(parse(user_agent));
    }
    if let Some(fields) = PARSED.get(user_agent) {
        return fields;
    }
    let fields = Arc::new(parse(user_agent));
    PARSED.insert(user_agent.to_string(), fields.clone());
    fields
}

fn parse(user_agent: &str) -> ClientFields {
    let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else {
        return ClientFields { is_bot: BOTS.is_bot(user_agent), ..ClientFields::default() };
    };
    let known = |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_string());
    let device = match ua.category {
        "pc" => Some("desktop".to_string()),
        "smartphone" | "mobilephone" => Some("mobile".to_string()),
        "appliance" => Some("appliance".to_string()),
        _ => None,
    };
    ClientFields {
        browser: known(ua.name),
        browser_version: known(ua.version),
        os: known(ua.os),
        os_version: known(&ua.os_version),
        device,
        is_bot: ua.category == "crawler" || BOTS.is_bot(user_agent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_desktop_browser() {
        let f = client_fields(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        );
        assert_eq!(f.browser.as_deref(), Some("Chrome"));
        assert_eq!(f.os.as_deref(), Some("Windows 10"));
        assert_eq!(f.device.as_deref(), Some("desktop"));
        assert!(!f.is_bot);
    }

    #[test]
    fn recognises_mobiles_and_crawlers() {
        let phone = client_fields("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(phone.device.as_deref(), Some("mobile"));
        assert!(client_fields("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").is_bot);
        // Not crawlers to woothee, but bots all the same.
        assert!(
            client_fields("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36")
                .is_bot
        );
        assert!(client_fields("python-requests/2.31.0").is_bot);
        assert!(client_fields("UptimeRobot/2.0").is_bot);
    }

    #[test]
    fn repeated_user_agents_are_parsed_once() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 repeated-test";
        let first = client_fields(ua);
        assert!(Arc::ptr_eq(&first, &client_fields(ua)), "the second answer comes from the cache");
        assert_eq!(*first, parse(ua));
        let long = format!("{ua} {}", "x".repeat(MAX_CACHED_LEN));
        assert!(!Arc::ptr_eq(&client_fields(&long), &client_fields(&long)), "long strings are not kept");
    }
}
