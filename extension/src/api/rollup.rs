//! SQL functions of the rollups.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::rollup;
use crate::storage::arrays::to_unix_us;
use crate::storage::compact;

/// Recomputes the hourly rollups of one site for the hours overlapping
/// [from_ts, to_ts) from the raw events, replacing what was there (run it after
/// fixing events or changing how rollups are computed). Idempotent. Returns the
/// rollup rows written.
#[pg_extern(volatile, parallel_unsafe, requires = ["rollups"])]
fn rebuild_rollups(site_id: i32, from_ts: TimestampWithTimeZone, to_ts: TimestampWithTimeZone) -> i64 {
    if to_ts <= from_ts {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "to_ts must be after from_ts", "tally.rebuild_rollups")
            .set_hint("Pass a range such as now() - interval '30 days', now().")
            .report(PgLogLevel::ERROR);
    }
    Spi::connect_mut(|client| {
        // Compaction recomputes rollups too; one at a time keeps the two from racing.
        compact::lock_storage(client);
        rollup::recompute(client, &[(site_id, to_unix_us(from_ts), to_unix_us(to_ts))])
    })
}

/// The recomputation behind `tally.rebuild_rollups` and compaction, without the
/// storage lock: the rollup rows of every site of `p_sites` for the hours overlapping
/// [p_from, p_to), from the events of those hours plus 30 minutes before and 2
/// hours after (see sql/rollups.sql), the sites computed side by side on the
/// compaction threads as a settling pass does. Returns the rows written.
#[pg_extern(volatile, parallel_unsafe, requires = ["rollups"])]
fn rollups_recompute(p_sites: Vec<i32>, p_from: TimestampWithTimeZone, p_to: TimestampWithTimeZone) -> i64 {
    let (from, to) = (to_unix_us(p_from), to_unix_us(p_to));
    let spans: Vec<(i32, i64, i64)> = p_sites.into_iter().map(|site| (site, from, to)).collect();
    Spi::connect_mut(|client| rollup::recompute(client, &spans))
}

/// Builds the daily rollups (`tally.rollups_daily`) of every queued day that ended 5
/// hours ago or more, and the weekly ones (`tally.rollups_weekly`) of the weeks they
/// complete: what the background worker does a few days per pass. Returns the days
/// taken from the queue.
#[pg_extern(volatile, parallel_unsafe, requires = ["rollups"])]
fn build_daily_rollups() -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        rollup::periods::build(client, i64::MAX)
    })
}
