//! Every acknowledged event is stored exactly once, whatever happens to Postgres and the
//! gateway: under steady load, Postgres stops (batches go to the disk spool), the
//! gateway is killed with SIGKILL while the spool holds batches and restarted, Postgres
//! comes back (the spool replays), and the gateway is killed again mid-stream.
//!
//! The gateway is the real binary as a child process; Postgres is a cluster of this test's
//! own, so stopping it does not disturb tests running beside it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tally_tests::cluster::{connect, free_port, pgcluster, state_dir};
use tally_tests::load::{assert_stored_exactly_once, sender, SharedOutcomes};
use tokio::sync::watch;

/// Concurrent senders: enough to keep several requests in every batch window.
const SENDERS: usize = 4;

struct Gateway {
    child: Child,
    base: String,
}

fn start_gateway(db_url: &str, spool: &PathBuf, port: u16) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_gateway-under-test"))
        .env("TALLY_DATABASE_URL", db_url)
        .env("TALLY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TALLY_SPOOL_DIR", spool)
        .env("TALLY_BATCH_MAX_WAIT_MS", "20")
        .env("TALLY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the gateway binary");
    Gateway { child, base: format!("http://127.0.0.1:{port}") }
}

impl Gateway {
    fn kill_9(&mut self) {
        assert!(Command::new("kill").args(["-9", &self.child.id().to_string()]).status().unwrap().success());
        self.child.wait().expect("reap the gateway");
    }
}

async fn wait_listening(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    // /metrics answers without Postgres, so it also works while the cluster is down.
    while http.get(format!("{base}/metrics")).send().await.is_err() {
        assert!(Instant::now() < deadline, "gateway did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn acknowledged_events_survive_postgres_outage_and_kill_9_exactly_once() {
    let dir = format!("{}/durability-{}", state_dir(), std::process::id());
    let pg_port = free_port().to_string();
    let db_url = format!("host=127.0.0.1 port={pg_port} user=postgres dbname=tally");
    pgcluster(&["destroy", &dir]);
    pgcluster(&["ensure", &dir, &pg_port]);
    let key: String = {
        let db = connect(&db_url).await;
        db.batch_execute("CREATE EXTENSION IF NOT EXISTS tally CASCADE").await.unwrap();
        let site: i32 = db.query_one("SELECT tally.create_site('d.example')", &[]).await.unwrap().get(0);
        db.query_one("SELECT key FROM tally.create_ingest_key($1)", &[&site]).await.unwrap().get(0)
    };
    let spool = std::env::temp_dir().join(format!("tally-durability-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let gw_port = free_port();
    let http = reqwest::Client::new();
    let mut gateway = start_gateway(&db_url, &spool, gw_port);
    wait_listening(&http, &gateway.base).await;

    let outcomes: SharedOutcomes = Arc::default();
    let (stop_tx, stop) = watch::channel(false);
    let base = Arc::new(Mutex::new(gateway.base.clone()));
    let senders: Vec<_> =
        (0..SENDERS).map(|n| tokio::spawn(sender(n, http.clone(), base.clone(), key.clone(), outcomes.clone(), stop.clone()))).collect();
    let acked = || outcomes.lock().unwrap().acknowledged();
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));

    pause(1000).await;
    let before_outage = acked();
    assert!(before_outage > 0, "load is flowing");
    pgcluster(&["stop", &dir]);
    pause(1500).await;
    assert!(acked() > before_outage, "accepted into the spool while Postgres is down");
    let spooled =
        std::fs::read_dir(&spool).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".batch")).count();
    assert!(spooled > 0, "batches wait in the spool");
    eprintln!("{spooled} batches spooled during the outage");

    gateway.kill_9();
    gateway = start_gateway(&db_url, &spool, gw_port);
    wait_listening(&http, &gateway.base).await;
    pause(500).await;
    pgcluster(&["ensure", &dir, &pg_port]);
    pause(1500).await;
    gateway.kill_9();
    gateway = start_gateway(&db_url, &spool, gw_port);
    wait_listening(&http, &gateway.base).await;
    pause(1000).await;
    stop_tx.send_replace(true);
    for s in senders {
        s.await.unwrap();
    }

    // Wait for the spool to drain, then compare.
    let db = connect(&db_url).await;
    let outcomes = outcomes.lock().unwrap().clone();
    let acknowledged = assert_stored_exactly_once(&db, &outcomes).await;
    assert!(acknowledged >= 1000, "enough load to mean something: {acknowledged}");
    let left = std::fs::read_dir(&spool).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".batch")).count();
    assert_eq!(left, 0, "the spool drained");

    gateway.kill_9();
    drop(db);
    pgcluster(&["destroy", &dir]);
    let _ = std::fs::remove_dir_all(&spool);
}
