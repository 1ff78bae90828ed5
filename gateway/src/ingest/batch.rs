//! Parsing the body of `POST /api/v1/events`: many events from a server or an app, as
//! a JSON array or as NDJSON (one object per line).
//!
//! Each event has the fields of [`IncomingEvent`] and optionally:
//! - `id`: the client's id for the event; an id is stored once per site, so a retried
//!   request does not double count;
//! - `timestamp`: when it happened, RFC 3339 or integer milliseconds since the epoch,
//!   for backfill (at most [`MAX_FUTURE_US`] ahead of the gateway's clock);
//! - `user_agent` and `ip`: the end user's, when a server forwards events for its
//!   visitors (used for the UA fields, bot filtering, the visitor id and location; the
//!   IP is never stored).
//!
//! Errors name the event and field, e.g. `events[3].timestamp`.

use std::net::IpAddr;

use chrono::DateTime;
use serde_json::{Map, Value};

use super::payload::{optional, parse_fields, IncomingEvent};
use crate::error::ApiError;

/// Most events in one request: enough to amortise HTTP overhead, small enough that one
/// request cannot take a large share of the ingest queue.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Longest client event id; ids are keys, not payload.
pub const MAX_ID_LEN: usize = 128;
/// How far ahead of the gateway's clock a timestamp may be: client clocks drift, but an
/// event from next week is a bug and would pollute "today".
pub const MAX_FUTURE_US: i64 = 5 * 60 * 1_000_000;
/// Earliest accepted timestamp (2000-01-01T00:00:00Z): older is a unit mistake
/// (seconds sent as milliseconds), not history.
pub const MIN_TS_US: i64 = 946_684_800_000_000;

/// One event of a batch request.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEvent {
    pub event: IncomingEvent,
    pub id: Option<String>,
    /// µs since the epoch; `None` means "when it arrived".
    pub ts: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<IpAddr>,
}

/// Parses a batch body. `now_us` bounds timestamps from above.
pub fn parse_batch(body: &[u8], now_us: i64) -> Result<Vec<BatchEvent>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("body", "body is not UTF-8"))?;
    let trimmed = text.trim_start();
    let objects: Vec<Value> = if trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return Err(ApiError::bad_request("body", "body must be a JSON array of events or NDJSON")),
            Err(e) => return Err(ApiError::bad_request("body", format!("body is not valid JSON: {e}"))),
        }
    } else {
        trimmed
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map_err(|e| ApiError::bad_request(format!("events[{i}]"), format!("NDJSON line {} is not valid JSON: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    if objects.is_empty() {
        return Err(ApiError::bad_request("body", "the batch holds no events"));
    }
    if objects.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::PayloadTooLarge);
    }
    objects
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let Value::Object(obj) = value else {
                return Err(ApiError::bad_request(format!("events[{i}]"), "each event must be a JSON object"));
            };
            parse_one(obj, now_us).map_err(|e| match e {
                ApiError::BadRequest { field, message } => ApiError::BadRequest { field: format!("events[{i}].{field}"), message },
                other => other,
            })
        })
        .collect()
}

fn parse_one(obj: &Map<String, Value>, now_us: i64) -> Result<BatchEvent, ApiError> {
    let event = parse_fields(obj)?;
    let id = match optional(obj, &["id"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("id", format!("id must be a string of 1 to {MAX_ID_LEN} bytes"))),
    };
    let ts = match optional(obj, &["timestamp"]) {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_timestamp(v, now_us)?),
    };
    let user_agent = match optional(obj, &["user_agent"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("user_agent", "user_agent must be a string")),
    };
    let ip = match optional(obj, &["ip"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse().map_err(|_| ApiError::bad_request("ip", "ip must be an IPv4 or IPv6 address"))?),
        Some(_) => return Err(ApiError::bad_request("ip", "ip must be a string")),
    };
    Ok(BatchEvent { event, id, ts, user_agent, ip })
}

fn parse_timestamp(value: &Value, now_us: i64) -> Result<i64, ApiError> {
    let us = match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|_| ApiError::bad_request("timestamp", "timestamp must be RFC 3339, e.g. 2024-05-01T12:00:00Z"))?
            .timestamp_micros(),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| ms.checked_mul(1000))
            .ok_or_else(|| ApiError::bad_request("timestamp", "timestamp must be integer milliseconds since the epoch"))?,
        _ => return Err(ApiError::bad_request("timestamp", "timestamp must be an RFC 3339 string or milliseconds since the epoch")),
    };
    if us > now_us + MAX_FUTURE_US {
        return Err(ApiError::bad_request("timestamp", "timestamp is in the future"));
    }
    if us < MIN_TS_US {
        return Err(ApiError::bad_request("timestamp", "timestamp is before 2000-01-01"));
    }
    Ok(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000_000;

    fn field_of(body: &str) -> String {
        match parse_batch(body.as_bytes(), NOW) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn arrays_and_ndjson_parse_alike() {
        let array = r#"[{"name":"signup","url":"app://shop/cart","id":"e1","timestamp":"2025-06-01T10:00:00Z"},
                        {"name":"pageview","url":"https://a.com/x","timestamp":1748772000000,"ip":"203.0.113.7","user_agent":"curl"}]"#;
        let ndjson = "{\"name\":\"signup\",\"url\":\"app://shop/cart\",\"id\":\"e1\",\"timestamp\":\"2025-06-01T10:00:00Z\"}\n\n\
                      {\"name\":\"pageview\",\"url\":\"https://a.com/x\",\"timestamp\":1748772000000,\"ip\":\"203.0.113.7\",\"user_agent\":\"curl\"}\n";
        let a = parse_batch(array.as_bytes(), NOW).unwrap();
        assert_eq!(a, parse_batch(ndjson.as_bytes(), NOW).unwrap());
        assert_eq!(a[0].id.as_deref(), Some("e1"));
        assert_eq!(a[0].ts, Some(1_748_772_000_000_000));
        assert_eq!(a[1].ts, a[0].ts);
        assert_eq!(a[1].ip, Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_event_and_field() {
        assert_eq!(field_of("[]"), "body");
        assert_eq!(field_of("[1"), "body");
        assert_eq!(field_of("{\"name\":\"a\",\"url\":\"https://a.com/\"}\n{oops"), "events[1]");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/"}, 7]"#), "events[1]");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/"}, {"url":"https://a.com/"}]"#), "events[1].name");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/","timestamp":"2999-01-01T00:00:00Z"}]"#), "events[0].timestamp");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/","timestamp":1700000000}]"#), "events[0].timestamp");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/","id":""}]"#), "events[0].id");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/","ip":"999.1.1.1"}]"#), "events[0].ip");
        assert_eq!(field_of(r#"[{"name":"a","url":"https://a.com/","props":{"k":[]}}]"#), "events[0].props.k");
    }

    #[test]
    fn too_many_events_is_too_large() {
        let body = format!("[{}]", vec![r#"{"name":"a","url":"https://a.com/"}"#; MAX_BATCH_EVENTS + 1].join(","));
        assert!(matches!(parse_batch(body.as_bytes(), NOW), Err(ApiError::PayloadTooLarge)));
    }
}
