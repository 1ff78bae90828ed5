//! Per-site retention: events older than `tally.sites.retention` are dropped.
//!
//! Whole segments past the horizon are deleted; a segment straddling it is rewritten
//! without the expired rows, so no expired event stays readable. Rollup hours wholly
//! past the horizon are deleted, and those near it recomputed from what is left.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::arrays::to_unix_us;
use super::compact::{decode, write_segments};
use crate::rollup;
use crate::spi_value::SpiValue;

/// Applies every site's retention. Returns the number of events removed.
pub fn apply(client: &mut SpiClient) -> i64 {
    let mut removed = 0i64;
    let mut touched = rollup::Touched::default();
    let hot = client
        .update(
            "DELETE FROM tally.events_hot h USING tally.sites s \
             WHERE h.site_id = s.site_id AND s.retention IS NOT NULL AND h.ts < now() - s.retention \
             RETURNING h.site_id, now() - s.retention",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("retention of hot rows: {e}"));
    removed += hot.len() as i64;
    for row in hot {
        let site: i32 = row.value(1).unwrap_or_default();
        if let Some(horizon) = row.value::<TimestampWithTimeZone>(2) {
            touched.note_at(site, to_unix_us(horizon));
        }
    }
    let whole = client
        .update(
            "DELETE FROM tally.segments g USING tally.sites s \
             WHERE g.site_id = s.site_id AND s.retention IS NOT NULL AND g.max_ts < now() - s.retention \
             RETURNING g.row_count",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("retention of segments: {e}"));
    for row in whole {
        removed += i64::from(row.value::<i32>(1).unwrap_or_default());
    }
    let straddling: Vec<(i64, i32, i32, TimestampWithTimeZone, Vec<u8>)> = client
        .update(
            "DELETE FROM tally.segments g USING tally.sites s \
             WHERE g.site_id = s.site_id AND s.retention IS NOT NULL AND g.min_ts < now() - s.retention \
             RETURNING g.segment_id, g.site_id, (g.day - DATE '1970-01-01')::int, now() - s.retention, g.data",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("retention of segments: {e}"))
        .map(|row| {
            (
                row.value(1).unwrap_or_default(),
                row.value(2).unwrap_or_default(),
                row.value(3).unwrap_or_default(),
                row.value(4).unwrap_or_else(|| error!("retention horizon is NULL")),
                row.value(5).unwrap_or_default(),
            )
        })
        .collect();
    for (segment_id, site_id, day, horizon, bytes) in straddling {
        let horizon = to_unix_us(horizon);
        touched.note_at(site_id, horizon);
        let events = decode(segment_id, &bytes);
        let before = events.len();
        let kept: Vec<_> = events.into_iter().filter(|e| e.ts >= horizon).collect();
        removed += (before - kept.len()) as i64;
        if !kept.is_empty() {
            write_segments(client, site_id, i64::from(day), &kept);
        }
    }
    client
        .update(
            "DELETE FROM tally.rollups r USING tally.sites s \
             WHERE r.site_id = s.site_id AND s.retention IS NOT NULL AND r.hour + interval '1 hour' <= now() - s.retention",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("retention of rollups: {e}"));
    if rollup::blocks::stored(client) {
        let horizons: Vec<(i32, i64)> = client
            .select("SELECT site_id, now() - retention FROM tally.sites WHERE retention IS NOT NULL", None, &[])
            .unwrap_or_else(|e| error!("retention of rollup blocks: {e}"))
            .map(|row| (row.value::<i32>(1).unwrap_or_default(), row.value::<TimestampWithTimeZone>(2).map(to_unix_us).unwrap_or_default()))
            .collect();
        for (site, horizon) in horizons {
            rollup::blocks::expire(client, site, horizon);
        }
    }
    // A day or week loses its rows with its first hour: the rest of it is read from
    // shorter periods.
    for (table, start) in [("tally.rollups_daily", "day"), ("tally.rollups_weekly", "week")] {
        let sql = format!(
            "DELETE FROM {table} r USING tally.sites s \
             WHERE r.site_id = s.site_id AND s.retention IS NOT NULL AND r.{start} + interval '1 hour' <= now() - s.retention"
        );
        client.update(&sql, None, &[]).unwrap_or_else(|e| error!("retention of {table}: {e}"));
    }
    rollup::refresh(client, &touched);
    removed
}
