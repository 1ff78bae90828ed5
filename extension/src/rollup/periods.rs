//! Keeps `tally.rollups_daily` and `tally.rollups_weekly` the sums of the hourly `total`
//! rows of each day and week they hold (see `tally_core::rollup::periods` and
//! sql/rollups.sql): a rewrite of hours drops their days' and weeks' rows and queues
//! the days; [`build`] sums the queued days that ended long enough ago, then the weeks
//! those days complete. Both run under the storage lock, so a build never reads hours
//! that a rewrite is changing.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::rollup::periods::Period;
use tally_core::rollup::{Hours, DIMENSIONS};

use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};

/// How long after its end a day is built at the earliest: its last hour settles (gets
/// its hourly rows, `tally_core::rollup::settle`) 3-4 hours after the day ends; an hour
/// more lets the stragglers of a live site's traffic in first, so they do not drop the
/// day again. Later events (a spool replayed after an outage) drop the day and it is
/// built again.
const SETTLE: &str = "5 hours";

/// The sums and sketch unions of a rollup table's rows `r`, grouped by the caller.
const SUMS: &str = "sum(r.events)::int8, sum(r.pageviews)::int8, sum(r.visits)::int8, sum(r.bounces)::int8, \
     sum(r.visit_duration_us)::int8, sum(r.visit_pageviews)::int8, sum(r.open_visits)::int8, sum(r.mixed_visits)::int8, \
     sum(r.engagement_ms)::int8, tally.hll_union_agg(r.visitors), tally.ddsketch_union_agg(r.visit_durations), \
     tally.ddsketch_union_agg(r.engagement_times)";

fn starts(period: Period, hours: Hours) -> Vec<TimestampWithTimeZone> {
    if hours.is_empty() {
        return Vec::new();
    }
    period.overlapping(hours.lo, hours.hi).into_iter().map(from_unix_us).collect()
}

/// Drops the daily and weekly rows of the days and weeks `hours` overlap and queues
/// those days. Called by every rewrite of hourly rows, in its transaction.
pub fn invalidate(client: &mut SpiClient, site: i32, hours: Hours) {
    let days = starts(Period::Day, hours);
    if days.is_empty() {
        return;
    }
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("queueing daily rollups of site {site}: {e}") };
    client
        .update("DELETE FROM tally.rollups_daily WHERE site_id = $1 AND day = ANY($2)", None, &[site.into(), days.clone().into()])
        .unwrap_or_else(|e| fail(e));
    client
        .update(
            "DELETE FROM tally.rollups_weekly WHERE site_id = $1 AND week = ANY($2)",
            None,
            &[site.into(), starts(Period::Week, hours).into()],
        )
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
/// ended [`SETTLE`] ago and whose hours all have settled rows (`tally.rollups_settled`:
/// a day's last hours get theirs about 4 hours after it ends) and unqueues them, then the weekly rows of the weeks whose
/// seven days now all have rows. Returns the days unqueued. A day or week whose first
/// hour retention removed gets no rows (as retention drops them): the rest of it is
/// read from shorter periods.
pub fn build(client: &mut SpiClient, limit: i64) -> i64 {
    // Of `total` only where the other dimensions are in blocks, whose days and weeks are
    // read from the blocks ([`super::blocks::stored`]). The hourly rows are read per
    // dimension: the key of `tally.rollups` leads with the dimension, so one range of
    // hours across all of them would read every row of the site.
    let dimensions: Vec<&str> = if super::blocks::stored(client) { vec!["total"] } else { DIMENSIONS.to_vec() };
    let days = format!(
        "WITH ready AS ( \
             DELETE FROM tally.rollups_daily_pending p USING ( \
                 SELECT p.site_id, p.day FROM tally.rollups_daily_pending p \
                 JOIN tally.rollups_settled s ON s.site_id = p.site_id AND p.day + interval '24 hours' <= s.settled_until \
                 WHERE p.day + interval '24 hours' <= now() - interval '{SETTLE}' ORDER BY p.day DESC LIMIT $1) q \
             WHERE p.site_id = q.site_id AND p.day = q.day RETURNING p.site_id, p.day), \
         built AS ( \
             INSERT INTO tally.rollups_daily \
             SELECT r.site_id, ready.day, r.dimension, r.value, {SUMS} \
             FROM ready JOIN tally.sites s ON s.site_id = ready.site_id \
                  AND (s.retention IS NULL OR ready.day + interval '1 hour' > now() - s.retention) \
                  CROSS JOIN unnest($2::text[]) AS d(dimension) JOIN tally.rollups r \
                  ON r.site_id = ready.site_id AND r.dimension = d.dimension \
                  AND r.hour >= ready.day AND r.hour < ready.day + interval '24 hours' \
             GROUP BY r.site_id, ready.day, r.dimension, r.value) \
         SELECT site_id, day FROM ready"
    );
    let built: Vec<(i32, i64)> = client
        .update(&days, None, &[limit.into(), dimensions.into()])
        .unwrap_or_else(|e| error!("building daily rollups: {e}"))
        .map(|row| {
            let day = row.value::<TimestampWithTimeZone>(2).map(to_unix_us).unwrap_or_default();
            (row.value::<i32>(1).unwrap_or_default(), Period::Week.start_of(day))
        })
        .collect();
    if !built.is_empty() {
        let weeks = format!(
            "INSERT INTO tally.rollups_weekly \
             SELECT r.site_id, w.week, r.dimension, r.value, {SUMS} \
             FROM (SELECT DISTINCT site_id, week FROM unnest($1::int[], $2::timestamptz[]) AS c(site_id, week)) w \
             JOIN tally.sites s ON s.site_id = w.site_id \
                  AND (s.retention IS NULL OR w.week + interval '1 hour' > now() - s.retention) \
             JOIN tally.rollups_daily r ON r.site_id = w.site_id AND r.day >= w.week AND r.day < w.week + interval '168 hours' \
             WHERE NOT EXISTS (SELECT FROM tally.rollups_weekly x WHERE x.site_id = w.site_id AND x.week = w.week) \
               AND (SELECT count(*) FROM tally.rollups_daily t WHERE t.site_id = w.site_id AND t.dimension = 'total' \
                    AND t.day >= w.week AND t.day < w.week + interval '168 hours') = 7 \
             GROUP BY r.site_id, w.week, r.dimension, r.value"
        );
        let (sites, weeks_of): (Vec<i32>, Vec<TimestampWithTimeZone>) =
            built.iter().map(|&(site, week)| (site, from_unix_us(week))).unzip();
        client.update(&weeks, None, &[sites.into(), weeks_of.into()]).unwrap_or_else(|e| error!("building weekly rollups: {e}"));
    }
    built.len() as i64
}
