//! Segments are ordinary WAL-logged rows: a streaming standby started here from a base
//! backup answers every query the same as the primary, and the background worker
//! compacts, builds daily rollups and applies retention in the worker database without
//! being asked.

use std::process::Command;
use std::time::{Duration, Instant};

use tally_tests::cluster::{cluster_port, connect, pg_program, state_dir, url_of};
use tally_tests::TestDb;

const END_US: i64 = 1_711_843_200_000_000;
const FINGERPRINT: &str = "SELECT count(*), md5(string_agg(e::text, '|' ORDER BY e::text)) FROM tally.events e";

fn as_postgres(args: &[&str]) {
    let out = Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output().expect("runuser");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_streaming_standby_returns_the_same_answers() {
    let db = TestDb::create().await;
    db.load(4_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 3, 2, END_US).await;

    let dir = format!("{}/standby-{}", state_dir(), std::process::id());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("chown").args(["postgres:postgres", &dir]).status().unwrap().success());
    assert!(Command::new("chmod").args(["700", &dir]).status().unwrap().success());
    let primary_port = cluster_port().to_string();
    as_postgres(&[
        &pg_program("pg_basebackup"),
        "-D",
        &dir,
        "-R",
        "-c",
        "fast",
        "-X",
        "stream",
        "-h",
        "127.0.0.1",
        "-p",
        &primary_port,
        "-U",
        "postgres",
    ]);
    let options = format!("-p {port} -c unix_socket_directories={dir}");
    as_postgres(&[&pg_program("pg_ctl"), "-D", &dir, "-o", &options, "-l", &format!("{dir}/server.log"), "-w", "start"]);

    // Changes after the base backup arrive by streaming: compact the rest, add hot rows.
    db.query("SELECT tally.compact()").await;
    db.load(1_000, 1, 2, END_US).await;
    let primary = db.client.query_one(FINGERPRINT, &[]).await.unwrap();
    let lsn: String = db.value("SELECT pg_current_wal_lsn()::text").await;

    let standby = connect(&format!("host=127.0.0.1 port={port} user=postgres dbname={}", db.name)).await;
    let started = Instant::now();
    loop {
        let caught_up: bool = standby.query_one(&format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"), &[]).await.unwrap().get(0);
        if caught_up {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "standby did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_recovery: bool = standby.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(in_recovery);
    let replica = standby.query_one(FINGERPRINT, &[]).await.unwrap();
    assert_eq!((replica.get::<_, i64>(0), replica.get::<_, String>(1)), (primary.get::<_, i64>(0), primary.get::<_, String>(1)));
    let ranged = "SELECT count(*) FROM tally.events(1, '2024-03-29', '2024-03-31')";
    let on_primary: i64 = db.value(ranged).await;
    let on_standby: i64 = standby.query_one(ranged, &[]).await.unwrap().get(0);
    assert_eq!(on_primary, on_standby);
    drop(standby);
    as_postgres(&[&pg_program("pg_ctl"), "-D", &dir, "-m", "immediate", "-w", "stop"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_background_worker_compacts_builds_daily_rollups_and_applies_retention() {
    // The cluster's worker compacts database `tally` every tally.compaction_interval_ms.
    let admin = connect(&url_of("tally")).await;
    // The database outlives a test run when tests are re-run by hand: start it afresh.
    admin.batch_execute("DROP EXTENSION IF EXISTS tally CASCADE; CREATE EXTENSION tally").await.unwrap();
    let db = TestDb::existing("tally", &url_of("tally"), admin);
    db.load(3_000, 2, 1, END_US).await;
    let started = Instant::now();
    while db.value::<i64>("SELECT count(*) FROM tally.events_hot").await > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the worker did not compact within a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(db.value::<i64>("SELECT sum(row_count)::int8 FROM tally.segments").await, 3_000);

    // Then it sums the settled days into daily rollups, a few per pass.
    let started = Instant::now();
    while db.value::<i64>("SELECT count(*) FROM tally.rollups_daily_pending").await > 0
        || db.value::<i64>("SELECT count(*) FROM tally.rollups_daily WHERE dimension = 'total'").await < 2
    {
        assert!(started.elapsed() < Duration::from_secs(60), "the worker did not build daily rollups within a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Retention runs in the same worker: a one-day retention removes these 2024 events.
    db.query("ALTER SYSTEM SET tally.retention_interval_s = 10").await;
    db.query("SELECT pg_reload_conf()").await;
    db.query("UPDATE tally.sites SET retention = interval '1 day'").await;
    let started = Instant::now();
    while db.value::<i64>("SELECT count(*) FROM tally.events").await > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the worker did not apply retention within a minute");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    db.query("ALTER SYSTEM RESET tally.retention_interval_s").await;
    db.query("SELECT pg_reload_conf()").await;
}
