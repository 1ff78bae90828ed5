//! Dashboards and streams cannot starve ingest or hold up a stop: ingest keeps its own
//! connections while every API connection is stuck, realtime streams are capped and end
//! when their credential does, and SIGTERM stops a gateway with streams open within
//! seconds, committing what it had accepted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tally_tests::cluster::{connect, free_port};
use tally_tests::{Session, Tally};

fn event(i: usize) -> serde_json::Value {
    json!({"name": "pageview", "url": format!("https://shop.example/p{i}"), "domain": "shop.example"})
}

/// Opens `GET /api/v1/realtime?site=shop.example` for `who` and reads its first update.
async fn open_stream(who: &Session) -> reqwest::Response {
    let mut resp = ask_for_stream(who).await;
    assert_eq!(resp.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await.expect("first update").expect("read");
    assert!(first.is_some_and(|c| String::from_utf8_lossy(&c).contains("visitors")));
    resp
}

/// `GET /api/v1/realtime` of shop.example as an event stream, whatever it answers.
async fn ask_for_stream(who: &Session) -> reqwest::Response {
    who.http
        .get(format!("{}/api/v1/realtime?site=shop.example", who.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET realtime")
}

/// Reads `stream` until it ends or `within` passes; returns what it sent and whether it ended.
async fn read_to_end(stream: &mut reqwest::Response, within: Duration) -> (String, bool) {
    let mut text = String::new();
    let ended = tokio::time::timeout(within, async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .is_ok();
    (text, ended)
}

#[tokio::test]
async fn ingest_commits_while_every_api_connection_is_stuck() {
    let t = Tally::with_site("shop.example").await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    // Every stats query writes the audit log first: holding its lock holds each query,
    // and with it an API connection, for as long as the test likes.
    let locker = connect(&t.db.url).await;
    locker.batch_execute("BEGIN; LOCK TABLE tally.audit_log IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let query = json!({"site_id": "shop.example", "date_range": "day", "metrics": ["visitors"]});
    let stuck: Vec<_> = (0..12)
        .map(|_| {
            let (analyst, query) = (analyst.clone(), query.clone());
            tokio::spawn(async move { analyst.post("/api/v1/query", query).await.0 })
        })
        .collect();
    let waiting = || async {
        t.db.value::<i64>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").await
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while waiting().await < 4 {
        assert!(Instant::now() < deadline, "the queries never took the API's connections");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every API connection waits; ingest answers, and 202 means committed, not spooled.
    for i in 0..20 {
        let (status, body) = t.post("/api/event", event(i)).await;
        assert_eq!(status, 202, "{body}");
    }
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events_hot").await;
    assert_eq!(stored, 20, "acknowledged events are in Postgres, not in the spool");

    locker.batch_execute("ROLLBACK").await.unwrap();
    for q in stuck {
        let status = q.await.unwrap();
        assert!(matches!(status, 200 | 503), "a query waiting for the API's pool answers or says retry: {status}");
    }
}

#[tokio::test]
async fn realtime_streams_are_capped() {
    let t = Tally::start_with(|c| c.max_realtime_streams = 2).await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let viewer = t.user_with_role("shop.example", "viewer").await;
    let first = open_stream(&viewer).await;
    let _second = open_stream(&viewer).await;
    let third = ask_for_stream(&viewer).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    // A stream closed gives its place back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = ask_for_stream(&viewer).await;
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the closed stream's place never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_realtime_stream_ends_when_its_session_or_key_does() {
    let t = Tally::with_site("shop.example").await;
    let viewer = t.user_with_role("shop.example", "viewer").await;
    let (_, key) = viewer.api_key(None).await;
    let mut by_session = open_stream(&viewer).await;
    let mut by_key = open_stream(&key).await;
    // The user changes their password: other sessions and every key end, and so do
    // their streams.
    let other = t.login(&viewer.email, tally_tests::TEST_PASSWORD).await;
    let (status, body) = other
        .post("/api/v1/auth/password", json!({"current_password": tally_tests::TEST_PASSWORD, "new_password": "a new long password"}))
        .await;
    assert_eq!(status, 204, "{body}");
    for stream in [&mut by_session, &mut by_key] {
        let (text, ended) = read_to_end(stream, Duration::from_secs(15)).await;
        assert!(ended, "the stream went on after its credential ended: {text}");
        assert!(text.contains("event: error") && text.contains("\"final\":true"), "{text}");
    }
}

/// The gateway binary as a child process on `port`.
fn start_gateway(db_url: &str, port: u16, spool: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gateway-under-test"))
        .env("TALLY_DATABASE_URL", db_url)
        .env("TALLY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TALLY_SPOOL_DIR", spool)
        // Events wait in the batch window when SIGTERM comes: the stop must flush them.
        .env("TALLY_BATCH_MAX_WAIT_MS", "3000")
        .env("TALLY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the gateway binary")
}

#[tokio::test]
async fn sigterm_stops_a_gateway_with_open_streams_within_seconds_and_commits_what_it_accepted() {
    let t = Tally::with_site("shop.example").await;
    let email = tally_tests::session::unique_email("viewer");
    t.create_user(&email, false, &[("shop.example", "viewer")]).await;
    let port = free_port();
    let spool = std::env::temp_dir().join(format!("tally-sigterm-spool-{}-{port}", std::process::id()));
    let mut child = start_gateway(&t.db.url, port, &spool);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().user_agent(tally_tests::gateway::BROWSER_UA).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "gateway did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = http.post(format!("{base}/api/v1/auth/login")).json(&json!({"email": email, "password": tally_tests::TEST_PASSWORD}));
    let resp = login.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let viewer = Session {
        base: base.clone(),
        http: Session::with_header(reqwest::header::COOKIE, &cookie),
        user_id: 0,
        email,
        pg_role: String::new(),
        cookie,
    };
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(open_stream(&viewer).await);
    }
    // Ten events sit in the batch window, their senders waiting for the commit.
    let senders: Vec<_> = (0..10)
        .map(|i| {
            let (http, url) = (http.clone(), format!("{base}/api/event"));
            tokio::spawn(async move { http.post(url).json(&event(i)).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let asked = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if asked.elapsed() > Duration::from_secs(15) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = asked.elapsed();
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited.is_some_and(|s| s.success()), "the gateway did not stop cleanly within 15 s of SIGTERM with 5 streams open");
    println!("SIGTERM to exit with 5 realtime streams open and 10 events queued: {took:?}");
    for sender in senders {
        assert_eq!(sender.await.unwrap().ok(), Some(202), "an accepted event was answered");
    }
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events_hot").await;
    assert_eq!(stored, 10, "every accepted event is committed before the exit");
    let _ = std::fs::remove_dir_all(spool);
}
