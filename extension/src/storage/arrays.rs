//! Conversions between `tally_core::event::Event` and Postgres values: timestamps,
//! custom properties, and `tally.event_arrays` (a decoded segment as one array per
//! column, which SQL unnests into rows: one datum per column instead of one per field).

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;
use tally_core::event::{SqlType, COLUMNS, SCHEMA};
use tally_core::segment::{Column, SegmentError, SegmentReader};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

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

/// Most bytes a segment's arrays may take: Postgres's largest allocation
/// (`MaxAllocSize`), which the composite value holding them all must fit in anyway.
const MAX_ARRAYS_BYTES: usize = 0x3fff_ffff;

/// Overhead of one array element beyond its data: a varlena header and alignment.
const ELEMENT_OVERHEAD: usize = 8;

/// The `tally.event_arrays` value of a stored segment, built column by column from
/// the decoded blocks: strings come straight from each column's dictionary, so no
/// per-row `Event` or `String` is made. Corrupt bytes raise an error naming the segment.
/// Any role may call it with any bytes, so the size the arrays would take is checked
/// before any is built: a few crafted kilobytes can stand for gigabytes of rows.
pub fn segment_arrays(segment_id: i64, bytes: &[u8]) -> PgHeapTuple<'static, AllocatedByRust> {
    let fail = |e: SegmentError| -> ! { error!("segment {segment_id} of tally.segments cannot be decoded: {e}") };
    let reader = SegmentReader::open(bytes).unwrap_or_else(|e| fail(e));
    let columns = reader.columns(COLUMNS).unwrap_or_else(|e| fail(e));
    let size = columns.iter().fold(0usize, |total, c| total.saturating_add(c.materialized_bytes(ELEMENT_OVERHEAD)));
    if size > MAX_ARRAYS_BYTES {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("segment {segment_id} would decode to {size} bytes of arrays, more than {MAX_ARRAYS_BYTES}"),
            "tally.segment_arrays",
        )
        .set_hint("Pass the data column of a row of tally.segments: these bytes are not a segment Tally wrote.")
        .report(PgLogLevel::ERROR);
    }
    let mut t = PgHeapTuple::new_composite_type("tally.event_arrays").unwrap_or_else(|e| error!("tally.event_arrays: {e}"));
    for (&(name, sql_type), column) in SCHEMA.iter().zip(columns) {
        let set = match column {
            Column::Int(c) => {
                let values = (0..c.values.len()).map(|row| c.get(row));
                match sql_type {
                    SqlType::Timestamptz => t.set_by_name(name, values.map(|v| v.map(from_unix_us)).collect::<Vec<_>>()),
                    SqlType::Int4 => t.set_by_name(name, values.map(|v| v.map(|x| x as i32)).collect::<Vec<_>>()),
                    SqlType::Bool => t.set_by_name(name, values.map(|v| v.map(|x| x != 0)).collect::<Vec<_>>()),
                    SqlType::Int8 | SqlType::Text | SqlType::Jsonb => t.set_by_name(name, values.collect::<Vec<_>>()),
                }
            }
            Column::Str(d) => t.set_by_name(name, d.codes.iter().map(|&code| d.resolve(code)).collect::<Vec<_>>()),
            Column::Props(p) => t.set_by_name(
                name,
                (0..p.len())
                    .map(|row| {
                        let map = p.row(row).map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
                        JsonB(serde_json::Value::Object(map))
                    })
                    .collect::<Vec<_>>(),
            ),
        };
        set.unwrap_or_else(|e| error!("tally.event_arrays.{name}: {e}"));
    }
    t
}
