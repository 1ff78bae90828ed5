//! Automatic failover with pg_auto_failover (`scripts/ha/pgautofailover.sh`): under
//! steady ingest and dashboard queries the primary's machine dies (`kill -9` of its
//! postmaster and its pg_autoctl); the monitor promotes the synchronous secondary, the
//! gateway (a multi-host URL with `target_session_attrs=read-write`) spools meanwhile and
//! replays afterwards: no acknowledged event is lost or stored twice, the dashboard's
//! answers are the same before and after, compaction and the pg_cron alert job go on on
//! the new primary (the alert fired once), and the old primary rejoins as secondary.
//! It prints how long writes and queries were unavailable (docs/ha.md records them).

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_tests::cluster::{connect, free_port, repo_root, state_dir};
use tally_tests::load::{assert_stored_exactly_once, sender, SharedOutcomes};
use tally_tests::{Tally, TestDb, TestGateway};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

const END_US: i64 = 1_711_843_200_000_000;
const SENDERS: usize = 4;

/// Runs `scripts/ha/pgautofailover.sh` under a time limit, off the runtime's threads (the
/// gateway and the load run in this process and must not stall meanwhile).
async fn formation(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out: Output = Command::new("timeout")
            .arg("300")
            .arg(repo_root().join("scripts/ha/pgautofailover.sh"))
            .args(&args)
            .output()
            .expect("run pgautofailover.sh");
        assert!(out.status.success(), "pgautofailover.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
    })
    .await
    .expect("pgautofailover.sh task")
}

/// A connection to the formation's primary, or the error while there is none.
async fn try_connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse().expect("url");
    config.connect_timeout(Duration::from_secs(2));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Polls `sql` (one boolean) on the formation's primary until it is true.
async fn wait_until(url: &str, sql: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(client) = try_connect(url).await {
            if client.query_one(sql, &[]).await.is_ok_and(|r| r.get::<_, bool>(0)) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {sql}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The dashboard's questions about the history loaded before the failover.
fn questions() -> Vec<Value> {
    let range = json!(["2024-03-27", "2024-03-31"]);
    vec![
        json!({"site_id": "site1.example", "date_range": range, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}),
        json!({"site_id": "site1.example", "date_range": range, "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}),
        json!({"site_id": "site1.example", "date_range": range, "metrics": ["visits"], "dimensions": ["visit:source"]}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_secondary_takes_over_when_the_primary_dies_and_no_acknowledged_event_is_lost() {
    let base = format!("{}/failover-{}", state_dir(), std::process::id());
    formation(&["destroy", &base]).await;
    let ports = [free_port(), free_port(), free_port()].map(|p| p.to_string());
    formation(&["create", &base, &ports[0], &ports[1], &ports[2]]).await;
    let url = formation(&["url", &base]).await;
    let monitor_url = format!("host=127.0.0.1 port={} user=postgres dbname=pg_auto_failover", ports[0]);

    let db = TestDb::existing("tally", &url, connect(&url).await);
    db.query("CREATE EXTENSION tally CASCADE").await;
    db.load(3_000, 3, 2, END_US).await;
    let live: i32 = db.value("SELECT tally.create_site('d.example')").await;
    let key: String = db.value(&format!("SELECT key FROM tally.create_ingest_key({live})")).await;
    // No visits ever: the rule fires at the first evaluation, and must not fire again.
    let quiet: i32 = db.value("SELECT tally.create_site('quiet.example')").await;
    db.query(&format!(
        "SELECT tally.create_alert_rule({quiet}, '{{\"name\": \"quiet\", \"metric\": \"visits\", \"window_minutes\": 5, \"condition\": \"below\", \"threshold\": 1}}')"
    ))
    .await;
    let gateway = TestGateway::start_at(&db, &url, |c| {
        c.batch_max_wait_ms = 20;
        c.alerts_database_url = None;
    })
    .await;
    let t = Tally { db, gateway };
    // The background worker compacts the history and builds its rollups: the answers
    // below come from where they will come from after the failover too.
    wait_until(&url, "SELECT NOT EXISTS (SELECT FROM tally.events_hot WHERE site_id IN (1, 2))", Duration::from_secs(60)).await;
    let analyst = t.user_with_role("site1.example", "analyst").await;
    let mut before = Vec::new();
    for q in questions() {
        let (status, answer) = analyst.post("/api/v1/query", q).await;
        assert_eq!(status, 200, "{answer}");
        before.push(answer);
    }

    // Steady ingest, and a dashboard asking its first question every 100 ms.
    let outcomes: SharedOutcomes = Arc::default();
    let (stop_tx, stop) = watch::channel(false);
    let gateway_base = Arc::new(Mutex::new(t.gateway.base.clone()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|n| tokio::spawn(sender(n, t.gateway.http.clone(), gateway_base.clone(), key.clone(), outcomes.clone(), stop.clone())))
        .collect();
    let queries = {
        let (analyst, expected, mut stop) = (analyst.clone(), before[0].clone(), stop.clone());
        tokio::spawn(async move {
            let mut answered: Vec<(Instant, bool)> = Vec::new();
            let mut wrong: Vec<(Instant, Value)> = Vec::new();
            while !*stop.borrow() {
                let (status, answer) = analyst.post("/api/v1/query", questions()[0].clone()).await;
                if status == 200 && answer != expected {
                    wrong.push((Instant::now(), answer.clone()));
                }
                answered.push((Instant::now(), status == 200));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.changed() => {}
                }
            }
            (answered, wrong)
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(outcomes.lock().unwrap().acknowledged() > 0, "load is flowing");

    // The primary's machine dies.
    let killed = Instant::now();
    formation(&["kill", &base, "node1"]).await;
    let new_primary = loop {
        if let Ok(client) = try_connect(&url).await {
            break client;
        }
        assert!(killed.elapsed() < Duration::from_secs(180), "no primary 3 minutes after the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let writable_after = killed.elapsed();
    let promoted_at: String = new_primary.query_one("SELECT now()::text", &[]).await.unwrap().get(0);
    let port: String = new_primary.query_one("SELECT current_setting('port')", &[]).await.unwrap().get(0);
    assert_eq!(port, ports[2], "node2 took over");

    // The old primary comes back and follows the new one.
    formation(&["start", &base, "node1"]).await;
    wait_until(
        &monitor_url,
        "SELECT reportedstate = 'secondary' AND goalstate = 'secondary' FROM pgautofailover.node WHERE nodename = 'node1'",
        Duration::from_secs(120),
    )
    .await;

    // Work goes on on the new primary: the background worker compacts what arrives now,
    // and pg_cron's alert job runs there.
    let db = TestDb::existing("tally", &url, new_primary);
    db.load(1_000, 2, 2, END_US - 30 * 86_400_000_000).await;
    wait_until(&url, "SELECT NOT EXISTS (SELECT FROM tally.events_hot WHERE site_id IN (1, 2))", Duration::from_secs(60)).await;
    let admin_url = url.replace("dbname=tally", "dbname=postgres");
    wait_until(
        &admin_url,
        &format!("SELECT EXISTS (SELECT FROM cron.job_run_details WHERE start_time > '{promoted_at}' AND status = 'succeeded')"),
        Duration::from_secs(90),
    )
    .await;

    stop_tx.send_replace(true);
    for s in senders {
        s.await.unwrap();
    }
    let (answered, wrong) = queries.await.unwrap();
    for (at, answer) in &wrong {
        eprintln!(
            "{:+.1} s after the kill: {answer}",
            at.saturating_duration_since(killed).as_secs_f64() - killed.saturating_duration_since(*at).as_secs_f64()
        );
    }
    assert!(wrong.is_empty(), "{} answers during the failover differ", wrong.len());
    let outcomes = outcomes.lock().unwrap().clone();
    let acknowledged = assert_stored_exactly_once(&db.client, &outcomes).await;
    assert!(acknowledged >= 500, "enough load to mean something: {acknowledged}");
    // Compaction moved every history event into segments once.
    assert_eq!(db.value::<i64>("SELECT sum(row_count)::int8 FROM tally.segments WHERE site_id IN (1, 2)").await, 4_000);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events WHERE site_id IN (1, 2)").await, 4_000);
    let fired: i64 = db.value(&format!("SELECT count(*) FROM tally.alert_history WHERE site_id = {quiet}")).await;
    assert_eq!(fired, 1, "the alert fired once, on one of the primaries");
    for (q, expected) in questions().into_iter().zip(&before) {
        assert_eq!(&analyst.post("/api/v1/query", q).await.1, expected);
    }

    let failed: Vec<Instant> = answered.iter().filter(|(_, ok)| !ok).map(|(at, _)| *at).collect();
    let queries_failed = match (failed.first(), failed.last()) {
        (Some(first), Some(last)) => *last - *first,
        _ => Duration::ZERO,
    };
    eprintln!(
        "failover: writable again after {:.1} s; queries failed for {:.1} s ({} of {} answered); longest wait between ingest \
         acknowledgements {:.2} s",
        writable_after.as_secs_f64(),
        queries_failed.as_secs_f64(),
        answered.iter().filter(|(_, ok)| *ok).count(),
        answered.len(),
        outcomes.longest_ack_gap(killed).as_secs_f64(),
    );
    let state = formation(&["state", &base]).await;
    eprintln!("{state}");

    t.gateway.shutdown().await;
    formation(&["destroy", &base]).await;
}
