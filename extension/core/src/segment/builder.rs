//! Writing a segment from events.

use crate::codec::{put_varint, zigzag};
use crate::event::{Event, COLUMNS};

use super::column::encode_block;
use super::ranges::{StringRange, StringRanges};
use super::runs::Runs;
use super::schema::{extract, string_columns, Values};
use super::{SegmentError, ZoneMap, MAGIC, MAX_ROWS, VERSION};

/// An encoded segment and what the catalog stores beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub bytes: Vec<u8>,
    pub zone: ZoneMap,
    pub strings: StringRanges,
}

/// Encodes `events` (meant to be one site and time slice, in any order) as a segment.
/// Rows are stored sorted by (visitor_id, session_id, ts), which is also the order
/// [`super::SegmentReader::events`] returns them in.
pub fn build(events: &[Event]) -> Result<Segment, SegmentError> {
    if events.len() > MAX_ROWS {
        return Err(SegmentError::TooManyRows { rows: events.len(), limit: MAX_ROWS });
    }
    // Sort precomputed keys (the input index last, so the unstable sort keeps ties in
    // input order like a stable sort) instead of chasing event pointers per compare.
    let mut keys: Vec<(i64, i64, i64, u32)> =
        events.iter().enumerate().map(|(i, e)| (e.visitor_id, e.session_id, e.ts, i as u32)).collect();
    keys.sort_unstable();
    let order: Vec<u32> = keys.iter().map(|k| k.3).collect();
    let zone = ZoneMap {
        rows: events.len(),
        ts_min: events.iter().map(|e| e.ts).min().unwrap_or(0),
        ts_max: events.iter().map(|e| e.ts).max().unwrap_or(0),
    };
    let runs = Runs::from_sorted_keys(keys.iter().map(|k| (k.0, k.1)));
    let mut strings = string_columns(events, &order);
    assemble(zone, &runs, events.len(), |column, blocks| {
        let values = match strings[column].take() {
            Some(dict) => Values::Str(dict),
            None => extract(column, events, &order),
        };
        Ok(encode_block(values, &runs, blocks))
    })
}

/// Writes a segment of `zone` and `runs` (the visit structure of its sorted rows)
/// whose column blocks `encode(column, blocks)` appends to `blocks`, column by column
/// in [`COLUMNS`] order (returning [`encode_block`]'s string range): header,
/// directory, blocks, checksum. Shared by [`build`] and
/// [`super::merge`], which differ in where the values come from.
pub(crate) fn assemble(
    zone: ZoneMap,
    runs: &Runs,
    rows: usize,
    encode: impl FnMut(usize, &mut Vec<u8>) -> Result<Option<StringRange>, SegmentError>,
) -> Result<Segment, SegmentError> {
    assemble_first(COLUMNS.len(), zone, runs, rows, encode)
}

/// [`assemble`] with only the first `columns` of [`COLUMNS`]: the layout a writer from
/// before the later columns existed produced, which readers must keep reading.
pub(crate) fn assemble_first(
    columns: usize,
    zone: ZoneMap,
    runs: &Runs,
    rows: usize,
    mut encode: impl FnMut(usize, &mut Vec<u8>) -> Result<Option<StringRange>, SegmentError>,
) -> Result<Segment, SegmentError> {
    let mut bytes = Vec::with_capacity(rows * 16);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(VERSION);
    put_varint(&mut bytes, zone.rows as u64);
    put_varint(&mut bytes, zigzag(zone.ts_min));
    put_varint(&mut bytes, zigzag(zone.ts_max));
    runs.encode_into(&mut bytes);

    // All blocks go into one buffer; the directory needs their lengths first.
    let mut blocks = Vec::with_capacity(rows * 16);
    let mut ends = Vec::with_capacity(columns);
    let mut strings = StringRanges::default();
    for column in 0..columns {
        strings.set(column, encode(column, &mut blocks)?);
        ends.push(blocks.len());
    }
    put_varint(&mut bytes, ends.len() as u64);
    let mut start = 0;
    for (column, &end) in ends.iter().enumerate() {
        put_varint(&mut bytes, column as u64);
        put_varint(&mut bytes, (end - start) as u64);
        start = end;
    }
    bytes.extend_from_slice(&blocks);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(Segment { bytes, zone, strings })
}
