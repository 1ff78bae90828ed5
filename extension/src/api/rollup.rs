//! SQL functions of the rollups.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::rollup;
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
        rollup::recompute_with(client, &[site_id.into(), from_ts.into(), to_ts.into()])
    })
}
