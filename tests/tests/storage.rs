//! Columnar storage through real Postgres: compaction keeps every event exactly,
//! reads prune by site and time, corrupt segments are named, retention and erasure
//! remove what they must and nothing else, and pg_dump carries segments along.

use tally_tests::cluster::{connect, repo_root, url_of};
use tally_tests::TestDb;

/// A fixed end time (2024-03-31 00:00 UTC) so day boundaries are reproducible.
const END_US: i64 = 1_711_843_200_000_000;

/// A fingerprint of every event: all columns, in a canonical order.
const FINGERPRINT: &str = "SELECT count(*), md5(string_agg(e::text, '|' ORDER BY e::text)) FROM tally.events e";

async fn fingerprint(db: &TestDb) -> (i64, String) {
    let row = db.client.query_one(FINGERPRINT, &[]).await.unwrap();
    (row.get(0), row.get(1))
}

async fn loaded(events: u64, days: u32, sites: u32) -> TestDb {
    let db = TestDb::create().await;
    assert_eq!(db.load(events, days, sites, END_US).await, events);
    db
}

#[tokio::test]
async fn compaction_moves_every_event_into_segments_unchanged() {
    let db = loaded(20_000, 7, 3).await;
    let before = fingerprint(&db).await;
    assert_eq!(before.0, 20_000);
    let moved: i64 = db.value("SELECT tally.compact()").await;
    assert_eq!(moved, 20_000);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events_hot").await, 0);
    let (segments, rows): (i64, i64) = {
        let r = db.client.query_one("SELECT count(*), sum(row_count)::int8 FROM tally.segments", &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert!(segments >= 3 * 7, "one segment per site and day at least, got {segments}");
    assert_eq!(rows, 20_000);
    assert_eq!(fingerprint(&db).await, before, "every column of every event survives compaction");
    // Calling it again with nothing hot is a no-op.
    assert_eq!(db.value::<i64>("SELECT tally.compact()").await, 0);
    assert_eq!(fingerprint(&db).await, before);
}

#[tokio::test]
async fn small_segments_of_a_day_merge_into_one() {
    // Each pass writes a segment per site and day; past days are merged back to one.
    let db = loaded(2_000, 2, 1).await;
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 2, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 2, 1, END_US).await;
    let before = fingerprint(&db).await;
    assert_eq!(before.0, 6_000);
    db.query("SELECT tally.compact()").await;
    let per_day: Vec<i64> = db.query("SELECT count(*) FROM tally.segments GROUP BY day").await.iter().map(|r| r.get(0)).collect();
    assert!(per_day.iter().all(|&n| n == 1), "segments per day after merging: {per_day:?}");
    assert_eq!(fingerprint(&db).await, before);
}

/// Adds `rows` hot events of site 1 at the current time and compacts them.
async fn compact_rows_now(db: &TestDb, rows: i32) {
    db.client
        .execute(
            "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname) \
             SELECT 1, now(), 'pageview', g, g, 'a.example', '/p' || g % 7 FROM generate_series(1, $1) g",
            &[&rows],
        )
        .await
        .unwrap();
    db.query("SELECT tally.compact()").await;
}

#[tokio::test]
async fn todays_merges_join_like_sizes_and_leave_a_large_segment_alone() {
    let db = TestDb::create().await;
    db.query("SELECT tally.create_site('a.example')").await;
    db.query("SET tally.merge_threshold = 2").await;
    let day: String = db.value("SELECT ((now() AT TIME ZONE 'UTC')::date)::text").await;
    compact_rows_now(&db, 5_000).await;
    let large: i64 = db.value("SELECT segment_id FROM tally.segments").await;
    for _ in 0..4 {
        compact_rows_now(&db, 10).await;
    }
    // A merge's output joins its new tier's merges on the next pass.
    db.query("SELECT tally.compact()").await;
    // Tiers of base 2: 5,000 rows alone in tier 12; the four 10-row segments merged
    // pairwise (tier 3 -> 4) and then once more (tier 5), one segment of 40 rows.
    let sizes: Vec<i32> = db.query("SELECT row_count FROM tally.segments ORDER BY row_count").await.iter().map(|r| r.get(0)).collect();
    let survivor: i64 = db.value("SELECT count(*) FROM tally.segments WHERE row_count = 5000").await;
    if db.value::<String>("SELECT ((now() AT TIME ZONE 'UTC')::date)::text").await != day {
        return; // midnight UTC passed: the day is a past day now, merged whole by design
    }
    assert_eq!(sizes, [40, 5_000], "like sizes merge, the large segment stays");
    assert_eq!(survivor, 1);
    assert_eq!(db.value::<i64>(&format!("SELECT count(*) FROM tally.segments WHERE segment_id = {large}")).await, 1, "never rewritten");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events").await, 5_040);
}

#[tokio::test]
async fn ranged_reads_touch_only_overlapping_segments_and_name_corrupt_ones() {
    let db = loaded(10_000, 5, 1).await;
    db.query("SELECT tally.compact()").await;
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.segments WHERE day = '2024-03-27'").await, 1);
    let day_count: i64 = db.value("SELECT count(*) FROM tally.events WHERE site_id = 1 AND ts >= '2024-03-29' AND ts < '2024-03-30'").await;
    assert!(day_count > 0);
    // Damage the segment of another day: a one-day read never decodes it...
    let bad: i64 = db
        .value("UPDATE tally.segments SET data = overlay(data placing '\\xdeadbeef' from 20) WHERE day = '2024-03-27' RETURNING segment_id")
        .await;
    let ranged: i64 = db.value("SELECT count(*) FROM tally.events(1, '2024-03-29', '2024-03-30')").await;
    assert_eq!(ranged, day_count);
    // ...while a read that decodes it fails with an error naming it, never wrong rows
    // (a bare count(*) of whole segments is their stored row counts, decoding nothing).
    let err = db.client.query("SELECT count(DISTINCT pathname) FROM tally.events(1, '2024-03-26', '2024-03-31')", &[]).await.unwrap_err();
    let message = err.as_db_error().expect("a database error").message().to_string();
    assert!(message.contains(&format!("segment {bad}")), "{message}");
}

#[tokio::test]
async fn the_view_and_the_ranged_function_agree_with_hot_and_compacted_rows_mixed() {
    let db = loaded(5_000, 4, 2).await;
    db.query("SELECT tally.compact()").await;
    db.load(3_000, 4, 2, END_US).await;
    assert!(db.value::<i64>("SELECT count(*) FROM tally.events_hot").await > 0, "some rows stay hot");
    let via_view: Vec<(String, i64)> = db
        .query("SELECT pathname, count(*) FROM tally.events WHERE site_id = 2 AND ts >= '2024-03-28' AND ts < '2024-03-30' GROUP BY 1 ORDER BY 1")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let via_function: Vec<(String, i64)> = db
        .query("SELECT pathname, count(*) FROM tally.events(2, '2024-03-28', '2024-03-30') GROUP BY 1 ORDER BY 1")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!via_view.is_empty());
    assert_eq!(via_view, via_function);
}

#[tokio::test]
async fn retention_drops_only_expired_events() {
    let db = loaded(6_000, 10, 2).await;
    db.query("SELECT tally.compact()").await;
    db.load(4_000, 10, 2, END_US).await;
    // Site 1 keeps 3 days counted back from the data's end; site 2 keeps everything.
    let horizon = "(TIMESTAMPTZ '2024-03-31' - interval '3 days')";
    let expected_kept: i64 = db.value(&format!("SELECT count(*) FROM tally.events WHERE site_id <> 1 OR ts >= {horizon}")).await;
    db.query(&format!("UPDATE tally.sites SET retention = now() - {horizon} WHERE site_id = 1")).await;
    let removed: i64 = db.value("SELECT tally.apply_retention()").await;
    assert_eq!(removed, 10_000 - expected_kept);
    let old: i64 = db.value(&format!("SELECT count(*) FROM tally.events WHERE site_id = 1 AND ts < {horizon}")).await;
    assert_eq!(old, 0);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events").await, expected_kept);
}

#[tokio::test]
async fn erasing_a_visitor_removes_their_events_everywhere() {
    let db = loaded(7_000, 3, 1).await;
    db.query("SELECT tally.compact()").await;
    db.load(3_000, 3, 1, END_US).await;
    // The visitor with the most events, so they are spread over hot rows and segments.
    let visitor: i64 = db.value("SELECT visitor_id FROM tally.events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").await;
    let theirs: i64 = db.value(&format!("SELECT count(*) FROM tally.events WHERE visitor_id = {visitor}")).await;
    let removed: i64 = db.value(&format!("SELECT tally.erase_visitor(1, {visitor})")).await;
    assert_eq!(removed, theirs);
    assert_eq!(db.value::<i64>(&format!("SELECT count(*) FROM tally.events WHERE visitor_id = {visitor}")).await, 0);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events").await, 10_000 - theirs);
}

/// A scan keeps the segment bytes it read for the connection's next scans
/// (`tally.segment_cache_mb`); segments rewritten since (an erasure here, merges alike)
/// must be read anew, never answered from the kept bytes.
#[tokio::test]
async fn the_segment_cache_never_answers_from_rewritten_segments() {
    let db = loaded(7_000, 3, 1).await;
    db.query("SELECT tally.compact()").await;
    db.query("SET tally.query_rollups = off").await;
    let query = serde_json::json!({"site_id": 1, "date_range": ["2024-03-27", "2024-03-30"], "metrics": ["events", "visitors"]});
    let ask = || async {
        let answer: serde_json::Value = db.client.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
        assert_eq!(answer["meta"]["path"], "scan", "{answer}");
        answer["results"][0]["metrics"].clone()
    };
    let before = ask().await;
    assert_eq!(ask().await, before, "the same answer from the kept segments");
    let visitor: i64 = db.value("SELECT visitor_id FROM tally.events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").await;
    db.query(&format!("SELECT tally.erase_visitor(1, {visitor})")).await;
    let after = ask().await;
    assert_ne!(after, before, "the erased visitor's events are gone");
    db.query("SET tally.segment_cache_mb = 0").await;
    assert_eq!(ask().await, after, "what a scan without the cache reads");
}

#[tokio::test]
async fn pg_dump_and_restore_carry_segments_and_hot_rows() {
    let db = loaded(3_000, 3, 2).await;
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 3, 2, END_US).await;
    let before = fingerprint(&db).await;
    let restored = format!("{}_restored", db.name);
    connect(&url_of("postgres")).await.batch_execute(&format!("CREATE DATABASE {restored}")).await.unwrap();
    let script = format!("pg_dump -Fc '{}' | pg_restore --exit-on-error -d '{}'", db.url, url_of(&restored));
    let out = std::process::Command::new("bash").args(["-o", "pipefail", "-c", &script]).current_dir(repo_root()).output().unwrap();
    assert!(out.status.success(), "dump/restore failed: {}", String::from_utf8_lossy(&out.stderr));
    let copy = connect(&url_of(&restored)).await;
    let row = copy.query_one(FINGERPRINT, &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1)), before);
}
