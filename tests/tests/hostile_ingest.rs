//! The ingest endpoints are public: what an attacker (or a buggy client) sends must
//! cost only its own events. Poison events (NUL and control characters in every text
//! field, `?utm_source=%00`) sent alongside good ones under load; rows Postgres refuses
//! for their data, live and in the spool; transient errors (a lock timeout) while
//! writing and replaying; late events far back; and the server log stays free of
//! warnings through all of it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_core::event::Event;
use tally_gateway::ingest::encoded::EncodedBatch;
use tally_gateway::ingest::spool::Spool;
use tally_tests::cluster::{connect, server_log};
use tally_tests::{Tally, TestDb, TestGateway};
use tokio::task::JoinSet;

const SITE: &str = "p.example";

/// A Postgres CHECK that refuses events named `refused` (SQLSTATE 23514): a row the
/// gateway's validation passes and Postgres refuses, standing for whatever validation
/// might miss.
const REFUSE: &str = "ALTER TABLE tally.events_hot ADD CONSTRAINT refuse_test CHECK (name <> 'refused')";

/// The server log from `offset` on.
fn log_since(offset: u64) -> String {
    let bytes = std::fs::read(server_log()).expect("read the cluster's server log");
    String::from_utf8_lossy(&bytes[(offset as usize).min(bytes.len())..]).into_owned()
}

fn log_len() -> u64 {
    std::fs::metadata(server_log()).map(|m| m.len()).unwrap_or(0)
}

/// A site and an ingest key for it.
async fn with_key(t: &Tally, domain: &str) -> String {
    let site: i32 = t.db.value(&format!("SELECT tally.create_site('{domain}')")).await;
    t.db.value(&format!("SELECT key FROM tally.create_ingest_key({site})")).await
}

/// One request: an endpoint, its body, and what must come of it (`None`: 202, else
/// 400 naming the field).
struct Attempt {
    path: &'static str,
    body: Value,
    refused_field: Option<&'static str>,
}

/// The poison variants, by number.
fn poison(i: usize) -> Attempt {
    let url = format!("https://{SITE}/poison/{i}");
    let event = |body: Value, field| Attempt { path: "/api/event", body, refused_field: field };
    match i % 8 {
        0 => event(json!({"name": "x\u{0}", "url": url, "domain": SITE}), Some("name")),
        1 => event(json!({"name": "pageview", "url": format!("{url}?utm_source=%00&utm_campaign=%00%01%FF"), "domain": SITE}), None),
        2 => event(json!({"name": "pageview", "url": url, "domain": SITE, "props": {"k": "v\u{0}"}}), Some("props.k")),
        3 => event(json!({"name": "pageview", "url": url, "domain": format!("{SITE}\u{0}")}), Some("domain")),
        4 => event(json!({"name": "pageview", "url": url, "domain": SITE, "props": {"k\u{1b}": "v"}}), Some("props.k\u{1b}")),
        5 => event(json!({"name": "pageview", "url": url, "domain": SITE, "referrer": "https://r.example/a\u{0}b"}), None),
        6 => event(json!({"name": "pageview", "url": url, "domain": SITE, "p": "{\"k\":\"\\u0000\"}"}), Some("props.k")),
        _ => Attempt {
            path: "/api/v1/events",
            body: json!([{"name": "pageview", "url": url, "id": "id\u{0}"}]),
            refused_field: Some("events[0].id"),
        },
    }
}

#[tokio::test]
async fn poison_events_under_load_cost_only_themselves() {
    let log_start = log_len();
    // A batch window, so every batch mixes good and poison events.
    let t = Tally::start_with(|c| c.batch_max_wait_ms = 20).await;
    let key = with_key(&t, SITE).await;
    let mut attempts: Vec<(bool, Attempt)> = (0..100)
        .map(|i| {
            let good = json!({"name": "pageview", "url": format!("https://{SITE}/good/{i}"), "domain": SITE});
            (true, Attempt { path: "/api/event", body: good, refused_field: None })
        })
        .collect();
    attempts.extend((0..100).map(|i| (false, poison(i))));
    let mut sends = JoinSet::new();
    for (good, attempt) in attempts {
        let (http, base, key) = (t.gateway.http.clone(), t.gateway.base.clone(), key.clone());
        sends.spawn(async move {
            let resp = http.post(format!("{base}{}", attempt.path)).bearer_auth(key).json(&attempt.body).send().await.expect("POST");
            let (status, body) = tally_tests::gateway::decode(resp).await;
            (good, attempt, status, body)
        });
    }
    let mut stored_poison = 0;
    while let Some(sent) = sends.join_next().await {
        let (good, attempt, status, body) = sent.unwrap();
        match (good, attempt.refused_field) {
            (true, _) => assert_eq!(status, 202, "a good event was refused: {body}"),
            (false, None) => {
                assert_eq!(status, 202, "{} → {body}", attempt.body);
                stored_poison += 1;
            }
            (false, Some(field)) => {
                assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{} → {body}", attempt.body);
            }
        }
    }
    let good: i64 = t.db.value("SELECT count(DISTINCT pathname) FROM tally.events WHERE pathname LIKE '/good/%'").await;
    assert_eq!(good, 100, "every good event acknowledged is stored");
    let poison: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE pathname LIKE '/poison/%'").await;
    assert_eq!(poison, stored_poison, "normalised poison is stored, refused poison is not");
    let sources: i64 = t.db.value("SELECT count(utm_source) FROM tally.events WHERE pathname LIKE '/poison/%'").await;
    assert_eq!(sources, 0, "`utm_source=%00` is no UTM source");
    let campaigns: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE utm_campaign = '\u{fffd}'").await;
    assert_eq!(
        campaigns,
        (0..100).filter(|i| i % 8 == 1).count() as i64,
        "`%00%01%FF` is U+FFFD: controls removed, invalid UTF-8 replaced"
    );
    let referrer: String = t.db.value("SELECT referrer FROM tally.events WHERE referrer LIKE 'https://r.example/%' LIMIT 1").await;
    assert_eq!(referrer, "https://r.example/a%00b", "the URL parser percent-encodes control characters");

    // Ingest leaves nothing to warn about (a relcache reference leak did, every batch).
    let warnings: Vec<String> = log_since(log_start).lines().filter(|l| l.contains("WARNING")).map(str::to_string).collect();
    assert!(warnings.is_empty(), "server log warnings after ingest: {:?}", &warnings[..warnings.len().min(5)]);
}

#[tokio::test]
async fn a_batch_refuses_its_bad_events_one_by_one() {
    let t = Tally::start().await;
    let key = with_key(&t, SITE).await;
    let batch = json!([
        {"name": "pageview", "url": format!("https://{SITE}/1")},
        {"name": "page\u{0}view", "url": format!("https://{SITE}/2")},
        {"name": "pageview", "url": format!("https://{SITE}/3"), "timestamp": "2000-01-01T00:00:00Z"},
        {"name": "pageview", "url": format!("https://{SITE}/4"), "user_agent": "Mozilla/5.0\u{7}"},
        {"name": "pageview", "url": format!("https://{SITE}/5")}
    ]);
    let auth = format!("Bearer {key}");
    let (status, body) =
        t.gateway.post_raw("/api/v1/events", &[("authorization", &auth), ("content-type", "application/json")], batch.to_string()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    let refused: Vec<(u64, &str)> =
        body["rejected"].as_array().unwrap().iter().map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap())).collect();
    assert_eq!(refused, vec![(1, "events[1].name"), (2, "events[2].timestamp"), (3, "events[3].user_agent")]);
    assert!(body["rejected"][1]["error"].as_str().unwrap().contains("days old"), "{body}");
    let stored: Vec<String> = t.sql("SELECT pathname FROM tally.events ORDER BY 1").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, vec!["/1", "/5"]);

    // Nothing good in it: the request is refused, naming the first bad event.
    let bad = json!([{"name": "x\u{0}", "url": format!("https://{SITE}/")}, {"name": "y"}]).to_string();
    let (status, body) = t.gateway.post_raw("/api/v1/events", &[("authorization", &auth), ("content-type", "application/json")], bad).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("events[0].name")), "{body}");
}

#[tokio::test]
async fn a_row_postgres_refuses_fails_only_its_own_request() {
    let t = Tally::start_with(|c| c.batch_max_wait_ms = 20).await;
    t.sql(&format!("SELECT tally.create_site('{SITE}')")).await;
    t.sql(REFUSE).await;
    let mut sends = JoinSet::new();
    for i in 0..100 {
        let name = if i % 2 == 0 { "pageview" } else { "refused" };
        let body = json!({"name": name, "url": format!("https://{SITE}/{i}"), "domain": SITE});
        let (http, base) = (t.gateway.http.clone(), t.gateway.base.clone());
        sends.spawn(async move {
            let resp = http.post(format!("{base}/api/event")).json(&body).send().await.expect("POST");
            (name, tally_tests::gateway::decode(resp).await)
        });
    }
    while let Some(sent) = sends.join_next().await {
        let (name, (status, body)) = sent.unwrap();
        if name == "refused" {
            assert_eq!((status, body["field"].as_str()), (400, Some("body")), "{body}");
            assert!(body["error"].as_str().unwrap().contains("23514"), "{body}");
        } else {
            assert_eq!(status, 202, "another request's bad row failed a good one: {body}");
        }
    }
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 50);
}

/// Writes `events` as one spooled batch into `dir`, as a gateway would have while
/// Postgres was unreachable.
fn spool_batch(dir: &Path, events: &[Event]) {
    let _ = std::fs::remove_dir_all(dir);
    let spool = Spool::open(dir, u64::MAX).expect("open the spool");
    spool.append(&EncodedBatch::encode(events.iter().map(|e| (e, None)))).expect("spool a batch");
}

fn batch_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "batch")).collect())
        .unwrap_or_default();
    files.sort();
    files
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_spooled_batch_sets_aside_only_the_rows_postgres_refuses() {
    let db = TestDb::create().await;
    let site: i32 = db.value(&format!("SELECT tally.create_site('{SITE}')")).await;
    db.query(REFUSE).await;
    let now = chrono::Utc::now().timestamp_micros();
    let events: Vec<Event> = (0..20)
        .map(|i| Event {
            site_id: site,
            ts: now - i * 1_000_000,
            // Row 7 breaks the CHECK (23514); row 13 holds a NUL, which text refuses (22021).
            name: match i {
                7 => "refused".into(),
                13 => "nul\0".into(),
                _ => "pageview".into(),
            },
            hostname: SITE.into(),
            pathname: format!("/{i}"),
            ..Event::default()
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("tally-hostile-spool-{}", db.name));
    spool_batch(&dir, &events);
    let gateway = TestGateway::start(&db, |c| c.spool_dir = dir.clone()).await;
    wait_for("the spool drains", async || batch_files(&dir).is_empty()).await;

    let stored: Vec<String> = db.query("SELECT pathname FROM tally.events ORDER BY ts DESC").await.iter().map(|r| r.get(0)).collect();
    let expected: Vec<String> = (0..20).filter(|i| *i != 7 && *i != 13).map(|i| format!("/{i}")).collect();
    assert_eq!(stored, expected, "every acknowledged row Postgres takes is stored, once");
    let aside = batch_files(&dir.join("failed"));
    assert_eq!(aside.len(), 2, "{aside:?}");
    let rows: Vec<usize> =
        aside.iter().map(|p| EncodedBatch::from_file(&std::fs::read(p).unwrap()).expect("a set-aside row is a spool file").len()).collect();
    assert_eq!(rows, vec![1, 1], "one file per refused row");
    let metrics = tally_gateway::metrics::render();
    for sqlstate in ["22021", "23514"] {
        assert!(metrics.contains(&format!("tally_ingest_events_set_aside_total{{sqlstate=\"{sqlstate}\"}}")), "{metrics}");
    }
    gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn transient_errors_spool_and_retry_until_postgres_takes_the_batch() {
    let db = TestDb::create().await;
    db.query(&format!("SELECT tally.create_site('{SITE}')")).await;
    // Every gateway connection gives up on a lock after 200 ms (SQLSTATE 55P03).
    db.query(&format!("ALTER DATABASE {} SET lock_timeout = '200ms'", db.name)).await;
    let locker = connect(&db.url).await;
    locker.batch_execute("BEGIN; LOCK TABLE tally.events_hot IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let dir = std::env::temp_dir().join(format!("tally-hostile-spool-{}", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let gateway = TestGateway::start(&db, |c| c.spool_dir = dir.clone()).await;

    // The live write times out on the lock: the batch is spooled and acknowledged.
    let (status, body) =
        gateway.post_json("/api/event", &json!({"name": "pageview", "url": format!("https://{SITE}/x"), "domain": SITE})).await;
    assert_eq!(status, 202, "a lock timeout is no reason to refuse: {body}");
    // The replayer meets the same lock timeout again and again, and keeps the batch.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(batch_files(&dir).len(), 1, "the batch waits in the spool");
    assert!(batch_files(&dir.join("failed")).is_empty(), "a transient error sets nothing aside");

    locker.batch_execute("COMMIT").await.unwrap();
    wait_for("the spool drains", async || batch_files(&dir).is_empty()).await;
    let stored: i64 = db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 1);
    gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_late_event_costs_its_own_hours_not_the_years_between() {
    let t = Tally::start().await;
    let key = with_key(&t, SITE).await;
    let auth = format!("Bearer {key}");
    let post = async |timestamp: String| {
        let body = json!([{"name": "pageview", "url": format!("https://{SITE}/"), "timestamp": timestamp}]).to_string();
        t.gateway.post_raw("/api/v1/events", &[("authorization", &auth), ("content-type", "application/json")], body).await
    };
    // Beyond the horizon (TALLY_MAX_EVENT_AGE_DAYS, 730 days by default): refused.
    let (status, body) = post("2000-01-01T00:00:00Z".into()).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("events[0].timestamp")), "{body}");
    // Inside it: one event 700 days back, beside today's.
    let now = chrono::Utc::now();
    for ts in [now - chrono::Duration::days(700), now - chrono::Duration::minutes(1)] {
        let (status, body) = post(ts.to_rfc3339()).await;
        assert_eq!(status, 202, "{body}");
    }
    t.sql("SELECT tally.compact(true)").await;
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 2);
    // The old event's hours, and their one or two days, are recomputed: not 700 days.
    let days: i64 = t.db.value("SELECT count(*) FROM tally.rollups_daily_pending").await;
    assert!((1..=3).contains(&days), "{days} days queued for daily rollups");
    let hours: i64 = t.db.value("SELECT count(DISTINCT hour) FROM tally.rollups WHERE dimension = 'total'").await;
    assert!((1..=6).contains(&hours), "{hours} hours of rollups");
}

#[tokio::test]
async fn a_compaction_pass_never_locks_the_partition_writers_move_to_next() {
    let t = Tally::start().await;
    t.sql(&format!("SELECT tally.create_site('{SITE}')")).await;
    let db = connect(&t.db.url).await;
    // What the background worker's pass locks, seen from inside its transaction; one
    // transaction start, so one current generation throughout.
    db.batch_execute("BEGIN; SELECT tally.compact(false)").await.unwrap();
    let current: i16 = db.query_one("SELECT tally.hot_generation()", &[]).await.unwrap().get(0);
    let locked: Vec<String> = db
        .query(
            "SELECT DISTINCT c.relname::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE l.pid = pg_backend_pid() AND c.relkind = 'r' AND c.relname LIKE 'events_hot\\_%' AND l.mode IN ('ExclusiveLock', 'AccessExclusiveLock') \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    db.batch_execute("COMMIT").await.unwrap();
    let mut expected: Vec<String> = [2, 3].map(|ahead| format!("events_hot_{}", (current + ahead) % 4)).into();
    expected.sort();
    assert_eq!(locked, expected, "the current partition ({current}) and the next are left to the writers");
}

/// Behind a trusted proxy the visitor is the right-most `X-Forwarded-For` address that is
/// not a proxy of ours: addresses a client writes into the header itself (left of it)
/// cannot make one person many visitors, nor take another's visitor id.
#[tokio::test]
async fn a_spoofed_forwarded_for_does_not_choose_the_visitor() {
    let t = Tally::start_with(|c| c.trust_proxy = true).await;
    t.sql("SELECT tally.create_site('proxied.example')").await;
    // The test gateway's peer, 127.0.0.1, is within the default trusted proxies.
    for (path, forwarded) in [("/a", "1.1.1.1, 203.0.113.7"), ("/b", "9.9.9.9, 203.0.113.7"), ("/c", "198.51.100.2")] {
        let body = json!({"n": "pageview", "u": format!("https://proxied.example{path}"), "d": "proxied.example"}).to_string();
        let (status, _) =
            t.gateway.post_raw("/api/event", &[("Content-Type", "application/json"), ("X-Forwarded-For", forwarded)], body).await;
        assert_eq!(status, 202, "{path}");
    }
    let rows = t.sql("SELECT pathname, visitor_id FROM tally.events ORDER BY pathname").await;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(ids[0], ids[1], "the spoofed left-most entries are ignored: one client, one visitor");
    assert_ne!(ids[0], ids[2], "another client is another visitor");
}
