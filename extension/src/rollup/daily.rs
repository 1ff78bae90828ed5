//! Keeps `tally.rollups_daily` the sum of the hourly rows of each day it holds (see
//! `tally_core::rollup::days` and sql/rollups.sql): a rewrite of hours drops their
//! days' rows and queues the days; [`build`] sums the queued days that ended long
//! enough ago. Both run under the storage lock, so a build never reads hours that a
//! rewrite is changing.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::rollup::days::days_of;
use tally_core::rollup::{Hours, DIMENSIONS};

use crate::storage::arrays::from_unix_us;

/// How long after its end a day is built: compaction of an event at `t` rewrites the
/// hours up to `t + 30 min`, and events arrive up to a few hours late (retries,
/// batches), so days are summed once that traffic is past rather than rebuilt at every
/// pass.
const SETTLE: &str = "29 hours";

/// Drops the daily rows of the days `hours` overlap and queues those days. Called by
/// every rewrite of hourly rows, in its transaction.
pub fn invalidate(client: &mut SpiClient, site: i32, hours: Hours) {
    let days: Vec<TimestampWithTimeZone> = days_of(hours).into_iter().map(from_unix_us).collect();
    if days.is_empty() {
        return;
    }
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("queueing daily rollups of site {site}: {e}") };
    client
        .update("DELETE FROM tally.rollups_daily WHERE site_id = $1 AND day = ANY($2)", None, &[site.into(), days.clone().into()])
        .unwrap_or_else(|e| fail(e));
    client
        .update(
            "INSERT INTO tally.rollups_daily_pending SELECT $1, d FROM unnest($2::timestamptz[]) d ON CONFLICT DO NOTHING",
            None,
            &[site.into(), days.into()],
        )
        .unwrap_or_else(|e| fail(e));
}

/// Builds the daily rows of up to `limit` queued days (the most recent first) that
/// ended [`SETTLE`] ago, and unqueues them. Returns the days unqueued. A day whose
/// first hour retention removed gets no rows (as retention drops them): the rest of it
/// is read hourly. The hourly rows
/// are read per dimension: the key of `tally.rollups` leads with the dimension, so one
/// range of hours across all of them would read every row of the site.
pub fn build(client: &mut SpiClient, limit: i64) -> i64 {
    let sql = format!(
        "WITH ready AS ( \
             DELETE FROM tally.rollups_daily_pending p USING ( \
                 SELECT site_id, day FROM tally.rollups_daily_pending \
                 WHERE day + interval '24 hours' <= now() - interval '{SETTLE}' ORDER BY day DESC LIMIT $1) q \
             WHERE p.site_id = q.site_id AND p.day = q.day RETURNING p.site_id, p.day), \
         built AS ( \
             INSERT INTO tally.rollups_daily \
             SELECT r.site_id, ready.day, r.dimension, r.value, sum(r.events)::int8, sum(r.pageviews)::int8, \
                    sum(r.visits)::int8, sum(r.bounces)::int8, sum(r.visit_duration_us)::int8, \
                    sum(r.visit_pageviews)::int8, sum(r.open_visits)::int8, sum(r.mixed_visits)::int8, \
                    sum(r.engagement_ms)::int8, tally.hll_union_agg(r.visitors), \
                    tally.ddsketch_union_agg(r.visit_durations), tally.ddsketch_union_agg(r.engagement_times) \
             FROM ready JOIN tally.sites s ON s.site_id = ready.site_id \
                  AND (s.retention IS NULL OR ready.day + interval '1 hour' > now() - s.retention) \
                  CROSS JOIN unnest($2::text[]) AS d(dimension) JOIN tally.rollups r \
                  ON r.site_id = ready.site_id AND r.dimension = d.dimension \
                  AND r.hour >= ready.day AND r.hour < ready.day + interval '24 hours' \
             GROUP BY r.site_id, ready.day, r.dimension, r.value) \
         SELECT count(*) FROM ready"
    );
    client
        .update(&sql, None, &[limit.into(), DIMENSIONS.to_vec().into()])
        .unwrap_or_else(|e| error!("building daily rollups: {e}"))
        .first()
        .get_one::<i64>()
        .ok()
        .flatten()
        .unwrap_or(0)
}
