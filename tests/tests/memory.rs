//! What a call reads is freed when the call ends, not when the transaction does.
//!
//! pgrx converts SPI values in the parent of SPI's memory context, which inside a
//! function is TopTransactionContext: every `tally.query` used to leave the segments it
//! read allocated until COMMIT (36 MB per 30-day call on a 3M-event site), and
//! `tally.evaluate_alerts`, many scans in one statement, grew a backend to gigabytes.
//! Each test repeats a call many times in one transaction and checks that the
//! backend's memory grows by less than what ONE call reads.

use tally_tests::TestDb;

/// 2024-03-31 00:00 UTC.
const END_US: i64 = 1_711_843_200_000_000;
const CALLS: usize = 20;

/// A site whose segments are large enough to be stored out of line (TOAST), which is
/// what reading them detoasts into fresh memory.
async fn compacted() -> (TestDb, i64) {
    let db = TestDb::create().await;
    db.load(40_000, 4, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    let bytes: i64 = db.value("SELECT sum(pg_column_size(data))::int8 FROM tally.segments").await;
    assert!(bytes > 100_000, "segments too small to test with: {bytes} bytes");
    (db, bytes)
}

/// Bytes of every memory context of this backend.
async fn backend_bytes(db: &TestDb) -> i64 {
    db.value("SELECT sum(total_bytes)::int8 FROM pg_backend_memory_contexts").await
}

/// Runs `call` once (so caches and plans are warm), then CALLS more times in the same
/// transaction, and returns how much the backend grew over those CALLS calls.
async fn growth_in_one_transaction(db: &TestDb, call: &str) -> i64 {
    db.query("BEGIN").await;
    db.query(call).await;
    let before = backend_bytes(db).await;
    for _ in 0..CALLS {
        db.query(call).await;
    }
    let after = backend_bytes(db).await;
    db.query("COMMIT").await;
    after - before
}

#[tokio::test]
async fn repeated_queries_in_one_transaction_do_not_keep_their_segments() {
    let (db, segment_bytes) = compacted().await;
    let call = r#"SELECT tally.query('{"site_id": 1, "date_range": ["2024-03-27", "2024-03-30"],
                  "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}')"#;
    let growth = growth_in_one_transaction(&db, call).await;
    assert!(growth < segment_bytes, "{CALLS} queries grew the backend by {growth} bytes; one reads {segment_bytes}");
}

#[tokio::test]
async fn repeated_rollup_rebuilds_in_one_transaction_do_not_keep_their_segments() {
    let (db, segment_bytes) = compacted().await;
    let call = "SELECT tally.rebuild_rollups(1, '2024-03-27', '2024-03-31')";
    let growth = growth_in_one_transaction(&db, call).await;
    assert!(growth < segment_bytes, "{CALLS} rebuilds grew the backend by {growth} bytes; one reads {segment_bytes}");
}
