//! Parsing the body of `POST /api/v1/events`: many events from a server or an app, as
//! a JSON array or as NDJSON (one object per line).
//!
//! Each event has the fields of [`IncomingEvent`] and optionally:
//! - `id`: the client's id for the event; an id is stored once per site, so a retried
//!   request does not double count;
//! - `timestamp`: when it happened, RFC 3339 or integer milliseconds since the epoch,
//!   for backfill, inside the [`Horizon`]: at most `TALLY_MAX_EVENT_AGE_DAYS` old and
//!   [`MAX_FUTURE_US`] ahead of the gateway's clock;
//! - `user_agent` and `ip`: the end user's, when a server forwards events for its
//!   visitors (used for the UA fields, bot filtering, the visitor id and location; the
//!   IP is never stored).
//!
//! The body is judged as a whole (valid UTF-8, an array or NDJSON, 1 to
//! [`MAX_BATCH_EVENTS`] events), then each event on its own: a bad event is refused with
//! its index and the others are kept, so one malformed event of a server's batch does
//! not cost the batch. Errors name the event and field, e.g. `events[3].timestamp`.

use std::net::IpAddr;

use chrono::DateTime;
use serde_json::{Map, Value};

use super::payload::{optional, parse_fields, IncomingEvent};
use super::text::{self, Controls};
use crate::error::ApiError;

/// Most events in one request: enough to amortise HTTP overhead, small enough that one
/// request cannot take a large share of the ingest queue.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Longest client event id; ids are keys, not payload.
pub const MAX_ID_LEN: usize = 128;
/// Longest forwarded user agent: real ones stay under 500 bytes; the header of a
/// browser's own request is bounded by the HTTP server instead.
pub const MAX_USER_AGENT_LEN: usize = 1024;
/// How far ahead of the gateway's clock a timestamp may be: client clocks drift, but an
/// event from next week is a bug and would pollute "today".
pub const MAX_FUTURE_US: i64 = 5 * 60 * 1_000_000;

/// The timestamps a batch may carry, from the gateway's clock and
/// `TALLY_MAX_EVENT_AGE_DAYS`: every accepted event lands in an hour compaction
/// recomputes, so how far back a key holder may write is a setting, not unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    pub now_us: i64,
    pub max_age_days: u32,
}

impl Horizon {
    fn oldest_us(self) -> i64 {
        self.now_us - i64::from(self.max_age_days) * 86_400_000_000
    }
}

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

/// Each event of a batch in request order: parsed, or the 400 that refuses it (its
/// field prefixed with `events[i].`).
pub type Parsed = Vec<Result<BatchEvent, ApiError>>;

/// Parses a batch body; an `Err` refuses the whole request.
pub fn parse_batch(body: &[u8], horizon: Horizon) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("body", "body is not UTF-8"))?;
    let trimmed = text.trim_start();
    let objects: Vec<Result<Value, ApiError>> = if trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => items.into_iter().map(Ok).collect(),
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
            .collect()
    };
    if objects.is_empty() {
        return Err(ApiError::bad_request("body", "the batch holds no events"));
    }
    if objects.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(objects
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let Value::Object(obj) = value? else {
                return Err(ApiError::bad_request(format!("events[{i}]"), "each event must be a JSON object"));
            };
            parse_one(&obj, horizon).map_err(|e| match e {
                ApiError::BadRequest { field, message } => ApiError::BadRequest { field: format!("events[{i}].{field}"), message },
                other => other,
            })
        })
        .collect())
}

fn parse_one(obj: &Map<String, Value>, horizon: Horizon) -> Result<BatchEvent, ApiError> {
    let event = parse_fields(obj)?;
    let id = match optional(obj, &["id"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => {
            text::check(|| "id".into(), s, MAX_ID_LEN, Controls::Refused)?;
            Some(s.clone())
        }
        Some(_) => return Err(ApiError::bad_request("id", format!("id must be a string of 1 to {MAX_ID_LEN} bytes"))),
    };
    let ts = match optional(obj, &["timestamp"]) {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_timestamp(v, horizon)?),
    };
    let user_agent = match optional(obj, &["user_agent"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            text::check(|| "user_agent".into(), s, MAX_USER_AGENT_LEN, Controls::Refused)?;
            Some(s.clone())
        }
        Some(_) => return Err(ApiError::bad_request("user_agent", "user_agent must be a string")),
    };
    let ip = match optional(obj, &["ip"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse().map_err(|_| ApiError::bad_request("ip", "ip must be an IPv4 or IPv6 address"))?),
        Some(_) => return Err(ApiError::bad_request("ip", "ip must be a string")),
    };
    Ok(BatchEvent { event, id, ts, user_agent, ip })
}

fn parse_timestamp(value: &Value, horizon: Horizon) -> Result<i64, ApiError> {
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
    if us > horizon.now_us + MAX_FUTURE_US {
        return Err(ApiError::bad_request("timestamp", "timestamp is more than 5 minutes in the future"));
    }
    if us < horizon.oldest_us() {
        return Err(ApiError::bad_request(
            "timestamp",
            format!(
                "timestamp is more than {} days old (the gateway's TALLY_MAX_EVENT_AGE_DAYS); seconds sent as milliseconds look like 1970",
                horizon.max_age_days
            ),
        ));
    }
    Ok(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Horizon = Horizon { now_us: 1_750_000_000_000_000, max_age_days: 730 };

    /// The field of the error refusing the whole request.
    fn field_of(body: &str) -> String {
        match parse_batch(body.as_bytes(), NOW) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    /// The fields of the errors refusing single events.
    fn refused(body: &str) -> Vec<String> {
        let parsed = parse_batch(body.as_bytes(), NOW).unwrap();
        parsed
            .into_iter()
            .filter_map(|e| match e {
                Ok(_) => None,
                Err(ApiError::BadRequest { field, .. }) => Some(field),
                Err(other) => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn arrays_and_ndjson_parse_alike() {
        let array = r#"[{"name":"signup","url":"app://shop/cart","id":"e1","timestamp":"2025-06-01T10:00:00Z"},
                        {"name":"pageview","url":"https://a.com/x","timestamp":1748772000000,"ip":"203.0.113.7","user_agent":"curl"}]"#;
        let ndjson = "{\"name\":\"signup\",\"url\":\"app://shop/cart\",\"id\":\"e1\",\"timestamp\":\"2025-06-01T10:00:00Z\"}\n\n\
                      {\"name\":\"pageview\",\"url\":\"https://a.com/x\",\"timestamp\":1748772000000,\"ip\":\"203.0.113.7\",\"user_agent\":\"curl\"}\n";
        let a: Vec<BatchEvent> = parse_batch(array.as_bytes(), NOW).unwrap().into_iter().map(Result::unwrap).collect();
        let b: Vec<BatchEvent> = parse_batch(ndjson.as_bytes(), NOW).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(a, b);
        assert_eq!(a[0].id.as_deref(), Some("e1"));
        assert_eq!(a[0].ts, Some(1_748_772_000_000_000));
        assert_eq!(a[1].ts, a[0].ts);
        assert_eq!(a[1].ip, Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn a_bad_body_refuses_the_request() {
        assert_eq!(field_of("[]"), "body");
        assert_eq!(field_of("[1"), "body");
        assert!(matches!(parse_batch(b"[{\"name\":\"\xff\"}]", NOW), Err(ApiError::BadRequest { field, .. }) if field == "body"));
        assert_eq!(field_of(r#"[{"name":"\ud800","url":"https://a.com/"}]"#), "body", "a lone surrogate is not text");
    }

    #[test]
    fn a_bad_event_is_refused_alone_naming_its_index_and_field() {
        let ok = r#"{"name":"a","url":"https://a.com/"}"#;
        let cases = [
            ("{oops", "events[1]"),
            ("7", "events[1]"),
            (r#"{"url":"https://a.com/"}"#, "events[1].name"),
            (r#"{"name":"a","url":"https://a.com/","timestamp":"2999-01-01T00:00:00Z"}"#, "events[1].timestamp"),
            (r#"{"name":"a","url":"https://a.com/","timestamp":1700000000}"#, "events[1].timestamp"),
            (r#"{"name":"a","url":"https://a.com/","timestamp":"2000-01-01T00:00:00Z"}"#, "events[1].timestamp"),
            (r#"{"name":"a","url":"https://a.com/","id":""}"#, "events[1].id"),
            (r#"{"name":"a","url":"https://a.com/","id":"x\u0000"}"#, "events[1].id"),
            (r#"{"name":"a","url":"https://a.com/","ip":"999.1.1.1"}"#, "events[1].ip"),
            (r#"{"name":"a","url":"https://a.com/","user_agent":"UA\u0007"}"#, "events[1].user_agent"),
            (r#"{"name":"a","url":"https://a.com/","props":{"k":[]}}"#, "events[1].props.k"),
            (r#"{"name":"a\u0000","url":"https://a.com/"}"#, "events[1].name"),
            (r#"{"name":"a","url":"https://a.com/","props":{"k":"v\u0000"}}"#, "events[1].props.k"),
        ];
        for (bad, field) in cases {
            let ndjson = format!("{ok}\n{bad}\n{ok}");
            assert_eq!(refused(&ndjson), vec![field.to_string()], "{bad}");
            if bad != "{oops" {
                assert_eq!(refused(&format!("[{ok},{bad},{ok}]")), vec![field.to_string()], "{bad}");
            }
        }
        let old = r#"[{"name":"a","url":"https://a.com/","timestamp":"2000-01-01T00:00:00Z"}]"#;
        let long = Horizon { max_age_days: 10_000, ..NOW };
        assert!(parse_batch(old.as_bytes(), long).unwrap()[0].is_ok(), "the horizon is a setting");
    }

    #[test]
    fn too_many_events_is_too_large() {
        let body = format!("[{}]", vec![r#"{"name":"a","url":"https://a.com/"}"#; MAX_BATCH_EVENTS + 1].join(","));
        assert!(matches!(parse_batch(body.as_bytes(), NOW), Err(ApiError::PayloadTooLarge)));
    }
}
