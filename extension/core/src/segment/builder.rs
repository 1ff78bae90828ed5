//! Writing a segment from events.

use crate::codec::{put_varint, zigzag};
use crate::event::{Event, COLUMNS};

use super::column::encode_block;
use super::runs::Runs;
use super::schema::extract;
use super::{SegmentError, ZoneMap, MAGIC, MAX_ROWS, VERSION};

/// An encoded segment and the zone map the catalog stores beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub bytes: Vec<u8>,
    pub zone: ZoneMap,
}

/// Encodes `events` (meant to be one site and time slice, in any order) as a segment.
/// Rows are stored sorted by (visitor_id, session_id, ts), which is also the order
/// [`super::SegmentReader::events`] returns them in.
pub fn build(events: &[Event]) -> Result<Segment, SegmentError> {
    if events.len() > MAX_ROWS {
        return Err(SegmentError::TooManyRows {
            rows: events.len(),
            limit: MAX_ROWS,
        });
    }
    let mut rows: Vec<&Event> = events.iter().collect();
    rows.sort_by_key(|e| (e.visitor_id, e.session_id, e.ts));
    let zone = ZoneMap {
        rows: rows.len(),
        ts_min: events.iter().map(|e| e.ts).min().unwrap_or(0),
        ts_max: events.iter().map(|e| e.ts).max().unwrap_or(0),
    };
    let runs = Runs::from_sorted(&rows);

    let mut bytes = Vec::with_capacity(events.len() * 16);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(VERSION);
    put_varint(&mut bytes, zone.rows as u64);
    put_varint(&mut bytes, zigzag(zone.ts_min));
    put_varint(&mut bytes, zigzag(zone.ts_max));
    runs.encode_into(&mut bytes);

    let blocks: Vec<Vec<u8>> = (0..COLUMNS.len())
        .map(|column| encode_block(&extract(column, &rows), &runs))
        .collect();
    put_varint(&mut bytes, blocks.len() as u64);
    for (column, block) in blocks.iter().enumerate() {
        put_varint(&mut bytes, column as u64);
        put_varint(&mut bytes, block.len() as u64);
    }
    for block in &blocks {
        bytes.extend_from_slice(block);
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(Segment { bytes, zone })
}
