//! User agent → browser, OS and device class, with uap-core's rules (the maintained data
//! of the ua-parser projects, vendored in `gateway/data/uap-core/`) matched by the
//! `ua-parser` crate. Crawlers are recognised here so the pipeline can drop them:
//! uap-core's `Spider` devices, plus the `isbot` crate's pattern list (a port of the
//! widely used `isbot` npm list), which also knows monitoring tools, HTTP libraries,
//! headless browsers and link previewers.

use std::sync::{Arc, LazyLock};

use quick_cache::sync::Cache;

/// The bot patterns compile into one regular expression; build it once.
static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

/// User agent strings whose parse is remembered. Parsing (uap-core's rules, then the bot
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
    let (browser, os, device) = UAP.extract(user_agent);
    let os_name = os.as_ref().map(|o| os_name(&o.os));
    let device_class = device_class(os_name, device.as_ref().map(|d| d.device.as_ref()), user_agent);
    ClientFields {
        browser: browser.as_ref().filter(|b| b.family != "Other").map(|b| browser_name(&b.family).to_string()),
        browser_version: browser.as_ref().and_then(|b| version(b.major, b.minor)),
        os: os_name.filter(|name| *name != "Other").map(str::to_string),
        os_version: os.as_ref().and_then(|o| version(o.major.as_deref(), o.minor.as_deref())),
        device: device_class.filter(|class| *class != SPIDER).map(str::to_string),
        is_bot: device_class == Some(SPIDER) || BOTS.is_bot(user_agent),
    }
}

/// uap-core's rules, compiled once: about 1,200 regular expressions, prefiltered by their
/// literal parts so a user agent is tried against a few of them.
static UAP: LazyLock<ua_parser::Extractor<'static>> = LazyLock::new(|| {
    let regexes: ua_parser::Regexes<'static> =
        serde_json::from_str(include_str!("../../data/uap-core/regexes.json")).expect("the vendored uap-core rules are valid JSON");
    ua_parser::Extractor::try_from(regexes).expect("the vendored uap-core rules compile")
});

/// Compiles the rules now rather than on the first event's request.
pub fn warm() {
    LazyLock::force(&UAP);
}

/// uap-core's device family of crawlers.
const SPIDER: &str = "Spider";

/// `major.minor`, or `major` alone when the minor version is missing or zero
/// (`Chrome 120.0.0.0` is 120, `Safari 17.5` is 17.5).
fn version(major: Option<&str>, minor: Option<&str>) -> Option<String> {
    let major = major.filter(|m| !m.is_empty())?;
    Some(match minor.filter(|m| !m.is_empty() && m.bytes().any(|b| b != b'0')) {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_string(),
    })
}

/// uap-core's browser families under the names Plausible's reports use (and the demo
/// data's), so a browser and its mobile build count as one.
fn browser_name(family: &str) -> &str {
    match family {
        "Chrome Mobile" | "Chrome Mobile iOS" | "Chrome Mobile WebView" | "Chromium" => "Chrome",
        "Mobile Safari" | "Mobile Safari UI/WKWebView" => "Safari",
        "Firefox Mobile" | "Firefox iOS" => "Firefox",
        "Edge" | "Edge Mobile" => "Microsoft Edge",
        "Opera Mobile" | "Opera Mini" => "Opera",
        "DuckDuckGo Mobile" => "DuckDuckGo Privacy Browser",
        other => other,
    }
}

/// uap-core's OS families under Plausible's names.
fn os_name(family: &str) -> &str {
    match family {
        "Mac OS X" | "macOS" => "Mac",
        "Linux" | "Ubuntu" | "Debian" | "Fedora" | "Arch Linux" | "Linux Mint" | "openSUSE" | "Red Hat" | "Gentoo" => "GNU/Linux",
        other => other,
    }
}

/// `desktop`, `mobile`, `tablet` or `appliance` from the OS and uap-core's device family
/// (or [`SPIDER`]); None when nothing says. Android tablets carry no `Mobile` token, the
/// convention Google asks browsers to follow. The event's screen width, where the tracker
/// sends one, decides instead ([`super::enrich`]).
fn device_class(os: Option<&str>, device: Option<&str>, user_agent: &str) -> Option<&'static str> {
    match device {
        Some(SPIDER) => return Some(SPIDER),
        Some(d) if d == "iPad" || d.contains("Tablet") || d.starts_with("Kindle") => return Some("tablet"),
        Some(d) if d.starts_with("PlayStation") || d.starts_with("Xbox") || d.starts_with("Nintendo") || d.contains("TV") => {
            return Some("appliance")
        }
        _ => {}
    }
    match os? {
        "iOS" => Some("mobile"),
        "Android" if user_agent.contains("Mobile") => Some("mobile"),
        "Android" => Some("tablet"),
        "Windows Phone" | "BlackBerry OS" | "KaiOS" | "Firefox OS" | "Symbian OS" => Some("mobile"),
        "Windows" | "Mac" | "GNU/Linux" | "Chrome OS" | "FreeBSD" | "OpenBSD" | "NetBSD" => Some("desktop"),
        "Tizen" | "webOS" | "Roku" => Some("appliance"),
        _ => None,
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
        assert_eq!(f.browser_version.as_deref(), Some("120"));
        assert_eq!(f.os.as_deref(), Some("Windows"));
        assert_eq!(f.os_version.as_deref(), Some("10"));
        assert_eq!(f.device.as_deref(), Some("desktop"));
        assert!(!f.is_bot);
        let mac = client_fields(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        );
        assert_eq!((mac.browser.as_deref(), mac.browser_version.as_deref()), (Some("Safari"), Some("17.5")));
        assert_eq!((mac.os.as_deref(), mac.os_version.as_deref()), (Some("Mac"), Some("14.6")));
        let edge = client_fields(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        );
        assert_eq!(edge.browser.as_deref(), Some("Microsoft Edge"));
        let linux = client_fields("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0");
        assert_eq!(
            (linux.browser.as_deref(), linux.os.as_deref(), linux.device.as_deref()),
            (Some("Firefox"), Some("GNU/Linux"), Some("desktop"))
        );
    }

    #[test]
    fn tells_tablets_from_phones() {
        let ipad = client_fields("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1");
        assert_eq!((ipad.os.as_deref(), ipad.device.as_deref()), (Some("iOS"), Some("tablet")));
        let android_tablet =
            client_fields("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        assert_eq!((android_tablet.os.as_deref(), android_tablet.device.as_deref()), (Some("Android"), Some("tablet")));
        let android_phone = client_fields(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        );
        assert_eq!((android_phone.browser.as_deref(), android_phone.device.as_deref()), (Some("Chrome"), Some("mobile")));
        let samsung = client_fields("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36");
        assert_eq!(samsung.browser.as_deref(), Some("Samsung Internet"));
    }

    #[test]
    fn recognises_mobiles_and_crawlers() {
        let phone = client_fields("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(phone.device.as_deref(), Some("mobile"));
        assert!(client_fields("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").is_bot);
        // Not crawlers to uap-core, but bots all the same.
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
