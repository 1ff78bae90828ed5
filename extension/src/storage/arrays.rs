//! Conversions between `tally_core::event::Event` and the column arrays Postgres
//! hands over (hot rows aggregated with `array_agg`) or takes back
//! (`tally.event_arrays`, unnested into rows). Arrays move a whole batch per datum,
//! which is far cheaper than a datum per field per row through SPI.

use pgrx::prelude::*;
use pgrx::spi::SpiHeapTupleData;
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

/// The SELECT list that aggregates hot rows into the arrays [`events_from_arrays`] reads,
/// starting at the given ordinal. Empty property objects travel as NULL (no JSON parse).
pub const HOT_ARRAYS_SQL: &str = "array_agg(site_id), array_agg(ts), array_agg(name), array_agg(visitor_id), \
     array_agg(session_id), array_agg(hostname), array_agg(pathname), array_agg(referrer), array_agg(referrer_source), \
     array_agg(utm_source), array_agg(utm_medium), array_agg(utm_campaign), array_agg(utm_term), array_agg(utm_content), \
     array_agg(country), array_agg(region), array_agg(city), array_agg(browser), array_agg(browser_version), \
     array_agg(os), array_agg(os_version), array_agg(device), array_agg(screen_width), array_agg(engagement_ms), \
     array_agg(revenue_micros), array_agg(revenue_currency), \
     array_agg(CASE WHEN props = '{}'::jsonb THEN NULL ELSE props::text END)";

fn column<T>(row: &SpiHeapTupleData, ordinal: usize) -> Vec<Option<T>>
where
    Vec<Option<T>>: FromDatum + IntoDatum,
{
    row.get::<Vec<Option<T>>>(ordinal).unwrap_or_else(|e| error!("reading hot rows, column {ordinal}: {e}")).unwrap_or_default()
}

/// Reads the 27 arrays of [`HOT_ARRAYS_SQL`] from `row`, the first at `first` (1-based).
pub fn events_from_arrays(row: &SpiHeapTupleData, first: usize) -> Vec<Event> {
    let c = |i: usize| first + i;
    let site_id = column::<i32>(row, c(0));
    let ts = column::<TimestampWithTimeZone>(row, c(1));
    let mut texts: Vec<std::vec::IntoIter<Option<String>>> = Vec::new();
    // Text columns in COLUMNS order, skipping the integer ones handled apart.
    for i in [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 25, 26] {
        texts.push(column::<String>(row, c(i)).into_iter());
    }
    let visitor_id = column::<i64>(row, c(3));
    let session_id = column::<i64>(row, c(4));
    let screen_width = column::<i32>(row, c(22));
    let engagement_ms = column::<i32>(row, c(23));
    let revenue_micros = column::<i64>(row, c(24));

    let mut events = Vec::with_capacity(site_id.len());
    for i in 0..site_id.len() {
        let mut next = |k: usize| texts[k].next().flatten();
        let name = next(0).unwrap_or_default();
        let hostname = next(1).unwrap_or_default();
        let pathname = next(2).unwrap_or_default();
        let event = Event {
            site_id: site_id[i].unwrap_or_default(),
            ts: ts[i].map(to_unix_us).unwrap_or_default(),
            name,
            visitor_id: visitor_id[i].unwrap_or_default(),
            session_id: session_id[i].unwrap_or_default(),
            hostname,
            pathname,
            referrer: next(3),
            referrer_source: next(4),
            utm_source: next(5),
            utm_medium: next(6),
            utm_campaign: next(7),
            utm_term: next(8),
            utm_content: next(9),
            country: next(10),
            region: next(11),
            city: next(12),
            browser: next(13),
            browser_version: next(14),
            os: next(15),
            os_version: next(16),
            device: next(17),
            screen_width: screen_width[i],
            engagement_ms: engagement_ms[i],
            revenue_micros: revenue_micros[i],
            revenue_currency: next(18),
            props: next(19).map(|json| parse_props(&json)).unwrap_or_default(),
        };
        events.push(event);
    }
    events
}

/// Properties are a JSON object of strings (the hot table's contract); anything else
/// is a bug worth stopping compaction for rather than storing wrongly.
fn parse_props(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Err(e) => error!("hot row has malformed props {json:?}: {e}"),
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
