//! Parsing and validating the body of `POST /api/event`.
//!
//! The body is Plausible's, so its tracker script and server-side integrations work
//! unchanged: long keys (`name`, `url`, `domain`, `referrer`, `props`, `revenue`,
//! `interactive`, `engagement_time`) or the tracker's short ones (`n`, `u`, `d`, `r`,
//! `p`/`m`, `$`, `i`, `e`).
//! Fields are read one by one from a JSON value rather than through a derive so every
//! error names the field at fault. Every text field is checked here ([`text`]): a value
//! Postgres would refuse never reaches a batch.

use serde_json::{Map, Value};
use url::Url;

use super::text::{self, Controls};
use crate::error::ApiError;

/// Longest engagement one `engagement` event may report: a day, in milliseconds. The
/// tracker reports the time a page was in the foreground since its last report, so a
/// larger figure is a broken client, and a day still fits the stored `int`.
pub const MAX_ENGAGEMENT_MS: i64 = 86_400_000;
/// The name of the events that report time on a page rather than an action.
pub const ENGAGEMENT: &str = "engagement";
/// Plausible's limit: more custom properties than this are a client bug, not analytics.
pub const MAX_PROPS: usize = 30;
/// Property keys longer than this are rejected (Plausible uses the same bound).
pub const MAX_PROP_KEY_LEN: usize = 300;
/// Property values longer than this are rejected; long enough for a URL or a title.
pub const MAX_PROP_VALUE_LEN: usize = 2000;
/// Event names longer than this are rejected; names are a dimension, not free text.
pub const MAX_NAME_LEN: usize = 120;
/// URLs longer than this are rejected; browsers cap near 2 MB but no page path needs more.
pub const MAX_URL_LEN: usize = 4096;
/// Longest domain name DNS allows.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Most sites one event may report to: Plausible's roll-up use (a page counted for its
/// own site and an aggregate one) needs two or three.
pub const MAX_DOMAINS: usize = 10;

/// An event as the client described it, validated but not yet enriched: the fields
/// the Plausible body and the batch API share.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    pub name: String,
    pub url: Url,
    pub referrer: Option<Url>,
    pub props: Vec<(String, String)>,
    pub revenue: Option<Revenue>,
    /// `false` for events that must not end a bounce (Plausible's `interactive: false`).
    pub interactive: bool,
    /// Viewport width in CSS pixels (`w` from the tracker).
    pub screen_width: Option<i32>,
    /// The site routes by URL fragment (`#/settings`), so the fragment is part of the
    /// page path (`h` from the tracker, as in Plausible's hash mode).
    pub hash_mode: bool,
    /// Milliseconds the page was in the foreground (`e` from the tracker), for
    /// `engagement` events only: other events carry no engagement time.
    pub engagement_ms: Option<i32>,
    /// How far down the page the visitor scrolled, in percent (`sd` from the tracker),
    /// for `engagement` events only.
    pub scroll_depth: Option<i32>,
}

/// The body of `POST /api/event`: an event and the sites it reports to.
#[derive(Debug, Clone, PartialEq)]
pub struct PlausibleEvent {
    /// One or more site domains; Plausible lets one page report to several sites.
    pub domains: Vec<String>,
    pub event: IncomingEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Revenue {
    /// Millionths of the currency unit.
    pub micros: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// Parses a `POST /api/event` body.
pub fn parse_event(body: &[u8]) -> Result<PlausibleEvent, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request("body", format!("body is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::bad_request("body", "body must be a JSON object"));
    };
    let event = parse_fields(&obj)?;
    let domains = parse_domains(&required_str(&obj, &["domain", "d"])?)?;
    Ok(PlausibleEvent { domains, event })
}

/// Parses the shared event fields of one JSON object (long or short keys).
pub fn parse_fields(obj: &Map<String, Value>) -> Result<IncomingEvent, ApiError> {
    let name = required_str(obj, &["name", "n"])?;
    if name.is_empty() {
        return Err(ApiError::bad_request("name", format!("name must be 1 to {MAX_NAME_LEN} bytes")));
    }
    text::check(|| "name".into(), &name, MAX_NAME_LEN, Controls::Refused)?;
    let url = parse_url(&required_str(obj, &["url", "u"])?, "url")?;
    let referrer = match optional(obj, &["referrer", "r"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.len() > MAX_URL_LEN => {
            return Err(ApiError::bad_request("referrer", format!("referrer is longer than {MAX_URL_LEN} bytes")))
        }
        // A referrer we cannot parse is still a referrer the browser sent: keep it out of the
        // source breakdown rather than rejecting a valid pageview. (The URL parser
        // percent-encodes control characters; it never yields them.)
        Some(Value::String(s)) => Url::parse(s).ok(),
        Some(_) => return Err(ApiError::bad_request("referrer", "referrer must be a string")),
    };
    let props = match optional(obj, &["props", "p", "meta", "m"]) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_props(v)?,
    };
    let revenue = match optional(obj, &["revenue", "$"]) {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_revenue(v)?),
    };
    let interactive = match optional(obj, &["interactive", "i"]) {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("interactive", "interactive must be a boolean")),
    };
    let screen_width = match optional(obj, &["screen_width", "w"]) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(w) if (0..=100_000).contains(&w) => Some(w as i32),
            _ => return Err(ApiError::bad_request("screen_width", "screen_width must be an integer from 0 to 100000")),
        },
        Some(_) => return Err(ApiError::bad_request("screen_width", "screen_width must be an integer")),
    };
    let hash_mode = match optional(obj, &["hash_mode", "h"]) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(_) => return Err(ApiError::bad_request("hash_mode", "hash_mode must be a boolean")),
    };
    let engagement_ms = match optional(obj, &["engagement_time", "e"]) {
        _ if name != ENGAGEMENT => None,
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(ms) if (0..=MAX_ENGAGEMENT_MS).contains(&ms) => Some(ms as i32),
            _ => {
                return Err(ApiError::bad_request(
                    "engagement_time",
                    format!("engagement_time must be an integer from 0 to {MAX_ENGAGEMENT_MS} (milliseconds)"),
                ))
            }
        },
        Some(_) => return Err(ApiError::bad_request("engagement_time", "engagement_time must be an integer")),
    };
    let scroll_depth = match optional(obj, &["scroll_depth", "sd"]) {
        _ if name != ENGAGEMENT => None,
        None | Some(Value::Null) => None,
        // A page that grew after the tracker measured it can report more than 100 %;
        // Plausible keeps such a visit at 100.
        Some(Value::Number(n)) => match n.as_i64() {
            Some(sd) if sd >= 0 => Some(sd.min(100) as i32),
            _ => return Err(ApiError::bad_request("scroll_depth", "scroll_depth must be an integer from 0 to 100 (percent)")),
        },
        Some(_) => return Err(ApiError::bad_request("scroll_depth", "scroll_depth must be an integer")),
    };
    Ok(IncomingEvent { name, url, referrer, props, revenue, interactive, screen_width, hash_mode, engagement_ms, scroll_depth })
}

pub(crate) fn optional<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| obj.get(*k))
}

pub(crate) fn required_str(obj: &Map<String, Value>, keys: &[&str]) -> Result<String, ApiError> {
    let field = keys[0];
    match optional(obj, keys) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ApiError::bad_request(field, format!("{field} is required"))),
        Some(_) => Err(ApiError::bad_request(field, format!("{field} must be a string"))),
    }
}

/// A URL's text is stored only as the parser serialises it, which percent-encodes
/// control characters, so the raw string needs only its length checked.
fn parse_url(raw: &str, field: &str) -> Result<Url, ApiError> {
    if raw.len() > MAX_URL_LEN {
        return Err(ApiError::bad_request(field, format!("{field} is longer than {MAX_URL_LEN} bytes")));
    }
    let url = Url::parse(raw).map_err(|e| ApiError::bad_request(field, format!("{field} is not a valid absolute URL: {e}")))?;
    if url.host_str().is_none() && url.scheme() != "app" {
        return Err(ApiError::bad_request(field, format!("{field} has no host")));
    }
    Ok(url)
}

fn parse_domains(raw: &str) -> Result<Vec<String>, ApiError> {
    let domains: Vec<String> = raw.split(',').map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()).collect();
    if domains.is_empty() {
        return Err(ApiError::bad_request("domain", "domain must name at least one site"));
    }
    if domains.len() > MAX_DOMAINS {
        return Err(ApiError::bad_request("domain", format!("domain names more than {MAX_DOMAINS} sites")));
    }
    for domain in &domains {
        text::check(|| "domain".into(), domain, MAX_DOMAIN_LEN, Controls::Refused)?;
    }
    Ok(domains)
}

fn parse_props(value: &Value) -> Result<Vec<(String, String)>, ApiError> {
    // Older trackers send props as a JSON-encoded string.
    let decoded;
    let value = match value {
        Value::String(s) => {
            decoded = serde_json::from_str::<Value>(s).map_err(|_| ApiError::bad_request("props", "props must be a JSON object"))?;
            &decoded
        }
        v => v,
    };
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("props", "props must be a JSON object"));
    };
    if map.len() > MAX_PROPS {
        return Err(ApiError::bad_request("props", format!("props has more than {MAX_PROPS} keys")));
    }
    let mut props = Vec::with_capacity(map.len());
    for (key, v) in map {
        // Built only for an error: this loop runs for every property of every event.
        let field = || format!("props.{key}");
        if key.is_empty() {
            return Err(ApiError::bad_request(field(), format!("property keys must be 1 to {MAX_PROP_KEY_LEN} bytes")));
        }
        text::check(field, key, MAX_PROP_KEY_LEN, Controls::Refused)?;
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            // Plausible drops null properties; an absent value is no value.
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(ApiError::bad_request(field(), "property values must be strings, numbers or booleans"))
            }
        };
        text::check(field, &value, MAX_PROP_VALUE_LEN, Controls::Whitespace)?;
        props.push((key.clone(), value));
    }
    Ok(props)
}

fn parse_revenue(value: &Value) -> Result<Revenue, ApiError> {
    let Value::Object(obj) = value else {
        return Err(ApiError::bad_request("revenue", "revenue must be an object with amount and currency"));
    };
    let amount = match obj.get("amount") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        _ => return Err(ApiError::bad_request("revenue.amount", "revenue.amount must be a number")),
    };
    let micros = decimal_to_micros(&amount).ok_or_else(|| {
        ApiError::bad_request("revenue.amount", "revenue.amount must be a decimal number with at most 6 fractional digits")
    })?;
    let currency = match obj.get("currency") {
        Some(Value::String(s)) if s.len() == 3 && s.chars().all(|c| c.is_ascii_alphabetic()) => s.to_ascii_uppercase(),
        _ => return Err(ApiError::bad_request("revenue.currency", "revenue.currency must be a 3-letter ISO 4217 code")),
    };
    Ok(Revenue { micros, currency })
}

/// Converts a decimal string to millionths exactly (no float rounding of money).
fn decimal_to_micros(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty()
        || frac_part.len() > 6
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = int_part.parse().ok()?;
    let frac: i64 = if frac_part.is_empty() { 0 } else { format!("{frac_part:0<6}").parse().ok()? };
    let micros = whole.checked_mul(1_000_000)?.checked_add(frac)?;
    Some(if neg { -micros } else { micros })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> String {
        match parse_event(body.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn accepts_plausible_long_and_short_keys() {
        let long = parse_event(br#"{"name":"pageview","url":"https://a.com/x?y=1","domain":"a.com","referrer":"https://g.com/"}"#).unwrap();
        let short = parse_event(br#"{"n":"pageview","u":"https://a.com/x?y=1","d":"a.com","r":"https://g.com/"}"#).unwrap();
        assert_eq!(long, short);
        assert_eq!(long.domains, vec!["a.com"]);
        assert_eq!(long.event.referrer.unwrap().host_str(), Some("g.com"));
    }

    #[test]
    fn props_accept_scalars_and_json_strings() {
        let e = parse_event(
            br#"{"n":"Signup","u":"https://a.com/","d":"a.com","p":"{\"plan\":\"pro\",\"seats\":3,\"trial\":true,\"gone\":null}"}"#,
        )
        .unwrap();
        assert_eq!(e.event.props, vec![("plan".into(), "pro".into()), ("seats".into(), "3".into()), ("trial".into(), "true".into())]);
    }

    #[test]
    fn revenue_is_exact_micros() {
        let e = parse_event(br#"{"n":"Purchase","u":"https://a.com/","d":"a.com","revenue":{"amount":"19.99","currency":"eur"}}"#).unwrap();
        assert_eq!(e.event.revenue, Some(Revenue { micros: 19_990_000, currency: "EUR".into() }));
        assert_eq!(decimal_to_micros("-0.000001"), Some(-1));
        assert_eq!(decimal_to_micros("1e3"), None);
        assert_eq!(decimal_to_micros("99999999999999999"), None);
    }

    #[test]
    fn engagement_time_belongs_to_engagement_events_only() {
        let engaged = parse_event(br#"{"n":"engagement","u":"https://a.com/","d":"a.com","e":4200,"sd":80}"#).unwrap();
        assert_eq!(engaged.event.engagement_ms, Some(4200));
        let long = parse_event(br#"{"name":"engagement","url":"https://a.com/","domain":"a.com","engagement_time":7}"#).unwrap();
        assert_eq!(long.event.engagement_ms, Some(7));
        let pageview = parse_event(br#"{"n":"pageview","u":"https://a.com/","d":"a.com","e":4200,"sd":10}"#).unwrap();
        assert_eq!((pageview.event.engagement_ms, pageview.event.scroll_depth), (None, None));
    }

    #[test]
    fn scroll_depth_is_a_percentage_of_engagement_events() {
        let depth = |body: &str| parse_event(body.as_bytes()).unwrap().event.scroll_depth;
        assert_eq!(depth(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","e":1,"sd":80}"#), Some(80));
        assert_eq!(depth(r#"{"name":"engagement","url":"https://a.com/","domain":"a.com","scroll_depth":0}"#), Some(0));
        assert_eq!(depth(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","sd":140}"#), Some(100));
        assert_eq!(field_of(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","sd":-1}"#), "scroll_depth");
        assert_eq!(field_of(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","sd":"50"}"#), "scroll_depth");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of("{"), "body");
        assert_eq!(field_of("[]"), "body");
        assert_eq!(field_of(r#"{"url":"https://a.com/","domain":"a.com"}"#), "name");
        assert_eq!(field_of(r#"{"name":"x","domain":"a.com"}"#), "url");
        assert_eq!(field_of(r#"{"name":"x","url":"not a url","domain":"a.com"}"#), "url");
        assert_eq!(field_of(r#"{"name":"x","url":"https://a.com/","domain":" , "}"#), "domain");
        assert_eq!(field_of(r#"{"name":5,"url":"https://a.com/","domain":"a.com"}"#), "name");
        assert_eq!(field_of(r#"{"name":"x","url":"https://a.com/","domain":"a.com","props":{"k":[1]}}"#), "props.k");
        assert_eq!(field_of(r#"{"name":"x","url":"https://a.com/","domain":"a.com","revenue":{"amount":1}}"#), "revenue.currency");
        assert_eq!(field_of(r#"{"name":"x","url":"https://a.com/","domain":"a.com","interactive":"yes"}"#), "interactive");
        assert_eq!(field_of(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","e":-1}"#), "engagement_time");
        assert_eq!(field_of(r#"{"n":"engagement","u":"https://a.com/","d":"a.com","e":"long"}"#), "engagement_time");
    }
}
