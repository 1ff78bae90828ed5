//! Hourly rollups through real Postgres: compaction keeps them equal to a rebuild
//! from raw events, rebuilding is idempotent, and their figures (counts, visits,
//! bounces, durations, the visitors sketch) match the same questions asked of the
//! raw events.

use tally_tests::TestDb;

/// A fixed end time (2024-03-31 00:00 UTC) so hours are reproducible.
const END_US: i64 = 1_711_843_200_000_000;

/// Every rollup row, every column, in a canonical order.
async fn snapshot(db: &TestDb) -> Vec<String> {
    db.query("SELECT r::text FROM tally.rollups r ORDER BY site_id, dimension, hour, value NULLS FIRST")
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

#[tokio::test]
async fn rollup_figures_match_the_raw_events() {
    let db = TestDb::create().await;
    db.load(10_000, 4, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let row = db
        .client
        .query_one(
            "WITH raw AS (SELECT * FROM tally.events WHERE site_id = 1),
                  visit AS (SELECT session_id, count(*) FILTER (WHERE name = 'pageview') pv,
                                   (extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint ms
                            FROM raw GROUP BY 1),
                  r AS (SELECT * FROM tally.rollups WHERE site_id = 1 AND dimension = 'total')
             SELECT (SELECT count(*) FROM raw) = (SELECT sum(events) FROM r),
                    (SELECT count(*) FILTER (WHERE name = 'pageview') FROM raw) = (SELECT sum(pageviews) FROM r),
                    (SELECT count(*) FROM visit) = (SELECT sum(visits) FROM r),
                    (SELECT count(*) FILTER (WHERE pv <= 1) FROM visit) = (SELECT sum(bounces) FROM r),
                    (SELECT sum(ms) FROM visit) = (SELECT sum(visit_duration_ms) FROM r),
                    (SELECT coalesce(sum(engagement_ms), 0) FROM raw) = (SELECT sum(engagement_ms) FROM r),
                    (SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor_id))::text FROM raw)
                        = (SELECT tally.hll_union_agg(visitors)::text FROM r),
                    (SELECT sum(events) FROM tally.rollups WHERE site_id = 1 AND dimension = 'page')
                        = (SELECT count(*) FROM raw),
                    (SELECT sum(visits) FROM tally.rollups WHERE site_id = 1 AND dimension = 'source')
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
    let pages: i64 = db.value("SELECT count(DISTINCT value) FROM tally.rollups WHERE dimension = 'page'").await;
    assert!(pages > 5, "{pages} pages");
}

#[tokio::test]
async fn rebuild_refuses_an_empty_range() {
    let db = TestDb::create().await;
    db.assert_error_with_hint("SELECT tally.rebuild_rollups(1, now(), now() - interval '1 day')", "to_ts must be after from_ts").await;
}
