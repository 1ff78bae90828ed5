//! Erasure of one visitor's events everywhere (a GDPR request): hot rows are deleted,
//! every segment holding one of the visitor's rows is rewritten without them, and the
//! rollup hours those rows counted in are recomputed.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::arrays::to_unix_us;
use super::compact::{decode, write_segments};
use crate::rollup;
use crate::spi_value::SpiValue;

/// Removes every event of `visitor_id` on `site_id`. Returns how many were removed.
pub fn erase_visitor(client: &mut SpiClient, site_id: i32, visitor_id: i64) -> i64 {
    let mut touched = rollup::Touched::default();
    let hot = client
        .update(
            "DELETE FROM tally.events_hot WHERE site_id = $1 AND visitor_id = $2 RETURNING ts",
            None,
            &[site_id.into(), visitor_id.into()],
        )
        .unwrap_or_else(|e| error!("erasing hot rows: {e}"));
    let mut removed = hot.len() as i64;
    for row in hot {
        if let Some(ts) = row.value::<TimestampWithTimeZone>(1) {
            touched.note_at(site_id, to_unix_us(ts));
        }
    }
    let segments: Vec<(i64, i32, Vec<u8>)> = client
        .select("SELECT segment_id, (day - DATE '1970-01-01')::int, data FROM tally.segments WHERE site_id = $1", None, &[site_id.into()])
        .unwrap_or_else(|e| error!("reading segments: {e}"))
        .map(|row| (row.value(1).unwrap_or_default(), row.value(2).unwrap_or_default(), row.value(3).unwrap_or_default()))
        .collect();
    for (segment_id, day, bytes) in segments {
        let events = decode(segment_id, &bytes);
        if !events.iter().any(|e| e.visitor_id == visitor_id) {
            continue;
        }
        let before = events.len();
        events.iter().filter(|e| e.visitor_id == visitor_id).for_each(|e| touched.note(e));
        let kept: Vec<_> = events.into_iter().filter(|e| e.visitor_id != visitor_id).collect();
        removed += (before - kept.len()) as i64;
        client
            .update("DELETE FROM tally.segments WHERE segment_id = $1", None, &[segment_id.into()])
            .unwrap_or_else(|e| error!("erasing from segment {segment_id}: {e}"));
        if !kept.is_empty() {
            write_segments(client, site_id, i64::from(day), &kept);
        }
    }
    rollup::refresh(client, &touched);
    removed
}
