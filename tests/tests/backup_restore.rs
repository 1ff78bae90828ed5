//! Backups restore what was committed, into another cluster: pgBackRest (full and
//! incremental backups, WAL archive) to a point in time between two ingest batches, and
//! a logical pg_dump with the cluster's roles, after which users sign in, answers match
//! and a client's retry or the alert job does not store anything twice.
//!
//! Both go through the operator's scripts (`scripts/backup/`), as docs/backup.md does.

use std::process::{Command, Output};

use serde_json::{json, Value};
use tally_tests::cluster::{connect, free_port, pgcluster, repo_root, state_dir};
use tally_tests::{Tally, TestDb, TestGateway, TEST_PASSWORD};
use tokio_postgres::Client;

const END_US: i64 = 1_711_843_200_000_000;
const FINGERPRINT: &str = "SELECT count(*)::text || ' ' || md5(string_agg(e::text, '|' ORDER BY e::text)) FROM tally.events e";

/// Runs `scripts/backup/<script>` (under a time limit), with `env` added.
fn backup_script(script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .arg("300")
        .arg(repo_root().join("scripts/backup").join(script))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run a backup script")
}

fn succeeded(out: Output, what: &str) {
    assert!(out.status.success(), "{what}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The events and the answers to the dashboard's questions on both sites, as text.
async fn answers(db: &Client) -> Vec<String> {
    let mut all = vec![db.query_one(FINGERPRINT, &[]).await.unwrap().get::<_, String>(0)];
    for site in ["site1.example", "site2.example"] {
        for query in [
            json!({"site_id": site, "date_range": ["2024-03-27", "2024-03-31"], "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}),
            json!({"site_id": site, "date_range": ["2024-03-27", "2024-03-31"], "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}),
            json!({"site_id": site, "date_range": ["2024-03-27", "2024-03-31"], "metrics": ["visits"], "dimensions": ["time:hour"]}),
        ] {
            let answer: Value = db.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
            all.push(answer.to_string());
        }
    }
    all
}

#[tokio::test]
async fn pgbackrest_restores_to_a_point_in_time_between_two_ingest_batches() {
    let pid = std::process::id();
    let dir = format!("{}/backup-{pid}", state_dir());
    let restored_dir = format!("{dir}-restored");
    // A repository of this test's own, so it can be thrown away with the test's clusters.
    let home = format!("{}/pgbackrest-{pid}", state_dir());
    let env = [("TALLY_BACKREST_HOME", home.as_str())];
    let port = free_port().to_string();
    pgcluster(&["destroy", &dir]);
    pgcluster(&["destroy", &restored_dir]);
    let _ = std::fs::remove_dir_all(&home);
    pgcluster(&["ensure", &dir, &port]);
    // Archiving starts with a restart: before the test connects.
    succeeded(backup_script("pgbackrest.sh", &["setup", &dir, &port], &env), "setup");
    // Database shop, not tally: the background worker compacts only database tally, so
    // nothing changes this one between the test's steps.
    let url = |port: &str| format!("host=127.0.0.1 port={port} user=postgres dbname=shop");
    connect(&format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"))
        .await
        .batch_execute("CREATE DATABASE shop")
        .await
        .unwrap();
    let db = TestDb::existing("shop", &url(&port), connect(&url(&port)).await);
    db.query("CREATE EXTENSION tally CASCADE").await;

    db.load(4_000, 3, 2, END_US).await;
    succeeded(backup_script("pgbackrest.sh", &["backup", &dir, "full"], &env), "full backup");
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 3, 2, END_US).await;
    succeeded(backup_script("pgbackrest.sh", &["backup", &dir, "incr"], &env), "incremental backup");

    // Two batches after the last backup, with the restore's target time between them.
    db.load(1_000, 1, 2, END_US).await;
    let before = answers(&db.client).await;
    let target: String = db.value("SELECT clock_timestamp()::text").await;
    db.load(1_000, 1, 2, END_US).await;
    let after = answers(&db.client).await;
    assert_ne!(before[0], after[0]);
    // The second batch's commit must be in the archive: switch to a new WAL file and wait
    // until the finished one is archived.
    let switched: String = db.value("SELECT pg_walfile_name(pg_switch_wal())").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.value::<Option<String>>("SELECT last_archived_wal FROM pg_stat_archiver").await < Some(switched.clone()) {
        assert!(std::time::Instant::now() < deadline, "{switched} was not archived within a minute");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The original is gone: the restore needs nothing but the repository.
    drop(db);
    pgcluster(&["stop", &dir]);

    let restored_port = free_port().to_string();
    succeeded(backup_script("pgbackrest.sh", &["restore", &dir, &restored_dir, &restored_port, &target], &env), "restore");
    let restored = connect(&url(&restored_port)).await;
    assert_eq!(answers(&restored).await, before, "the restore holds exactly what was committed by {target}");
    let in_recovery: bool = restored.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(!in_recovery, "the restored cluster is promoted and takes writes");
    drop(restored);
    pgcluster(&["destroy", &restored_dir]);

    // A time no archived WAL reaches (the original's last commits were never archived),
    // and one before the first backup ended: both refused, saying why.
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
    let out = backup_script("pgbackrest.sh", &["restore", &dir, &restored_dir, &restored_port, &now], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no archived WAL reaches"), "{stderr}");
    assert!(!std::path::Path::new(&restored_dir).exists(), "the unusable copy is removed");
    let out = backup_script("pgbackrest.sh", &["restore", &dir, &restored_dir, &restored_port, "2024-01-01 00:00:00+00"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no backup ends before 2024-01-01"), "{stderr}");

    pgcluster(&["destroy", &dir]);
    pgcluster(&["destroy", &restored_dir]);
    let _ = std::fs::remove_dir_all(&home);
}

/// Ids of events sent with client event ids, and their batch.
fn batch_with_ids(n: usize) -> String {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": "pageview", "url": format!("https://shop.example/p{}", i % 7), "id": format!("e-{i}"),
                   "timestamp": format!("2025-03-01T10:{:02}:00Z", i % 60), "user_agent": tally_tests::gateway::BROWSER_UA,
                   "ip": format!("127.0.0.{}", 1 + i % 5)})
        })
        .collect();
    Value::Array(events).to_string()
}

async fn post_batch(t: &Tally, key: &str, body: String) -> (u16, Value) {
    t.gateway.post_raw("/api/v1/events", &[("authorization", &format!("Bearer {key}")), ("content-type", "application/json")], body).await
}

/// What a restore must carry, as text: events, idempotency records, alert state and
/// history, users with their roles.
async fn carried(db: &Client) -> Vec<String> {
    let mut all = vec![db.query_one(FINGERPRINT, &[]).await.unwrap().get::<_, String>(0)];
    for sql in [
        "SELECT count(*)::text || md5(string_agg(batch_id::text || committed_at, ',' ORDER BY batch_id)) FROM tally.ingest_batches",
        "SELECT count(*)::text || md5(string_agg(site_id || event_id || received_at, ',' ORDER BY site_id, event_id)) FROM tally.ingest_event_ids",
        "SELECT string_agg(s::text, ',' ORDER BY rule_id) FROM tally.alert_state s",
        "SELECT string_agg(h::text, ',' ORDER BY history_id) FROM tally.alert_history h",
        "SELECT string_agg(email || pg_role, ',' ORDER BY user_id) FROM tally.users",
    ] {
        all.push(db.query_one(sql, &[]).await.unwrap().get::<_, Option<String>>(0).unwrap_or_default());
    }
    all
}

#[tokio::test]
async fn a_logical_dump_restores_into_another_cluster_with_roles_idempotency_and_alert_state() {
    let t = Tally::start().await;
    let site: i32 = t.db.value("SELECT tally.create_site('shop.example')").await;
    let key: String = t.db.value(&format!("SELECT key FROM tally.create_ingest_key({site})")).await;
    let (status, body) = post_batch(&t, &key, batch_with_ids(40)).await;
    assert_eq!((status, &body["accepted"]), (202, &json!(40)), "{body}");
    t.db.query(&format!(
        "SELECT tally.create_alert_rule({site}, '{{\"name\": \"quiet\", \"metric\": \"visits\", \"window_minutes\": 5, \"condition\": \"below\", \"threshold\": 1}}')"
    ))
    .await;
    let transitions: i32 = t.db.value("SELECT tally.evaluate_alerts()").await;
    assert_eq!(transitions, 1, "the rule fires: no visits in the last 5 minutes");
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let query = json!({"site_id": "shop.example", "date_range": ["2025-03-01", "2025-03-01"], "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]});
    let (status, answer) = analyst.post("/api/v1/query", query.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let before = carried(&t.db.client).await;

    let out_dir = format!("{}/dump-{}", state_dir(), std::process::id());
    let _ = std::fs::remove_dir_all(&out_dir);
    succeeded(backup_script("dump.sh", &["dump", &t.db.url, &out_dir], &[]), "dump");

    // Another cluster: the roles are created there first, then the database.
    let dir = format!("{}/dump-target-{}", state_dir(), std::process::id());
    let port = free_port().to_string();
    pgcluster(&["destroy", &dir]);
    pgcluster(&["ensure", &dir, &port]);
    let server = format!("host=127.0.0.1 port={port} user=postgres");
    succeeded(backup_script("dump.sh", &["restore", &out_dir, &server, "shop"], &[]), "restore");
    let again = backup_script("dump.sh", &["restore", &out_dir, &server, "shop"], &[]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"), "a second restore is refused");

    let url = format!("{server} dbname=shop");
    let db = TestDb::existing("shop", &url, connect(&url).await);
    assert_eq!(carried(&db.client).await, before);
    let gateway = TestGateway::start(&db, |_| {}).await;
    let restored = Tally { db, gateway };
    // The user signs in with the same password and gets the same answer (their role
    // exists in the new cluster and the gateway may act as it).
    let analyst = restored.login(&analyst.email, TEST_PASSWORD).await;
    assert_eq!(analyst.post("/api/v1/query", query).await, (200, answer));
    // A client retrying its batch after the restore: every id is known, nothing stored.
    let (status, _) = post_batch(&restored, &key, batch_with_ids(40)).await;
    assert_eq!(status, 202);
    assert_eq!(restored.db.value::<i64>("SELECT count(*) FROM tally.events").await, 40);
    // The alert job goes on from the restored state: still firing, not fired again.
    let transitions: i32 = restored.db.value("SELECT tally.evaluate_alerts()").await;
    assert_eq!(transitions, 0, "the restored rule was already firing");
    assert_eq!(restored.db.value::<i64>("SELECT count(*) FROM tally.alert_history").await, 1);
    // New rows get new ids: identity sequences continue after the restored rows.
    let new_site: i32 = restored.db.value("SELECT tally.create_site('new.example')").await;
    assert!(new_site > site);

    restored.gateway.shutdown().await;
    drop(restored.db);
    pgcluster(&["destroy", &dir]);
    let _ = std::fs::remove_dir_all(&out_dir);
}
