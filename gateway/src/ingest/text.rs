//! Text from clients, checked before anything stores it.
//!
//! Postgres refuses NUL in `text` and `jsonb` (SQLSTATE 22021, 22P05), and one refused
//! row fails the statement that carries it: a NUL that passed the parser would fail a
//! group-committed batch holding other clients' events. Other control characters are
//! stored fine but make dimension values that print alike and differ (event names,
//! property keys, ids) and garble terminals and CSV exports, so fields that name things
//! refuse every control character and free-text values refuse all but tab, line feed
//! and carriage return. Each refusal is a 400 naming the field.
//!
//! Invalid UTF-8 never reaches these checks: serde_json refuses it (and lone surrogate
//! escapes such as `"\ud800"`) when it parses the body. Values the gateway derives from
//! a URL are normalised instead of refused, because a tracker reports whatever address
//! the browser shows: percent-decoding is lossy (bytes that are not UTF-8 become
//! U+FFFD) and [`strip_controls`] removes the control characters it produced
//! (`?utm_source=%00` is no UTM source).

use std::borrow::Cow;

use crate::error::ApiError;

/// Which control characters a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controls {
    /// None: the value names something (an event, a property, an id, a site).
    Refused,
    /// Tab, line feed and carriage return: free text such as a property value.
    Whitespace,
}

/// Checks that `value` is at most `max_len` bytes and holds no control character
/// `controls` refuses; `field` names it in the error (built only on failure, as this
/// runs for every property of every event).
pub fn check(field: impl FnOnce() -> String, value: &str, max_len: usize, controls: Controls) -> Result<(), ApiError> {
    if value.len() > max_len {
        let field = field();
        return Err(ApiError::bad_request(field.clone(), format!("{field} is longer than {max_len} bytes")));
    }
    let refused = |c: char| c.is_control() && (controls == Controls::Refused || !matches!(c, '\t' | '\n' | '\r'));
    if let Some(c) = value.chars().find(|&c| refused(c)) {
        let field = field();
        let what = if c == '\0' { "NUL".to_string() } else { format!("control character U+{:04X}", c as u32) };
        return Err(ApiError::bad_request(field.clone(), format!("{field} holds a {what}")));
    }
    Ok(())
}

/// `value` without its control characters (a URL-derived value, see the module comment).
pub fn strip_controls(value: &str) -> Cow<'_, str> {
    if value.chars().any(char::is_control) {
        Cow::Owned(value.chars().filter(|c| !c.is_control()).collect())
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(value: &str, controls: Controls) -> Option<String> {
        match check(|| "f".into(), value, 8, controls) {
            Ok(()) => None,
            Err(ApiError::BadRequest { field, message }) => {
                assert_eq!(field, "f");
                Some(message)
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn nul_and_controls_are_refused_by_field_kind() {
        assert_eq!(refusal("a\0b", Controls::Whitespace).as_deref(), Some("f holds a NUL"));
        assert_eq!(refusal("a\u{1b}b", Controls::Whitespace).as_deref(), Some("f holds a control character U+001B"));
        assert_eq!(refusal("a\u{85}", Controls::Whitespace).as_deref(), Some("f holds a control character U+0085"));
        assert_eq!(refusal("a\tb\r\n", Controls::Whitespace), None);
        assert!(refusal("a\tb", Controls::Refused).is_some());
        assert_eq!(refusal("héllo", Controls::Refused), None);
        assert_eq!(refusal("123456789", Controls::Refused).as_deref(), Some("f is longer than 8 bytes"));
    }

    #[test]
    fn strip_controls_keeps_everything_else() {
        assert_eq!(strip_controls("news"), Cow::Borrowed("news"));
        assert_eq!(strip_controls("\0ne\u{7f}ws\n"), "news");
        assert_eq!(strip_controls("caf\u{fffd}"), "caf\u{fffd}");
    }
}
