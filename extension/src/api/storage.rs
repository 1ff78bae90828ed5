//! SQL functions of the storage engine: compaction, segment decoding, retention,
//! erasure.

use pgrx::prelude::*;
use pgrx::PgRelation;

use crate::storage::{arrays, compact, erase, hot, import, retention};

/// Moves hot rows into segments and merges small segments. Drains every hot partition
/// no longer written to, or all of them with `include_current` (new writes then wait
/// for the call to finish). Returns the hot rows moved. Safe to call while the
/// background worker runs: both take the same lock.
#[pg_extern(volatile, parallel_unsafe)]
fn compact(include_current: default!(bool, true)) -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        compact::compact(client, include_current).hot_rows
    })
}

/// Imports history: every row of `staging` (a table created `LIKE tally.event`) goes
/// straight into compacted segments, then the rollup hours, days and weeks of its
/// events are computed, all in the caller's transaction (docs/import.md). Reports
/// progress as NOTICEs. A row with a NULL required column or an unknown site raises an
/// error naming the row and field, and nothing of the import is stored. Returns the
/// events imported.
#[pg_extern(volatile, parallel_unsafe, requires = ["rollups"])]
fn import_events(staging: PgRelation) -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        import::import(client, staging.oid())
    })
}

/// The hot partition (`gen`) rows written by the current transaction go to; the
/// default of `tally.events_hot.gen`.
#[pg_extern(stable, parallel_safe)]
fn hot_generation() -> i16 {
    hot::current_generation()
}

/// Decodes segment `data` into one array per column (`tally.event_arrays`). Corrupt
/// bytes raise an error naming `segment_id`; no row is ever returned wrongly.
#[pg_extern(stable, parallel_safe, requires = ["storage"])]
fn segment_arrays(segment_id: i64, data: &[u8]) -> pgrx::composite_type!('static, "tally.event_arrays") {
    arrays::segment_arrays(segment_id, data)
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
