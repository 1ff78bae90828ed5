//! Every acknowledged event is stored exactly once, whatever happens to Postgres and the
//! gateway: under steady load, Postgres stops (batches go to the disk spool), the
//! gateway is killed with SIGKILL while the spool holds batches and restarted, Postgres
//! comes back (the spool replays), and the gateway is killed again mid-stream. And the
//! chaos case: the Postgres postmaster itself is killed with SIGKILL mid-stream (crash
//! recovery at restart), twice.
//!
//! The gateway is the real binary as a child process; Postgres is a cluster of this test's
//! own, so stopping it does not disturb tests running beside it.

use std::path::{Path, PathBuf};
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

/// A Postgres cluster of the test's own with a site and its ingest key, a spool
/// directory, and the port the gateway under test serves on (the same after restarts).
struct Rig {
    dir: String,
    pg_port: String,
    db_url: String,
    key: String,
    spool: PathBuf,
    gw_port: u16,
    http: reqwest::Client,
}

/// Senders under way and what they learned.
struct Load {
    outcomes: SharedOutcomes,
    stop: watch::Sender<bool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl Rig {
    /// A fresh cluster (`name` and the test process's id name its directories) and a
    /// gateway serving it.
    async fn start(name: &str) -> (Rig, Gateway) {
        let dir = format!("{}/{name}-{}", state_dir(), std::process::id());
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
        let spool = std::env::temp_dir().join(format!("tally-{name}-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&spool);
        let rig = Rig { dir, pg_port, db_url, key, spool, gw_port: free_port(), http: reqwest::Client::new() };
        let gateway = rig.gateway().await;
        (rig, gateway)
    }

    /// Starts the gateway and waits until it listens.
    async fn gateway(&self) -> Gateway {
        let gateway = start_gateway(&self.db_url, &self.spool, self.gw_port);
        wait_listening(&self.http, &gateway.base).await;
        gateway
    }

    /// Starts the senders.
    fn load(&self) -> Load {
        let outcomes: SharedOutcomes = Arc::default();
        let (stop, stopped) = watch::channel(false);
        let base = Arc::new(Mutex::new(format!("http://127.0.0.1:{}", self.gw_port)));
        let senders = (0..SENDERS)
            .map(|n| tokio::spawn(sender(n, self.http.clone(), base.clone(), self.key.clone(), outcomes.clone(), stopped.clone())))
            .collect();
        Load { outcomes, stop, senders }
    }

    /// Stops the senders, checks that every acknowledged event is stored exactly once,
    /// and removes the gateway, the cluster and the spool.
    async fn finish(self, mut gateway: Gateway, load: Load) {
        load.stop.send_replace(true);
        for s in load.senders {
            s.await.unwrap();
        }
        assert_exactly_once(&self.db_url, &load.outcomes, &self.spool).await;
        gateway.kill_9();
        pgcluster(&["destroy", &self.dir]);
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

#[tokio::test]
async fn acknowledged_events_survive_postgres_outage_and_kill_9_exactly_once() {
    let (rig, mut gateway) = Rig::start("durability").await;
    let load = rig.load();
    let acked = || load.outcomes.lock().unwrap().acknowledged();
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));

    pause(1000).await;
    let before_outage = acked();
    assert!(before_outage > 0, "load is flowing");
    pgcluster(&["stop", &rig.dir]);
    pause(1500).await;
    assert!(acked() > before_outage, "accepted into the spool while Postgres is down");
    let spooled =
        std::fs::read_dir(&rig.spool).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".batch")).count();
    assert!(spooled > 0, "batches wait in the spool");
    eprintln!("{spooled} batches spooled during the outage");

    gateway.kill_9();
    gateway = rig.gateway().await;
    pause(500).await;
    pgcluster(&["ensure", &rig.dir, &rig.pg_port]);
    pause(1500).await;
    gateway.kill_9();
    gateway = rig.gateway().await;
    pause(1000).await;
    rig.finish(gateway, load).await;
}

#[tokio::test]
async fn acknowledged_events_survive_kill_9_of_the_postmaster_exactly_once() {
    let (rig, gateway) = Rig::start("chaos").await;
    let load = rig.load();
    let acked = || load.outcomes.lock().unwrap().acknowledged();
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
    for round in 0..2 {
        pause(1000).await;
        let before = acked();
        assert!(before > 0, "load is flowing");
        let pid = postmaster_pid(&rig.dir);
        assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
        eprintln!("round {round}: postmaster {pid} killed after {before} acknowledged events");
        pause(500).await;
        restart_after_crash(&rig.dir, &rig.pg_port);
    }
    pause(1500).await;
    rig.finish(gateway, load).await;
}

/// Checks that every acknowledged event is stored exactly once and nothing unknown is,
/// and that the spool drained.
async fn assert_exactly_once(db_url: &str, outcomes: &SharedOutcomes, spool: &Path) {
    let db = connect(db_url).await;
    let outcomes = outcomes.lock().unwrap().clone();
    let acknowledged = assert_stored_exactly_once(&db, &outcomes).await;
    assert!(acknowledged >= 1000, "enough load to mean something: {acknowledged}");
    let left = std::fs::read_dir(spool).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".batch")).count();
    assert_eq!(left, 0, "the spool drained");
}

/// The cluster's postmaster, from the first line of its `postmaster.pid`.
fn postmaster_pid(dir: &str) -> String {
    let pid = std::fs::read_to_string(format!("{dir}/postmaster.pid")).expect("postmaster.pid");
    pid.lines().next().expect("a pid line").trim().to_string()
}

/// Starts the cluster after a crash: its backends notice the postmaster's death and
/// exit within moments, and until they have, a new postmaster refuses their shared
/// memory; so the start is retried.
fn restart_after_crash(dir: &str, port: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = Command::new(tally_tests::cluster::repo_root().join("scripts/pgcluster.sh"))
            .args(["ensure", dir, port])
            .status()
            .expect("run pgcluster.sh");
        if status.success() {
            return;
        }
        assert!(Instant::now() < deadline, "the cluster did not come back after kill -9");
        std::thread::sleep(Duration::from_millis(500));
    }
}
