//! SQL functions of the rollups.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use tally_core::rollup::block::{Block, Filter};
use tally_core::rollup::periods::DAY_US;
use tally_core::rollup::DIMENSIONS;

use crate::rollup;
use crate::storage::arrays::{from_unix_us, to_unix_us};
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

/// Moves per-value rows of `tally.rollups` (every dimension but `total`, as 0.1.0
/// stored them, with their daily and weekly sums) into `tally.rollup_blocks`,
/// unchanged: the upgrade to 0.2.0 runs it. Returns the rows moved.
#[pg_extern(volatile, parallel_unsafe, requires = ["rollups"])]
fn rollup_rows_to_blocks() -> i64 {
    Spi::connect_mut(|client| {
        compact::lock_storage(client);
        rollup::blocks::from_rows(client)
    })
}

/// The entries of a rollup block (`tally.rollup_blocks.data`) as rows of
/// `tally.rollups` without site and quantile sketches: what `tally.rollup_rows` lists.
/// Damaged bytes raise an error.
#[pg_extern(immutable, strict, parallel_safe)]
#[allow(clippy::type_complexity)]
fn rollup_block_rows(
    data: &[u8],
) -> TableIterator<
    'static,
    (
        name!(hour, TimestampWithTimeZone),
        name!(dimension, &'static str),
        name!(value, Option<String>),
        name!(events, i64),
        name!(pageviews, i64),
        name!(visits, i64),
        name!(bounces, i64),
        name!(visit_duration_us, i64),
        name!(visit_pageviews, i64),
        name!(open_visits, i64),
        name!(mixed_visits, i64),
        name!(engagement_ms, i64),
        name!(visitors, Vec<u8>),
    ),
> {
    let block = Block::open(data).unwrap_or_else(|e| error!("tally.rollup_block_rows: {e}"));
    let filter = Filter { values: None, from_us: block.day(), to_us: block.day() + DAY_US, visitors: true };
    let mut rows = Vec::new();
    for dimension in DIMENSIONS {
        block
            .rows(dimension, &filter, &mut |r| {
                let a = r.acc;
                rows.push((
                    from_unix_us(r.hour),
                    r.dimension,
                    r.value,
                    a.events as i64,
                    a.pageviews as i64,
                    a.visits as i64,
                    a.bounces as i64,
                    a.duration_us as i64,
                    a.visit_pageviews as i64,
                    r.open_visits,
                    r.mixed_visits,
                    a.engagement_ms as i64,
                    r.visitors.to_bytes(),
                ));
            })
            .unwrap_or_else(|e| error!("tally.rollup_block_rows: {e}"));
    }
    TableIterator::new(rows)
}
