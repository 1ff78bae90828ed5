//! Conversions between `tally_core::event::Event` and Postgres values: timestamps,
//! custom properties, and `tally.event_arrays` (a decoded segment as one array per
//! column, which SQL unnests into rows: one datum per column instead of one per field).

use pgrx::prelude::*;
use pgrx::JsonB;
use tally_core::event::Event;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

pub fn to_unix_us(ts: TimestampWithTimeZone) -> i64 {
    pg_sys::TimestampTz::from(ts) + PG_EPOCH_OFFSET_US
}

pub fn from_unix_us(us: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(us - PG_EPOCH_OFFSET_US).unwrap_or_else(|_| error!("timestamp {us} µs is out of range"))
}

/// Custom properties from their JSON object (the hot table's contract: string values;
/// a number or boolean written by hand in SQL is kept as its text).
pub fn props_from_json(json: serde_json::Value) -> Vec<(String, String)> {
    match json {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        other => error!("hot row has props that are not a JSON object: {other}"),
    }
}

/// `events` as a `tally.event_arrays` value.
pub fn events_to_arrays(events: &[Event]) -> PgHeapTuple<'static, AllocatedByRust> {
    let mut t = PgHeapTuple::new_composite_type("tally.event_arrays").unwrap_or_else(|e| error!("tally.event_arrays: {e}"));
    macro_rules! set {
        ($name:literal, $values:expr) => {
            t.set_by_name($name, $values).unwrap_or_else(|e| error!("tally.event_arrays.{}: {e}", $name))
        };
    }
    set!("site_id", events.iter().map(|e| e.site_id).collect::<Vec<_>>());
    set!("ts", events.iter().map(|e| from_unix_us(e.ts)).collect::<Vec<_>>());
    set!("name", events.iter().map(|e| e.name.clone()).collect::<Vec<_>>());
    set!("visitor_id", events.iter().map(|e| e.visitor_id).collect::<Vec<_>>());
    set!("session_id", events.iter().map(|e| e.session_id).collect::<Vec<_>>());
    set!("hostname", events.iter().map(|e| e.hostname.clone()).collect::<Vec<_>>());
    set!("pathname", events.iter().map(|e| e.pathname.clone()).collect::<Vec<_>>());
    set!("referrer", events.iter().map(|e| e.referrer.clone()).collect::<Vec<_>>());
    set!("referrer_source", events.iter().map(|e| e.referrer_source.clone()).collect::<Vec<_>>());
    set!("utm_source", events.iter().map(|e| e.utm_source.clone()).collect::<Vec<_>>());
    set!("utm_medium", events.iter().map(|e| e.utm_medium.clone()).collect::<Vec<_>>());
    set!("utm_campaign", events.iter().map(|e| e.utm_campaign.clone()).collect::<Vec<_>>());
    set!("utm_term", events.iter().map(|e| e.utm_term.clone()).collect::<Vec<_>>());
    set!("utm_content", events.iter().map(|e| e.utm_content.clone()).collect::<Vec<_>>());
    set!("country", events.iter().map(|e| e.country.clone()).collect::<Vec<_>>());
    set!("region", events.iter().map(|e| e.region.clone()).collect::<Vec<_>>());
    set!("city", events.iter().map(|e| e.city.clone()).collect::<Vec<_>>());
    set!("browser", events.iter().map(|e| e.browser.clone()).collect::<Vec<_>>());
    set!("browser_version", events.iter().map(|e| e.browser_version.clone()).collect::<Vec<_>>());
    set!("os", events.iter().map(|e| e.os.clone()).collect::<Vec<_>>());
    set!("os_version", events.iter().map(|e| e.os_version.clone()).collect::<Vec<_>>());
    set!("device", events.iter().map(|e| e.device.clone()).collect::<Vec<_>>());
    set!("screen_width", events.iter().map(|e| e.screen_width).collect::<Vec<_>>());
    set!("engagement_ms", events.iter().map(|e| e.engagement_ms).collect::<Vec<_>>());
    set!("revenue_micros", events.iter().map(|e| e.revenue_micros).collect::<Vec<_>>());
    set!("revenue_currency", events.iter().map(|e| e.revenue_currency.clone()).collect::<Vec<_>>());
    set!(
        "props",
        events
            .iter()
            .map(|e| {
                let map = e.props.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
                JsonB(serde_json::Value::Object(map))
            })
            .collect::<Vec<_>>()
    );
    t
}
