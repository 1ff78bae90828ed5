//! User agent → browser, OS and device class, with the `woothee` parser (a maintained,
//! dependency-free rule set shared with several languages' implementations). Crawlers
//! are recognised here so the pipeline can drop them: woothee's crawler class, plus the
//! `isbot` crate's pattern list (a port of the widely used `isbot` npm list), which also
//! knows monitoring tools, HTTP libraries, headless browsers and link previewers.

use std::sync::LazyLock;

/// The bot patterns compile into one regular expression; build it once.
static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

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

pub fn client_fields(user_agent: &str) -> ClientFields {
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
}
