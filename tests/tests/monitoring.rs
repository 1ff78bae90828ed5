//! `/metrics` beyond ingest (docs/monitoring.md): HTTP latency per route, stats query
//! latency per path, the database's gauges read at scrape time (compaction lag, rollup
//! backlog, replication lag, alert delivery backlog), the spool's age and alert delivery
//! attempts; and the Grafana dashboard of `ops/grafana/` charts only metrics that
//! `/metrics` exports.

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_tests::cluster::{cluster_port, pg_program, repo_root, state_dir};
use tally_tests::Tally;

/// A walsender to watch: `pg_receivewal` streaming the test cluster's WAL shows in
/// pg_stat_replication as a standby does, without copying the cluster.
struct Receiver(Child, String);

impl Receiver {
    fn start() -> Receiver {
        let dir = format!("{}/receivewal-{}", state_dir(), std::process::id());
        std::fs::create_dir_all(&dir).expect("receivewal directory");
        let child = Command::new(pg_program("pg_receivewal"))
            .args(["-D", &dir, "-h", "127.0.0.1", "-p", &cluster_port().to_string(), "-U", "postgres", "--no-loop"])
            .spawn()
            .expect("start pg_receivewal");
        Receiver(child, dir)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// The names `/metrics` declares (`# TYPE name kind`), with a histogram's series names.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.strip_prefix("# TYPE ").unwrap_or_default().split_whitespace();
        if let (Some(name), Some(kind)) = (words.next(), words.next()) {
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// The `tally_*` metric names the dashboard's queries use.
fn dashboard_metrics() -> BTreeSet<String> {
    let path = repo_root().join("ops/grafana/tally.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("ops/grafana/tally.json")).expect("dashboard JSON");
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for (i, _) in expr.match_indices("tally_") {
                let name: String = expr[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test]
async fn metrics_cover_requests_queries_and_the_database_and_the_dashboard_uses_only_them() {
    let t = Tally::with_site("shop.example").await;
    let (status, _) = t.post("/api/event", json!({"name": "pageview", "url": "https://shop.example/a", "domain": "shop.example"})).await;
    assert_eq!(status, 202);
    // A refused request and a bot's event (accepted, not stored).
    let json = ("content-type", "application/json");
    assert_eq!(t.gateway.post_raw("/api/event", &[json], "{").await.0, 400);
    let bot = ("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
    let event = json!({"name": "pageview", "url": "https://shop.example/b", "domain": "shop.example"}).to_string();
    assert_eq!(t.gateway.post_raw("/api/event", &[json, bot], event).await.0, 202);
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, answer) =
        analyst.post("/api/v1/query", json!({"site_id": "shop.example", "date_range": [today, today], "metrics": ["visitors"]})).await;
    assert_eq!(status, 200, "{answer}");
    let path = answer["meta"]["path"].as_str().expect("meta.path").to_owned();
    let pages = json!({"site_id": "shop.example", "date_range": [today, today], "metrics": ["visitors"], "dimensions": ["event:page"]});
    let (status, batch) = analyst.post("/api/v1/query/batch", json!({"queries": [pages, pages]})).await;
    assert_eq!(status, 200, "{batch}");
    // The gateway's role may read the database's gauges.
    t.db.client.batch_execute("SET ROLE tally_gateway; SELECT * FROM tally.monitoring(); RESET ROLE").await.unwrap();

    let _receiver = Receiver::start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.db.value::<i64>("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'").await == 0 {
        assert!(Instant::now() < deadline, "pg_receivewal did not connect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, text) = t.get("/metrics").await;
    assert_eq!(status, 200);
    let text = text.as_str().expect("text exposition").to_owned();
    for series in [
        "tally_http_request_duration_seconds_count{route=\"/api/event\",method=\"POST\",status=\"202\"}".to_owned(),
        "tally_http_request_duration_seconds_count{route=\"/api/v1/query\",method=\"POST\",status=\"200\"}".to_owned(),
        format!("tally_query_duration_seconds_count{{path=\"{path}\"}}"),
        "tally_query_duration_seconds_count{path=\"batch\"}".to_owned(),
        format!("tally_query_answers_total{{path=\"{path}\"}} 3"),
        "tally_database_up 1".to_owned(),
        "tally_replication_lag_seconds{standby=\"pg_receivewal\"}".to_owned(),
        "tally_ingest_spool_oldest_seconds 0".to_owned(),
        "tally_alert_delivery_attempts_total{result=\"failed\"} 0".to_owned(),
    ] {
        assert!(text.contains(&series), "{series} missing:\n{text}");
    }
    // The event may be committed but not compacted yet: one hot row at most.
    let hot = text.lines().find_map(|l| l.strip_prefix("tally_hot_events ")).expect("tally_hot_events");
    assert!(["0", "1"].contains(&hot), "{hot}");

    let exported = exported(&text);
    let missing: Vec<_> = dashboard_metrics().into_iter().filter(|m| !exported.contains(m)).collect();
    assert!(missing.is_empty(), "ops/grafana/tally.json uses metrics /metrics does not export: {missing:?}\n{text}");
}
