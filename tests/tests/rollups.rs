//! Hourly rollups through real Postgres: compaction keeps them equal to a rebuild
//! from raw events (computing live hours once they settle), rebuilding is idempotent, and their figures (counts, visits,
//! bounces, durations, the visitors sketch) match the same questions asked of the
//! raw events, and every row and column equals the rollups' SQL definition
//! (tests/sql/rollups_reference.sql); daily and weekly rollups stay the sums of their
//! hours.

use chrono::{DateTime, Utc};
use tally_tests::TestDb;

/// A fixed end time (2024-03-31 00:00 UTC) so hours are reproducible.
const END_US: i64 = 1_711_843_200_000_000;

/// Every rollup row, every column, in a canonical order.
async fn snapshot(db: &TestDb) -> Vec<String> {
    db.query("SELECT r::text FROM tally.rollup_rows r ORDER BY site_id, dimension, hour, value NULLS FIRST")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn rebuild_all(db: &TestDb) -> i64 {
    db.value("SELECT sum(tally.rebuild_rollups(site_id, '2000-01-01', '2100-01-01'))::int8 FROM tally.sites").await
}

#[tokio::test]
async fn compaction_keeps_rollups_equal_to_an_idempotent_rebuild() {
    let db = TestDb::create().await;
    db.load(4_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    // A second batch over the same hours (the same generated visits again): its
    // compaction must recompute the hours, not add to them.
    db.load(4_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    let kept = snapshot(&db).await;
    assert!(kept.len() > 100, "only {} rollup rows", kept.len());
    let written = rebuild_all(&db).await;
    assert_eq!(written as usize, kept.len());
    assert_eq!(snapshot(&db).await, kept, "rebuild differs from what compaction kept");
    rebuild_all(&db).await;
    assert_eq!(snapshot(&db).await, kept, "a second rebuild changed something");
}

/// The rollup rows of settled hours (before each site's `tally.rollups_settled`).
async fn settled_snapshot(db: &TestDb) -> Vec<String> {
    db.query(
        "SELECT r::text FROM tally.rollup_rows r JOIN tally.rollups_settled s ON s.site_id = r.site_id AND r.hour < s.settled_until
         ORDER BY r.site_id, r.dimension, r.hour, r.value NULLS FIRST",
    )
    .await
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn live_hours_get_rows_once_they_settle() {
    let db = TestDb::create().await;
    db.load(6_000, 2, 2, Utc::now().timestamp_micros()).await;
    db.query("SELECT tally.compact(true)").await;
    // An event of now (reaching compaction within 5 minutes) can change the hours from
    // three hours back on: those have no rows yet.
    let settled = "SELECT count(*) FROM tally.rollups_settled
                   WHERE settled_until BETWEEN date_bin('1 hour', now() - interval '3 hours 6 minutes', '2000-01-01')
                                           AND date_bin('1 hour', now() - interval '3 hours 5 minutes', '2000-01-01')";
    assert_eq!(db.value::<i64>(settled).await, 2, "each site settled up to the hour three hours and 5 minutes back");
    let unsettled = "SELECT count(*) FROM tally.rollup_rows r JOIN tally.rollups_settled s USING (site_id) WHERE r.hour >= s.settled_until";
    assert_eq!(db.value::<i64>(unsettled).await, 0, "rows of hours not settled");
    let kept = settled_snapshot(&db).await;
    assert!(kept.len() > 100, "only {} settled rows", kept.len());
    rebuild_all(&db).await;
    assert_eq!(settled_snapshot(&db).await, kept, "settled rows differ from a rebuild");

    // Six hours or more settle (the settle point moved back to a midnight six hours
    // before or more stands in for the wait, its rows and the days' blocks after it
    // dropped): the next pass computes them, with no new events to compact.
    db.query("UPDATE tally.rollups_settled SET settled_until = date_bin('24 hours', settled_until - interval '6 hours', '2000-01-01')")
        .await;
    db.query("DELETE FROM tally.rollups r USING tally.rollups_settled s WHERE r.site_id = s.site_id AND r.hour >= s.settled_until").await;
    db.query("DELETE FROM tally.rollup_blocks b USING tally.rollups_settled s WHERE b.site_id = s.site_id AND b.day >= s.settled_until")
        .await;
    db.query("SELECT tally.compact()").await;
    assert_eq!(db.value::<i64>(settled).await, 2, "the settle point did not come back to now");
    assert_eq!(db.value::<i64>(unsettled).await, 0, "rows of hours not settled");
    assert_eq!(settled_snapshot(&db).await, kept, "the newly settled hours differ from a rebuild");
}

#[tokio::test]
async fn rollup_figures_match_the_raw_events() {
    let db = TestDb::create().await;
    db.load(10_000, 4, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let row = db
        .client
        .query_one(
            "WITH raw AS (SELECT * FROM tally.events WHERE site_id = 1),
                  visit AS (SELECT session_id, count(*) FILTER (WHERE name <> 'engagement' AND interactive IS NOT false) interactions,
                                   (extract(epoch FROM max(ts) - min(ts)) * 1000000)::bigint us
                            FROM raw GROUP BY 1),
                  r AS (SELECT * FROM tally.rollups WHERE site_id = 1 AND dimension = 'total')
             SELECT (SELECT count(*) FILTER (WHERE name <> 'engagement') FROM raw) = (SELECT sum(events) FROM r),
                    (SELECT count(*) FILTER (WHERE name = 'pageview') FROM raw) = (SELECT sum(pageviews) FROM r),
                    (SELECT count(*) FROM visit) = (SELECT sum(visits) FROM r),
                    (SELECT count(*) FILTER (WHERE interactions <= 1) FROM visit) = (SELECT sum(bounces) FROM r),
                    (SELECT sum(us) FROM visit) = (SELECT sum(visit_duration_us) FROM r),
                    (SELECT coalesce(sum(engagement_ms), 0) FROM raw) = (SELECT sum(engagement_ms) FROM r),
                    (SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor_id), 14)::text FROM raw)
                        = (SELECT tally.hll_union_agg(visitors)::text FROM r),
                    (SELECT sum(events) FROM tally.rollup_rows WHERE site_id = 1 AND dimension = 'page')
                        = (SELECT count(*) FILTER (WHERE name = 'pageview') FROM raw),
                    (SELECT sum(visits) FROM tally.rollup_rows WHERE site_id = 1 AND dimension = 'source')
                        = (SELECT count(*) FROM visit),
                    (SELECT tally.ddsketch_count(tally.ddsketch_union_agg(visit_durations)) FROM r) = (SELECT count(*) FROM visit)",
            &[],
        )
        .await
        .unwrap();
    let names = [
        "events",
        "pageviews",
        "visits",
        "bounces",
        "duration",
        "engagement",
        "visitors sketch",
        "page events",
        "source visits",
        "duration sketch",
    ];
    for (i, name) in names.iter().enumerate() {
        assert!(row.get::<_, bool>(i), "{name} differs between rollups and raw events");
    }
    let pages: i64 = db.value("SELECT count(DISTINCT value) FROM tally.rollup_rows WHERE dimension = 'page'").await;
    assert!(pages > 5, "{pages} pages");
}

/// The rows of the hours overlapping [from, to) of `site` as the SQL definition gives
/// them, next to those stored (`tally.rollup_rows`), both in a canonical order.
async fn reference_and_stored(db: &TestDb, site: i32, from: DateTime<Utc>, to: DateTime<Utc>) -> (Vec<String>, Vec<String>) {
    let reference = format!("INSERT INTO reference {}", include_str!("../sql/rollups_reference.sql"));
    db.client.batch_execute("DROP TABLE IF EXISTS reference; CREATE TEMP TABLE reference (LIKE tally.rollups)").await.unwrap();
    db.client.execute(&reference, &[&site, &from, &to]).await.unwrap();
    let rows = |sql: &'static str| async move {
        db.client.query(sql, &[]).await.unwrap().iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()
    };
    let expected = rows("SELECT row(r.*)::text FROM reference r ORDER BY dimension, hour, value NULLS FIRST").await;
    let hours = "SELECT min(hour), max(hour) FROM reference";
    let bounds = db.client.query_one(hours, &[]).await.unwrap();
    let (lo, hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (bounds.get(0), bounds.get(1));
    let stored = db
        .client
        .query(
            "SELECT row(r.*)::text FROM tally.rollup_rows r WHERE site_id = $1 AND hour >= $2 AND hour <= $3
             ORDER BY dimension, hour, value NULLS FIRST",
            &[&site, &lo, &hi],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    (expected, stored)
}

#[tokio::test]
async fn every_row_and_column_equals_the_sql_definition() {
    let db = TestDb::create().await;
    db.load(4_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    let end = DateTime::from_timestamp_micros(END_US).unwrap();
    let day = chrono::Duration::days(1);
    for site in [1, 2] {
        let (expected, stored) = reference_and_stored(&db, site, end - day * 4, end + day).await;
        assert!(expected.len() > 100, "only {} rows", expected.len());
        assert_eq!(stored, expected, "rollups of site {site} differ from their SQL definition");
    }
    // A recomputation of a few hours mid-range, two sites side by side on the
    // compaction threads: the window edges cut visits the same way.
    db.query("SET tally.compaction_threads = 2").await;
    let (from, to) = (end - day * 2 + chrono::Duration::minutes(17), end - day + chrono::Duration::minutes(5));
    let sql = "SELECT tally.rollups_recompute(ARRAY[1, 2], $1, $2)";
    let written: i64 = db.client.query_one(sql, &[&from, &to]).await.unwrap().get(0);
    let mut expected_rows = 0;
    for site in [1, 2] {
        let (expected, stored) = reference_and_stored(&db, site, from, to).await;
        assert_eq!(stored, expected, "recomputed hours of site {site} differ from their SQL definition");
        expected_rows += expected.len();
    }
    assert_eq!(written as usize, expected_rows);
}

#[tokio::test]
async fn rebuild_refuses_an_empty_range() {
    let db = TestDb::create().await;
    db.assert_error_with_hint("SELECT tally.rebuild_rollups(1, now(), now() - interval '1 day')", "to_ts must be after from_ts").await;
}

#[tokio::test]
async fn erasure_and_retention_leave_rollups_equal_to_a_rebuild() {
    let db = TestDb::create().await;
    db.load(4_000, 3, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let visitor: i64 = db.value("SELECT visitor_id FROM tally.events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").await;
    db.client.execute("SELECT tally.erase_visitor(1, $1)", &[&visitor]).await.unwrap();
    let kept = snapshot(&db).await;
    rebuild_all(&db).await;
    assert_eq!(snapshot(&db).await, kept, "rollups still count the erased visitor");
    // A horizon a day and a half before the end: whole hours go, one is cut.
    let horizon = format!("(to_timestamp({}) + interval '36 hours 20 minutes')", END_US / 1_000_000 - 3 * 86_400);
    db.query(&format!("UPDATE tally.sites SET retention = now() - {horizon}")).await;
    db.query("SELECT tally.apply_retention()").await;
    let kept = snapshot(&db).await;
    let stale: i64 = db.value(&format!("SELECT count(*) FROM tally.rollup_rows WHERE hour < {horizon} - interval '1 hour'")).await;
    assert_eq!(stale, 0, "rollup rows of expired hours");
    rebuild_all(&db).await;
    assert_eq!(snapshot(&db).await, kept, "rollups still count expired events");
}

/// The rows of a period table (`tally.rollups_daily` by `day`, `tally.rollups_weekly`
/// by `week`) next to the sums of the hourly rows of the periods that have rows, as
/// SQL defines those sums, each in a canonical order: `total` rows only (the other
/// dimensions' periods are read from their blocks).
async fn period_and_summed(db: &TestDb, table: &str, period: &str) -> (Vec<String>, Vec<String>) {
    let rows = |sql: String| async move { db.query(&sql).await.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>() };
    let stored = rows(format!("SELECT row(d.*)::text AS t FROM tally.{table} d ORDER BY t")).await;
    let summed = rows(format!(
        "SELECT row(r.site_id, date_trunc('{period}', r.hour, 'UTC'), r.dimension, r.value, sum(r.events)::int8,
                    sum(r.pageviews)::int8, sum(r.visits)::int8, sum(r.bounces)::int8, sum(r.visit_duration_us)::int8,
                    sum(r.visit_pageviews)::int8, sum(r.open_visits)::int8, sum(r.mixed_visits)::int8,
                    sum(r.engagement_ms)::int8, tally.hll_union_agg(r.visitors),
                    tally.ddsketch_union_agg(r.visit_durations), tally.ddsketch_union_agg(r.engagement_times))::text AS t
         FROM tally.rollups r
         WHERE (r.site_id, date_trunc('{period}', r.hour, 'UTC')) IN (SELECT site_id, {period} FROM tally.{table})
         GROUP BY r.site_id, date_trunc('{period}', r.hour, 'UTC'), r.dimension, r.value ORDER BY t",
    ))
    .await;
    (stored, summed)
}

/// The daily rows next to the sums of their hours, after checking the weekly rows
/// against theirs.
async fn daily_and_summed(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let (weekly, summed) = period_and_summed(db, "rollups_weekly", "week").await;
    assert_eq!(weekly, summed, "weekly rows differ from the sums of their hours");
    period_and_summed(db, "rollups_daily", "day").await
}

#[tokio::test]
async fn daily_and_weekly_rollups_stay_the_sums_of_their_hours() {
    const DAY_US: i64 = 86_400_000_000;
    let db = TestDb::create().await;
    // 8 days to Monday 2024-04-01: the week from Monday 2024-03-25 is whole.
    db.load(12_000, 8, 2, END_US + DAY_US).await;
    db.query("SELECT tally.compact()").await;
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.rollups_daily").await, 0, "built before their days settled");
    assert!(db.value::<i64>("SELECT tally.build_daily_rollups()").await >= 16, "8 days of 2 sites");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.rollups_daily_pending").await, 0);
    let weeks = "SELECT count(*) FROM tally.rollups_weekly WHERE dimension = 'total' AND week = '2024-03-25 00:00+00'";
    assert_eq!(db.value::<i64>(weeks).await, 2, "the whole week of each site");
    let (daily, summed) = daily_and_summed(&db).await;
    assert_eq!(daily.len(), 16, "8 days of 2 sites");
    assert_eq!(daily, summed, "daily rows differ from the sums of their hours");
    let days_of = |site: i32| format!("SELECT count(*) FROM tally.rollups_daily WHERE site_id = {site} AND dimension = 'total'");
    let (site1_days, site2_days): (i64, i64) = (db.value(&days_of(1)).await, db.value(&days_of(2)).await);

    // A late event in the middle of a built day of site 1: compaction rewrites some of
    // its hours, so the day loses its daily rows and waits to be built again.
    let pool = tally_gateway::pool::build(&db.url, 1).expect("pool");
    let config = tally_core::datagen::Config { seed: 7, sites: 2, days: 8, events: 12_000, start_ts: END_US - 7 * DAY_US };
    let mut late = tally_core::datagen::DataGen::new(config).find(|e| e.site_id == 1).unwrap();
    late.ts = END_US - 2 * DAY_US - 12 * 3_600_000_000;
    late.pathname = "/late".into();
    tally_gateway::ingest::store::write_events(&pool, &[late]).await.expect("write late event");
    db.query("SELECT tally.compact(true)").await;
    let pending = "SELECT count(*) FROM tally.rollups_daily_pending WHERE site_id = 1 AND day = to_timestamp(1711843200 - 3 * 86400)";
    assert_eq!(db.value::<i64>(pending).await, 1, "the late event's day is not queued");
    assert_eq!(db.value::<i64>(&days_of(1)).await, site1_days - 1, "the late event's day kept its daily rows");
    assert_eq!(db.value::<i64>(&days_of(2)).await, site2_days, "another site's days lost their daily rows");
    assert_eq!(db.value::<i64>(weeks).await, 1, "the late event's week kept its weekly rows");
    db.query("SELECT tally.build_daily_rollups()").await;
    let (daily, summed) = daily_and_summed(&db).await;
    assert_eq!(db.value::<i64>(&days_of(1)).await, site1_days);
    assert_eq!(db.value::<i64>(weeks).await, 2, "the late event's week was not built again");
    let late_page = "SELECT count(*) FROM tally.rollup_rows WHERE site_id = 1 AND dimension = 'page' AND value = '/late'";
    assert_eq!(db.value::<i64>(late_page).await, 1, "the late event's hour lacks its page");
    assert_eq!(daily, summed, "rebuilt daily rows differ from the sums of their hours");

    // Erasure rewrites the erased visitor's hours; retention drops whole days.
    let visitor: i64 = db.value("SELECT visitor_id FROM tally.events WHERE site_id = 1 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").await;
    db.client.execute("SELECT tally.erase_visitor(1, $1)", &[&visitor]).await.unwrap();
    assert!(db.value::<i64>("SELECT count(*) FROM tally.rollups_daily_pending").await > 0, "erasure queued no day");
    db.query("SELECT tally.build_daily_rollups()").await;
    let (daily, summed) = daily_and_summed(&db).await;
    assert_eq!(daily, summed, "daily rows still count the erased visitor");
    let horizon = format!("(to_timestamp({}) + interval '36 hours 20 minutes')", END_US / 1_000_000 - 4 * 86_400);
    db.query(&format!("UPDATE tally.sites SET retention = now() - {horizon}")).await;
    db.query("SELECT tally.apply_retention()").await;
    db.query("SELECT tally.build_daily_rollups()").await;
    let expired = format!("SELECT count(*) FROM tally.rollups_daily WHERE day < {horizon} - interval '1 hour'");
    assert_eq!(db.value::<i64>(&expired).await, 0, "daily rows of expired hours");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.rollups_weekly").await, 0, "weekly rows of expired hours");
    let (daily, summed) = daily_and_summed(&db).await;
    assert!(daily.len() >= 4, "retention left {} daily rows", daily.len());
    assert_eq!(daily, summed, "daily rows still count expired events");
}
