//! Where a rule's notifications go: a webhook (an http(s) URL, signed with a secret)
//! or an email address. Checked when the rule is written, so delivery never meets a
//! channel it cannot even try.

use serde_json::{json, Value};

use crate::query::QueryError;

/// Shortest webhook secret: 128 bits of hex, enough that an HMAC cannot be forged.
pub const MIN_SECRET_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// POST the alert as JSON to `url`, signed `X-Tally-Signature: sha256=<HMAC of the
    /// body with secret>`.
    Webhook { url: String, secret: String },
    /// Send a plain-text email to `to`.
    Email { to: String },
}

impl Channel {
    /// Parses `value` (at JSON path `field`). A webhook without a secret gets one from
    /// `new_secret`, so every webhook is signed.
    pub fn parse(value: &Value, field: &str, new_secret: &mut dyn FnMut() -> String) -> Result<Channel, QueryError> {
        let object = value.as_object().ok_or_else(|| {
            QueryError::new(field, "a channel is {\"type\": \"webhook\", \"url\": ...} or {\"type\": \"email\", \"to\": ...}")
        })?;
        let text = |key: &str| -> Result<Option<&str>, QueryError> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(QueryError::new(format!("{field}.{key}"), format!("{key} is a string"))),
            }
        };
        let only = |keys: &[&str]| match object.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(QueryError::new(format!("{field}.{k}"), format!("unknown channel field {k:?}; known: {}", keys.join(", ")))),
            None => Ok(()),
        };
        match text("type")? {
            Some("webhook") => {
                only(&["type", "url", "secret"])?;
                let url = text("url")?.ok_or_else(|| QueryError::new(format!("{field}.url"), "a webhook needs a url"))?;
                check_url(url).map_err(|message| QueryError::new(format!("{field}.url"), message))?;
                let secret = match text("secret")? {
                    Some(s) if s.len() >= MIN_SECRET_LEN => s.to_owned(),
                    Some(_) => {
                        return Err(QueryError::new(
                            format!("{field}.secret"),
                            format!("a secret has at least {MIN_SECRET_LEN} characters"),
                        ))
                    }
                    None => new_secret(),
                };
                Ok(Channel::Webhook { url: url.to_owned(), secret })
            }
            Some("email") => {
                only(&["type", "to"])?;
                let to = text("to")?.ok_or_else(|| QueryError::new(format!("{field}.to"), "an email channel needs a to address"))?;
                if !email_address::EmailAddress::is_valid(to) || !to.contains('.') {
                    return Err(QueryError::new(format!("{field}.to"), format!("{to:?} is not an email address")));
                }
                Ok(Channel::Email { to: to.to_owned() })
            }
            Some(other) => Err(QueryError::new(format!("{field}.type"), format!("unknown channel type {other:?}; known: webhook, email"))),
            None => Err(QueryError::new(format!("{field}.type"), "a channel needs a type: webhook or email")),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Channel::Webhook { url, secret } => json!({"type": "webhook", "url": url, "secret": secret}),
            Channel::Email { to } => json!({"type": "email", "to": to}),
        }
    }

    /// The channel without its secret, for logs and listings.
    pub fn public_json(&self) -> Value {
        let mut value = self.to_json();
        if let Some(object) = value.as_object_mut() {
            object.remove("secret");
        }
        value
    }
}

/// An absolute http or https URL with a host.
fn check_url(raw: &str) -> Result<(), String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{raw:?} is not an http(s) URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    Ok(())
}

/// Most channels one rule may have: a team's chat, a pager and a few inboxes. Each
/// firing sends to every channel, so without a bound one rule fans out without limit.
pub const MAX_CHANNELS: usize = 10;

/// The channels of a rule at `field` (`channels`), parsed in order.
pub(crate) fn parse_list(value: Option<&Value>, new_secret: &mut dyn FnMut() -> String) -> Result<Vec<Channel>, QueryError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() > MAX_CHANNELS => {
            Err(QueryError::new("channels", format!("a rule has at most {MAX_CHANNELS} channels")))
        }
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, v)| Channel::parse(v, &format!("channels[{i}]"), new_secret)).collect()
        }
        Some(_) => Err(QueryError::new("channels", "channels is an array")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<Channel, QueryError> {
        Channel::parse(&v, "channels[0]", &mut || "generated-secret-0123456789".into())
    }

    #[test]
    fn webhooks_and_emails_are_checked() {
        assert_eq!(
            parse(json!({"type": "webhook", "url": "https://hooks.example/t"})).unwrap(),
            Channel::Webhook { url: "https://hooks.example/t".into(), secret: "generated-secret-0123456789".into() }
        );
        assert_eq!(parse(json!({"type": "email", "to": "ops@example.com"})).unwrap(), Channel::Email { to: "ops@example.com".into() });
        let field = |v| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"type": "webhook", "url": "ftp://x.example/"})), "channels[0].url");
        assert_eq!(field(json!({"type": "webhook", "url": "not a url"})), "channels[0].url");
        assert_eq!(field(json!({"type": "webhook", "url": "https://x.example", "secret": "short"})), "channels[0].secret");
        assert_eq!(field(json!({"type": "email", "to": "nobody"})), "channels[0].to");
        assert_eq!(field(json!({"type": "email", "to": "a@b"})), "channels[0].to");
        assert_eq!(field(json!({"type": "sms", "to": "+1"})), "channels[0].type");
        assert_eq!(field(json!({"type": "email", "to": "a@b.example", "cc": "x"})), "channels[0].cc");
        assert_eq!(field(json!("https://x.example")), "channels[0]");
        assert!(!parse(json!({"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef"}))
            .unwrap()
            .public_json()
            .to_string()
            .contains("0123456789abcdef"));
    }

    #[test]
    fn a_rule_has_at_most_max_channels() {
        let hook = json!({"type": "email", "to": "ops@example.com"});
        let list = |n| Value::Array(vec![hook.clone(); n]);
        assert_eq!(parse_list(Some(&list(MAX_CHANNELS)), &mut String::new).unwrap().len(), MAX_CHANNELS);
        assert_eq!(parse_list(Some(&list(MAX_CHANNELS + 1)), &mut String::new).unwrap_err().field, "channels");
    }
}
