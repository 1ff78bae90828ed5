//! The project-managed cluster (`scripts/pgcluster.sh`) must survive being started
//! twice and being killed: `./dev up` and the test harness both rely on it.

use std::process::Command;
use std::time::Duration;

use tally_tests::cluster::{connect, free_port, pgcluster, state_dir};

#[tokio::test]
async fn ensure_twice_and_after_kill_9_keeps_committed_data() {
    let dir = format!("{}/lifecycle-{}", state_dir(), std::process::id());
    let port = free_port().to_string();
    let url = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    pgcluster(&["destroy", &dir]);

    pgcluster(&["ensure", &dir, &port]);
    // A second call while it runs must return at once (it once hung on a lock that the
    // server inherited).
    pgcluster(&["ensure", &dir, &port]);
    let db = connect(&url).await;
    db.batch_execute("CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)").await.unwrap();
    let version: String = db.query_one("SHOW shared_preload_libraries", &[]).await.unwrap().get(0);
    assert!(version.contains("pg_cron") && version.contains("tally"), "{version}");
    drop(db);

    let pid_file = std::fs::read_to_string(format!("{dir}/postmaster.pid")).unwrap();
    let pid = pid_file.lines().next().unwrap().trim().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    while Command::new("kill").args(["-0", &pid]).status().unwrap().success() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pgcluster(&["ensure", &dir, &port]);
    let db = connect(&url).await;
    let x: i32 = db.query_one("SELECT x FROM survives", &[]).await.unwrap().get(0);
    assert_eq!(x, 42, "a committed row survives a crash");
    drop(db);
    pgcluster(&["destroy", &dir]);
}
