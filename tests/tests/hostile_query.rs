//! Queries from a hostile or careless viewer: whatever a signed-in user asks, a backend
//! does bounded work, stops within about 100 ms when its statement times out or is
//! cancelled, and stops at once when the client hangs up. Crafted segment bytes handed
//! to the extension's SQL functions fail with an error, within bounded memory.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_core::event::Event;
use tally_gateway::statement::Cancellable;
use tally_tests::cluster::connect;
use tally_tests::{Tally, TestDb};

/// 2024-03-31 00:00 UTC.
const END_US: i64 = 1_711_843_200_000_000;

/// A query that scans every event of site 1 into many groups.
fn heavy_query() -> Value {
    json!({
        "site_id": 1, "date_range": ["2024-03-03", "2024-03-30"],
        "metrics": ["visitors", "visits", "bounce_rate", "visit_duration", "pageviews"],
        "dimensions": ["visit:city", "event:page", "time:hour", "visit:browser_version"]
    })
}

/// 50 variants of [`heavy_query`] (each filter its own): a batch shares one scan among
/// them, so that scan works through every segment 50 times over, seconds of Rust
/// without a Postgres call in between.
fn heavy_batch() -> Value {
    let dimensions =
        [json!(["visit:city", "event:page"]), json!(["time:hour", "visit:browser_version"]), json!(["event:page", "visit:os"])];
    Value::Array(
        (0..50)
            .map(|i| {
                let mut q = heavy_query();
                q["dimensions"] = dimensions[i % 3].clone();
                q["filters"] = json!([["is_not", "visit:country", [format!("X{i}")]]]);
                q
            })
            .collect(),
    )
}

/// A database with enough compacted events that [`heavy_batch`] takes a while, scanned
/// without rollups and on one thread so the scan is all there is.
async fn heavy() -> TestDb {
    let db = TestDb::create().await;
    db.load(600_000, 28, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.client
        .batch_execute(&format!(
            "ALTER DATABASE {0} SET tally.query_rollups = off; ALTER DATABASE {0} SET tally.query_threads = 1",
            db.name
        ))
        .await
        .expect("settings");
    db
}

/// How long `sql` takes, and its error's SQLSTATE if it fails.
async fn timed(client: &tokio_postgres::Client, sql: &str) -> (Duration, Option<String>) {
    let start = Instant::now();
    let result = client.batch_execute(sql).await;
    (start.elapsed(), result.err().map(|e| e.code().map_or_else(|| e.to_string(), |c| c.code().to_owned())))
}

fn heavy_sql() -> String {
    format!("SELECT tally.query_batch('{}')", heavy_batch())
}

#[tokio::test]
async fn queries_asking_for_too_much_are_refused_naming_the_field() {
    let t = Tally::with_site("a.example").await;
    let viewer = t.user_with_role("a.example", "viewer").await;
    let base = || json!({"site_id": "a.example", "date_range": "7d", "metrics": ["visitors"]});
    let with = |changes: Value| {
        let mut q = base();
        for (k, v) in changes.as_object().unwrap() {
            q[k] = v.clone();
        }
        q
    };
    let nested = (0..9).fold(json!(["is", "event:page", ["/"]]), |inner, _| json!(["not", inner]));
    let wide: Vec<String> = (0..1_001).map(|i| format!("/{i}")).collect();
    let many: Vec<Value> = (0..65).map(|i| json!(["is", "event:page", [format!("/{i}")]])).collect();
    let cases = [
        (with(json!({"filters": [nested]})), "filters[0][1][1][1][1][1][1][1][1]"),
        (with(json!({"filters": [["is", "event:page", wide]]})), "filters[0][2]"),
        (with(json!({"filters": many})), "filters[64]"),
        (with(json!({"filters": [["is", "event:page", ["/".repeat(5_000)]]]})), "filters[0][2][0]"),
        (with(json!({"filters": [["matches", "event:page", ["(((a{100}){100}){100})"]]]})), "filters[0][2][0]"),
        (with(json!({"date_range": "3000d", "dimensions": ["time:hour"]})), "date_range"),
        (with(json!({"date_range": ["1000-01-01", "9999-12-31"]})), "date_range"),
        // 9,000 years of hourly buckets grew a backend to 14.9 GB.
        (with(json!({"date_range": ["1000-01-01", "9999-12-31"], "dimensions": ["time:hour"]})), "date_range"),
    ];
    for (query, field) in cases {
        let (status, body) = viewer.post("/api/v1/query", query.clone()).await;
        assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{query}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    // The batch endpoint answers each such query with its error, in place.
    let (status, body) = viewer.post("/api/v1/query/batch", json!({"queries": [base(), with(json!({"filters": many}))]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][1]["error"]["field"], "filters[64]", "{body}");
    // The limits leave room: a year of hours and ten years of days are answered.
    for ok in
        [with(json!({"date_range": "year", "dimensions": ["time:hour"]})), with(json!({"date_range": "3650d", "dimensions": ["time:day"]}))]
    {
        let (status, body) = viewer.post("/api/v1/query", ok.clone()).await;
        assert_eq!(status, 200, "{ok}: {body}");
    }
}

#[tokio::test]
async fn statement_timeout_and_cancel_stop_a_scan_within_a_fraction_of_it() {
    let db = heavy().await;
    let client = connect(&db.url).await;
    let (full, failed) = timed(&client, &heavy_sql()).await;
    assert_eq!(failed, None);
    // The bounds below are fractions of the whole scan: it must be long enough to tell.
    assert!(full >= Duration::from_millis(1_500), "the heavy query took only {full:?}");

    client.batch_execute("SET statement_timeout = 200").await.unwrap();
    let (elapsed, failed) = timed(&client, &heavy_sql()).await;
    assert_eq!(failed.as_deref(), Some("57014"), "statement_timeout");
    assert!(elapsed < full / 3, "timed out after {elapsed:?}; the whole query takes {full:?}");
    client.batch_execute("RESET statement_timeout").await.unwrap();

    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let canceller = connect(&db.url).await;
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Instant::now();
        canceller.execute("SELECT pg_cancel_backend($1)", &[&pid]).await.unwrap();
        sent
    });
    let (_, failed) = timed(&client, &heavy_sql()).await;
    let stopped = cancel.await.unwrap().elapsed();
    assert_eq!(failed.as_deref(), Some("57014"), "pg_cancel_backend");
    assert!(stopped < full / 3, "stopped {stopped:?} after the cancel; the whole query takes {full:?}");
    // The backend is fine afterwards.
    assert_eq!(timed(&client, &heavy_sql()).await.1, None);
}

/// Queries of the test database still running, other than the test's own.
async fn running(db: &TestDb) -> i64 {
    db.value(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' AND query LIKE '%tally.query%' \
         AND pid <> pg_backend_pid()",
        db.name
    ))
    .await
}

#[tokio::test]
async fn the_gateway_times_out_slow_queries_and_cancels_those_whose_client_left() {
    let db = heavy().await;
    let gateway = tally_tests::TestGateway::start(&db, |c| c.timeouts.export_timeout_ms = 100).await;
    let t = Tally { db, gateway };
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let (full, failed) = timed(&t.db.client, &heavy_sql()).await;
    assert_eq!(failed, None);
    assert!(full >= Duration::from_millis(1_500), "the heavy query took only {full:?}");

    // A client that gives up after 300 ms: its query is cancelled, not left to run.
    let sent =
        analyst.http.post(format!("{}/api/v1/query", analyst.base)).json(&heavy_query()).timeout(Duration::from_millis(100)).send().await;
    assert!(sent.is_err(), "the heavy query answered within 100 ms");
    let gone = Instant::now();
    while running(&t.db).await > 0 {
        assert!(gone.elapsed() < full / 2, "the query of a client that left still runs after {:?}", gone.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same for a batch, whose shares run on several connections.
    let batch = json!({"queries": heavy_batch()});
    let sent =
        analyst.http.post(format!("{}/api/v1/query/batch", analyst.base)).json(&batch).timeout(Duration::from_millis(300)).send().await;
    assert!(sent.is_err(), "the heavy batch answered within 300 ms");
    let gone = Instant::now();
    while running(&t.db).await > 0 {
        assert!(gone.elapsed() < full / 2, "the batch of a client that left still runs after {:?}", gone.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An export runs out of its 100 ms: 504, naming no internals.
    let start = Instant::now();
    let (status, body) = analyst.post("/api/v1/export", heavy_query()).await;
    assert_eq!(status, 504, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("longer than the server allows")), "{body}");
    assert!(start.elapsed() < full / 2, "the export took {:?}", start.elapsed());
    // The connections that were cancelled serve the next request.
    let small = json!({"site_id": "site1.example", "date_range": "7d", "metrics": ["visitors"]});
    for _ in 0..6 {
        let (status, body) = analyst.post("/api/v1/query", small.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn the_latest_events_are_read_without_decoding_old_segments() {
    let t = Tally::start().await;
    t.db.load(30_000, 20, 1, END_US).await;
    t.sql("SELECT tally.compact()").await;
    let segments: i64 = t.db.value("SELECT count(*) FROM tally.segments WHERE site_id = 1").await;
    assert!(segments >= 3, "{segments} segments");
    // Some events arrive after compaction, a little late: hot rows and segments both
    // hold some of the latest.
    t.sql(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname, props) \
         SELECT site_id, ts - interval '1 hour', name, visitor_id, session_id, hostname, '/late', props \
         FROM tally.events WHERE site_id = 1 ORDER BY ts DESC LIMIT 30",
    )
    .await;
    let expected: Vec<String> = t
        .sql("SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM tally.events WHERE site_id = 1 ORDER BY ts DESC LIMIT 100")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The oldest segments cannot be decoded any more: a reader that decodes them fails.
    let corrupted = t
        .db
        .client
        .execute(
            "UPDATE tally.segments SET data = '\\x544c5953ffffffff'::bytea WHERE site_id = 1 AND max_ts < (SELECT max(min_ts) FROM tally.segments)",
            &[],
        )
        .await
        .unwrap();
    assert!(corrupted >= 2, "{corrupted} segments corrupted");
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let (status, body) = analyst.get("/api/v1/events?site=site1.example&limit=100").await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    let got: Vec<String> = events.iter().map(|e| e["ts"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, expected);
    assert!(events.iter().any(|e| e["pathname"] == "/late") && events.iter().any(|e| e["pathname"] != "/late"));
}

/// The peak resident memory of backend `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("backend status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

#[tokio::test]
async fn crafted_segment_bytes_fail_cleanly_for_any_role() {
    let t = Tally::with_site("a.example").await;
    let analyst = t.user_with_role("a.example", "analyst").await;
    let client = connect(&t.db.url).await;
    client.batch_execute(&format!("SET ROLE \"{}\"", analyst.pg_role)).await.unwrap();
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let call = |bytes: Vec<u8>| {
        let client = &client;
        async move { client.query("SELECT (tally.segment_arrays(1, $1)).site_id", &[&bytes]).await }
    };
    // Rows of one 4 KB string: a 20 KB segment that is 1.2 GB written out.
    let long = "/".repeat(4_096);
    let events: Vec<Event> = (0..300_000).map(|i| Event { site_id: 1, ts: i, pathname: long.clone(), ..Event::default() }).collect();
    let bomb = tally_core::segment::build(&events).unwrap().bytes;
    assert!(bomb.len() < 200_000, "{} bytes", bomb.len());
    let mut header_lies = b"TLYS\x01\xff\xff\xff\xff\x0f".to_vec();
    header_lies.extend_from_slice(&[0; 32]);
    let empty_segment = tally_core::segment::build(&[]).unwrap().bytes;
    for (name, bytes) in
        [("random", (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect()), ("header", header_lies), ("empty", Vec::new()), ("bomb", bomb)]
    {
        let e = call(bytes).await.expect_err(name);
        let db = e.as_db_error().unwrap_or_else(|| panic!("{name}: {e}"));
        assert!(db.message().contains("segment 1"), "{name}: {}", db.message());
        if name == "bomb" {
            assert_eq!(db.code().code(), "54000", "{name}: {}", db.message());
            assert!(db.hint().is_some(), "{name}");
        }
    }
    let peak = peak_rss(pid);
    assert!(peak < 512 << 20, "the backend peaked at {} MB", peak >> 20);
    // The backend survived, and a real segment still decodes.
    assert_eq!(call(empty_segment).await.expect("an empty segment").len(), 1);
}

#[tokio::test]
async fn a_corrupt_segment_fails_its_sites_alert_rule_only() {
    let db = TestDb::create().await;
    db.load(20_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    for site in [1, 2] {
        let rule = json!({"name": "Any traffic", "metric": "visitors", "window_minutes": 1440, "condition": "above", "threshold": 0});
        db.query(&format!("SELECT tally.create_alert_rule({site}, '{rule}')")).await;
    }
    db.query("UPDATE tally.segments SET data = '\\x544c5953ffffffff'::bytea WHERE site_id = 1").await;
    let changes: i32 = db.value(&format!("SELECT tally.evaluate_alerts(to_timestamp({}))", END_US / 1_000_000)).await;
    assert_eq!(changes, 1, "site 2's rule fires");
    let states: Vec<(i32, String, Option<String>)> = db
        .query("SELECT site_id, status, error FROM tally.alert_state ORDER BY site_id")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states[0].2.as_deref().is_some_and(|e| e.contains("cannot be decoded")), "{states:?}");
    assert_eq!((states[1].1.as_str(), states[1].2.as_deref()), ("firing", None), "{states:?}");
}

#[tokio::test]
async fn a_scan_holding_more_than_query_memory_mb_fails_with_a_hint() {
    let db = TestDb::create().await;
    db.load(100_000, 28, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.client.batch_execute("SET tally.query_rollups = off").await.unwrap();
    // 50 views of thousands of groups each: far more than 16 MB.
    db.client.batch_execute("SET tally.query_memory_mb = 16").await.unwrap();
    let e = db.client.batch_execute(&heavy_sql()).await.expect_err("over 16 MB");
    let e = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(e.code().code(), "54000", "{}", e.message());
    assert!(e.message().contains("tally.query_memory_mb"), "{}", e.message());
    assert!(e.hint().is_some_and(|h| h.contains("fewer groups")), "{:?}", e.hint());
    // The default lets it through; a viewer's role may not lift its own limit.
    db.client.batch_execute("RESET tally.query_memory_mb").await.unwrap();
    db.client.batch_execute(&heavy_sql()).await.expect("within the default");
    // Roles are the cluster's: one of this database's own name.
    db.client.batch_execute(&format!("CREATE ROLE {0}_viewer; SET ROLE {0}_viewer", db.name)).await.unwrap();
    let refused = db.client.batch_execute("SET tally.query_memory_mb = 100000").await.expect_err("a viewer raising the limit");
    assert_eq!(refused.code().map(|c| c.code()), Some("42501"), "{refused}");
}

/// A connection dropped with its cancel armed (a handler whose client left, or that
/// returned early with an error after a statement) must not serve the next statement:
/// Postgres signals the backend some time after the cancel request is delivered, so a
/// pooled connection would see the next request's statement cancelled. With one
/// pooled connection, the statement after each armed drop runs to its end.
#[tokio::test]
async fn a_cancelled_connection_never_serves_the_next_statement() {
    let db = TestDb::create().await;
    let pool = tally_gateway::pool::build(&db.url, 1).expect("pool");
    for round in 0..10 {
        let client = Cancellable::new(pool.get().await.expect("a connection"));
        client.query_one("SELECT 1", &[]).await.expect("a statement");
        drop(client);
        let next = pool.get().await.expect("a connection");
        next.query_one("SELECT pg_sleep(0.3)", &[]).await.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
    }
}

/// A segment the engine cannot read is the server's fault, not an outage: the API answers
/// 500 without Retry-After, where a 503 would tell clients to retry what fails again.
#[tokio::test]
async fn an_unreadable_segment_is_a_500_and_not_retry_later() {
    let db = TestDb::create().await;
    db.load(2_000, 3, 1, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.query("UPDATE tally.segments SET data = '\\x544c5953ffffffff'::bytea").await;
    let gateway = tally_tests::TestGateway::start(&db, |_| {}).await;
    let t = Tally { db, gateway };
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let resp = analyst.http.get(format!("{}/api/v1/events?site=site1.example&limit=100", analyst.base)).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("retry-after").is_none(), "{:?}", resp.headers());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"error": "internal error"}));
}
