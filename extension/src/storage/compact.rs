//! Compaction: hot rows become columnar segments, and a day's small segments merge
//! into large ones.
//!
//! Each pass runs in the caller's transaction: the hot rows are deleted and their
//! segments inserted atomically, so a crash at any point either keeps the hot rows or
//! keeps the segments, never both and never neither. An advisory lock keeps two
//! compactions (the background worker and a manual call) from interleaving.

use std::collections::BTreeMap;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::Event;
use tally_core::segment::{self, SegmentReader};

use super::arrays::from_unix_us;
use super::{hot, hot_scan};
use crate::{gucs, rollup};

/// Key of the advisory lock held by compaction, retention and erasure: any value
/// unlikely to collide with an application's own advisory locks ("tally" in ASCII).
pub const STORAGE_LOCK: i64 = 0x0074_616c_6c79;

const DAY_US: i64 = 86_400_000_000;

/// What one compaction call did, returned to SQL.
#[derive(Debug, Default, Clone, Copy)]
pub struct CompactStats {
    pub hot_rows: i64,
    pub segments_written: i64,
    pub segments_merged: i64,
}

/// Takes the storage lock, waiting for it.
pub fn lock_storage(client: &SpiClient) {
    client
        .select("SELECT pg_catalog.pg_advisory_xact_lock($1)", None, &[STORAGE_LOCK.into()])
        .unwrap_or_else(|e| error!("taking the storage lock: {e}"));
}

/// Drains hot partitions into segments, merges days that have too many segments, and
/// recomputes the rollup hours the drained events affect.
/// Every partition but the one being written is drained; with `include_current` that
/// one too (its writers wait for the lock meanwhile). Call inside a transaction with
/// the storage lock held.
pub fn compact(client: &mut SpiClient, include_current: bool) -> CompactStats {
    let mut stats = CompactStats::default();
    let mut touched = rollup::Touched::default();
    let current = hot::current_generation();
    for gen in 0..hot::HOT_PARTITIONS as i16 {
        if gen == current && !include_current {
            continue;
        }
        drain_partition(client, gen, &mut stats, &mut touched);
    }
    stats.segments_merged = merge_days(client);
    rollup::refresh(client, &touched);
    stats
}

/// Moves every row of partition `gen` into segments and truncates it. A partition holds
/// one slot of a few seconds, so its rows fit in memory at once. EXCLUSIVE mode
/// waits for writers still committing into the partition and keeps new ones out, while
/// readers go on; TRUNCATE then drops the rows at commit, atomically with the inserts.
fn drain_partition(client: &mut SpiClient, gen: i16, stats: &mut CompactStats, touched: &mut rollup::Touched) {
    let table = format!("tally.events_hot_{gen}");
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("compacting {table}: {e}") };
    client.update(format!("LOCK TABLE {table} IN EXCLUSIVE MODE").as_str(), None, &[]).unwrap_or_else(|e| fail(e));
    let mut by_site_day: BTreeMap<(i32, i64), Vec<Event>> = BTreeMap::new();
    hot_scan::scan(&table, |event| {
        stats.hot_rows += 1;
        touched.note(&event);
        by_site_day.entry((event.site_id, event.ts.div_euclid(DAY_US))).or_default().push(event);
    });
    for ((site_id, day), events) in &by_site_day {
        stats.segments_written += write_segments(client, *site_id, *day, events);
    }
    client.update(format!("TRUNCATE {table}").as_str(), None, &[]).unwrap_or_else(|e| fail(e));
}

/// Encodes `events` (one site, one UTC day) as segments of at most `MAX_ROWS` rows and
/// inserts them. Returns how many segments were written.
pub fn write_segments(client: &mut SpiClient, site_id: i32, day: i64, events: &[Event]) -> i64 {
    let mut written = 0;
    for chunk in events.chunks(segment::MAX_ROWS) {
        let seg = segment::build(chunk).unwrap_or_else(|e| error!("encoding a segment of site {site_id}: {e}"));
        let args: [DatumWithOid; 6] = [
            site_id.into(),
            (day as i32).into(),
            from_unix_us(seg.zone.ts_min).into(),
            from_unix_us(seg.zone.ts_max).into(),
            (seg.zone.rows as i32).into(),
            seg.bytes.as_slice().into(),
        ];
        client
            .update(
                "INSERT INTO tally.segments (site_id, day, min_ts, max_ts, row_count, data) \
                 VALUES ($1, DATE '1970-01-01' + $2, $3, $4, $5, $6)",
                None,
                &args,
            )
            .unwrap_or_else(|e| error!("inserting a segment of site {site_id}: {e}"));
        written += 1;
    }
    written
}

/// Decodes a stored segment, naming it in the error if its bytes are damaged.
pub fn decode(segment_id: i64, bytes: &[u8]) -> Vec<Event> {
    SegmentReader::open(bytes)
        .and_then(|r| r.events())
        .unwrap_or_else(|e| error!("segment {segment_id} of tally.segments cannot be decoded: {e}"))
}

/// Rewrites every (site, day) whose small segments reached `tally.merge_threshold`, or
/// that has more than one small segment and lies before today (UTC), as one segment per
/// `MAX_ROWS` rows. Returns how many segments were merged away.
fn merge_days(client: &mut SpiClient) -> i64 {
    // Segments at least half full are left alone: merging them gains little and costs a rewrite.
    let small = (segment::MAX_ROWS / 2) as i32;
    let threshold = gucs::MERGE_THRESHOLD.get();
    let groups: Vec<(i32, i32, Vec<i64>)> = client
        .select(
            "SELECT site_id, (day - DATE '1970-01-01')::int, array_agg(segment_id ORDER BY segment_id) \
             FROM tally.segments WHERE row_count < $1 GROUP BY site_id, day \
             HAVING count(*) >= $2 OR (count(*) > 1 AND day < (now() AT TIME ZONE 'UTC')::date)",
            None,
            &[small.into(), threshold.into()],
        )
        .unwrap_or_else(|e| error!("finding segments to merge: {e}"))
        .map(|row| {
            let site: i32 = row.get(1).ok().flatten().unwrap_or_default();
            let day: i32 = row.get(2).ok().flatten().unwrap_or_default();
            let ids: Vec<i64> = row.get(3).ok().flatten().unwrap_or_default();
            (site, day, ids)
        })
        .collect();
    let mut merged = 0;
    for (site_id, day, ids) in groups {
        let mut events = Vec::new();
        let deleted = client
            .update("DELETE FROM tally.segments WHERE segment_id = ANY($1) RETURNING segment_id, data", None, &[ids.clone().into()])
            .unwrap_or_else(|e| error!("merging segments of site {site_id}: {e}"));
        for row in deleted {
            let id: i64 = row.get(1).ok().flatten().unwrap_or_default();
            let bytes: &[u8] = row.get(2).ok().flatten().unwrap_or_default();
            events.extend(decode(id, bytes));
        }
        // Keep time order across the chunks so each merged segment covers a narrow range.
        events.sort_by_key(|e| e.ts);
        write_segments(client, site_id, i64::from(day), &events);
        merged += ids.len() as i64;
    }
    merged
}
