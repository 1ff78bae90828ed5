//! Keeps `tally.rollups` current: compaction notes the time span of the events it
//! drains per site, then recomputes the rollup hours those events can affect with
//! `tally.rollups_recompute` (sql/rollups.sql), inside the same transaction. The
//! recomputation reads raw events, so what compaction leaves equals what
//! `tally.rebuild_rollups` produces for the same hours.

use std::collections::BTreeMap;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::Event;

use crate::storage::arrays::from_unix_us;

const MINUTE_US: i64 = 60_000_000;
/// An event at time T changes the visit figures of the hour its visit started in,
/// which `rollups_recompute` follows up to 2 hours past the hour (plus the hour
/// itself): up to 3 hours back.
const AFFECTS_BEFORE_US: i64 = 180 * MINUTE_US;
/// ... and it can end a visit that would otherwise start in the next 30 minutes
/// (the visit timeout), moving that visit's start earlier.
const AFFECTS_AFTER_US: i64 = 30 * MINUTE_US + 1;

/// The first and last event time drained per site.
#[derive(Debug, Default)]
pub struct Touched(BTreeMap<i32, (i64, i64)>);

impl Touched {
    pub fn note(&mut self, event: &Event) {
        let span = self.0.entry(event.site_id).or_insert((event.ts, event.ts));
        span.0 = span.0.min(event.ts);
        span.1 = span.1.max(event.ts);
    }
}

/// Recomputes the rollup hours the drained events affect. Returns rows written.
pub fn refresh(client: &mut SpiClient, touched: &Touched) -> i64 {
    touched.0.iter().map(|(&site, &(first, last))| recompute(client, site, first - AFFECTS_BEFORE_US, last + AFFECTS_AFTER_US)).sum()
}

/// Recomputes the rollup hours of `site` overlapping [from_us, to_us).
pub fn recompute(client: &mut SpiClient, site: i32, from_us: i64, to_us: i64) -> i64 {
    let args: [DatumWithOid; 3] = [site.into(), from_unix_us(from_us).into(), from_unix_us(to_us).into()];
    recompute_with(client, &args)
}

/// `tally.rollups_recompute` with (site, from, to) already as SQL values.
pub fn recompute_with(client: &mut SpiClient, args: &[DatumWithOid]) -> i64 {
    client
        .update("SELECT tally.rollups_recompute($1, $2, $3)", None, args)
        .and_then(|rows| rows.first().get_one::<i64>())
        .unwrap_or_else(|e| error!("recomputing rollups: {e}"))
        .unwrap_or_default()
}
