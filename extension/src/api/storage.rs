//! SQL functions of the storage engine: compaction, segment decoding, retention,
//! erasure.

use pgrx::prelude::*;

use crate::storage::{arrays, compact, erase, retention};

/// Moves hot rows into segments until the hot table is empty (or `max_rows` moved),
/// then merges small segments. Returns the hot rows moved. Safe to call while the
/// background worker runs: both take the same lock.
#[pg_extern(volatile, parallel_unsafe)]
fn compact(max_rows: default!(Option<i64>, "NULL")) -> i64 {
    let batch = i64::from(crate::gucs::COMPACTION_BATCH_ROWS.get());
    let limit = max_rows.unwrap_or(i64::MAX).max(0);
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        let mut moved = 0i64;
        loop {
            let stats = compact::compact(client, batch.min(limit - moved));
            moved += stats.hot_rows;
            if stats.hot_rows < batch || moved >= limit {
                return moved;
            }
        }
    })
}

/// Decodes segment `data` into one array per column (`tally.event_arrays`). Corrupt
/// bytes raise an error naming `segment_id`; no row is ever returned wrongly.
#[pg_extern(stable, parallel_safe, requires = ["storage"])]
fn segment_arrays(segment_id: i64, data: &[u8]) -> pgrx::composite_type!('static, "tally.event_arrays") {
    arrays::events_to_arrays(&compact::decode(segment_id, data))
}

/// Drops events older than each site's `retention`. Returns the events removed.
#[pg_extern(volatile, parallel_unsafe)]
fn apply_retention() -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        retention::apply(client)
    })
}

/// Erases every event of one visitor of one site, in hot rows and segments (a GDPR
/// erasure request). Returns the events removed.
#[pg_extern(volatile, parallel_unsafe)]
fn erase_visitor(site_id: i32, visitor_id: i64) -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        erase::erase_visitor(client, site_id, visitor_id)
    })
}
