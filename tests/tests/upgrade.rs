//! Extension upgrades (docs/upgrades.md): every earlier release shipped in
//! `extension/sql/` is created with today's library and brought to the current version
//! by `ALTER EXTENSION tally UPDATE`, and must then have exactly a fresh install's schema
//! (members, what pg_dump carries, functions as `\df+` shows them, and every object of
//! `pg_dump --schema-only`); a database at the previous release keeps its events and its
//! answers through the update; an unknown version is refused and nothing changes.

use std::process::Command;

use serde_json::{json, Value};
use tally_tests::cluster::repo_root;
use tally_tests::schema::{differences, snapshot};
use tally_tests::TestDb;

const END_US: i64 = 1_711_843_200_000_000;
const PREVIOUS: &str = "0.1.0";

async fn version(db: &TestDb) -> String {
    db.value("SELECT extversion FROM pg_extension WHERE extname = 'tally'").await
}

#[tokio::test]
async fn every_release_upgrades_to_the_schema_of_a_fresh_install() {
    let fresh = TestDb::create().await;
    let current = version(&fresh).await;
    let releases: Vec<String> = fresh
        .query("SELECT version FROM pg_available_extension_versions WHERE name = 'tally' AND version <> (SELECT extversion FROM pg_extension WHERE extname = 'tally') ORDER BY version")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        releases.contains(&PREVIOUS.to_owned()),
        "tally--{PREVIOUS}.sql is not installed (scripts/install-extension.sh installs extension/sql/): {releases:?}"
    );
    let expected = snapshot(&fresh).await;
    let mut report = String::new();
    for release in &releases {
        // Creating the release's objects with today's library checks that every C
        // symbol its SQL names is still exported (CREATE FUNCTION looks each one up).
        let db = TestDb::create_with(&format!("CREATE EXTENSION tally VERSION '{release}' CASCADE")).await;
        db.query("ALTER EXTENSION tally UPDATE").await;
        assert_eq!(version(&db).await, current);
        let found = differences(&expected, &snapshot(&db).await);
        if !found.is_empty() {
            report.push_str(&format!("=== {release} + ALTER EXTENSION tally UPDATE against a fresh {current} install:\n{found}"));
        }
    }
    assert!(report.is_empty(), "the upgrade scripts in extension/sql/ do not give a fresh install's schema:\n{report}");
}

/// Events, rollups and the dashboard's answers on both sites, and the idempotency and
/// alert rows, as text.
async fn answers(db: &TestDb) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for sql in [
        // The columns of the earlier release; those added since read as NULL.
        "SELECT count(*)::text || ' ' || md5(string_agg(e::text, '|' ORDER BY e::text))
         FROM (SELECT site_id, ts, name, visitor_id, session_id, hostname, pathname, referrer, referrer_source, utm_source,
                      utm_medium, utm_campaign, utm_term, utm_content, country, region, city, browser, browser_version, os,
                      os_version, device, screen_width, engagement_ms, revenue_micros, revenue_currency, props
               FROM tally.events) e",
        // Every hourly rollup row, wherever the release stores it.
        "SELECT count(*)::text || ' ' || coalesce(sum(visits), 0)::text || ' ' || md5(string_agg(r::text, '|' ORDER BY r::text))
         FROM (SELECT site_id, hour, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews,
                      open_visits, mixed_visits, engagement_ms, visitors FROM ROLLUP_ROWS) r",
        "SELECT count(*)::text FROM tally.segments",
        "SELECT count(*)::text FROM tally.ingest_batches",
        "SELECT string_agg(rule_id::text || ' ' || status, ',' ORDER BY rule_id) FROM tally.alert_state",
    ] {
        let rows =
            if db.value::<bool>("SELECT to_regclass('tally.rollup_rows') IS NULL").await { "tally.rollups" } else { "tally.rollup_rows" };
        all.push(db.value::<Option<String>>(&sql.replace("ROLLUP_ROWS", rows)).await.unwrap_or_default());
    }
    for site in ["site1.example", "site2.example"] {
        for query in [
            json!({"site_id": site, "date_range": ["2024-03-24", "2024-03-31"], "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}),
            json!({"site_id": site, "date_range": ["2024-03-24", "2024-03-31"], "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}),
            json!({"site_id": site, "date_range": ["2024-03-24", "2024-03-31"], "metrics": ["visits"], "dimensions": ["time:day", "visit:source"]}),
        ] {
            let answer: Value = db.client.query_one("SELECT tally.query($1)", &[&query]).await.unwrap().get(0);
            all.push(answer["results"].to_string());
        }
    }
    all
}

#[tokio::test]
async fn update_keeps_events_answers_and_ingest_state() {
    let db = TestDb::create_with(&format!("CREATE EXTENSION tally VERSION '{PREVIOUS}' CASCADE")).await;
    // Segments and rollups from a first load, hot rows from a second.
    db.load(6_000, 7, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.load(1_000, 1, 2, END_US).await;
    // A rule on each site, evaluated at the load's end: state and history rows.
    db.query(
        r#"SELECT tally.create_alert_rule(site_id, '{"name": "Any traffic", "metric": "visitors", "window_minutes": 60,
                                                     "condition": "above", "threshold": 0}')
           FROM tally.sites"#,
    )
    .await;
    db.query(&format!("SELECT tally.evaluate_alerts(to_timestamp({END_US}::float8 / 1e6))")).await;
    let before = answers(&db).await;

    db.query("ALTER EXTENSION tally UPDATE").await;
    assert_ne!(version(&db).await, PREVIOUS);
    assert_eq!(answers(&db).await, before, "the update changed data or answers");
    let added = "SELECT count(*) FROM tally.events WHERE scroll_depth IS NOT NULL OR interactive IS NOT NULL";
    assert_eq!(db.value::<i64>(added).await, 0, "rows stored before the update have no scroll depth or interactive flag");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events WHERE channel IS NOT NULL").await, 0);
    // Their visits have no channel: one group of them all, hot rows and segments alike.
    let channels = json!({"site_id": "site1.example", "date_range": ["2024-03-24", "2024-03-31"], "metrics": ["visits"],
        "dimensions": ["visit:channel"]});
    let answer: Value = db.client.query_one("SELECT tally.query($1)", &[&channels]).await.unwrap().get(0);
    let visits = json!({"site_id": "site1.example", "date_range": ["2024-03-24", "2024-03-31"], "metrics": ["visits"]});
    let total: Value = db.client.query_one("SELECT tally.query($1)", &[&visits]).await.unwrap().get(0);
    assert_eq!(answer["results"], json!([{"dimensions": [null], "metrics": total["results"][0]["metrics"]}]), "{answer}");

    // Ingest and compaction carry on.
    db.load(500, 1, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    let events: i64 = db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(events, before[0].split(' ').next().unwrap().parse::<i64>().unwrap() + 500);
    assert!(db.value::<i64>(added).await > 0, "events stored after the update keep their scroll depths");
}

fn update_script(db: &TestDb) -> std::process::Output {
    Command::new(repo_root().join("scripts/update-extension.sh")).arg(&db.url).output().expect("run update-extension.sh")
}

#[tokio::test]
async fn update_script_upgrades_in_place_and_refuses_unknown_versions() {
    let db = TestDb::create_with(&format!("CREATE EXTENSION tally VERSION '{PREVIOUS}' CASCADE")).await;
    db.load(1_000, 1, 1, END_US).await;
    let out = update_script(&db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(version(&db).await, PREVIOUS);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events").await, 1_000);

    // A version no upgrade script starts from (a later release's database, say).
    db.query("UPDATE pg_extension SET extversion = '9.9.9' WHERE extname = 'tally'").await;
    let out = update_script(&db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("tally 9.9.9") && stderr.contains(&format!("upgrades from: {PREVIOUS}")) && stderr.contains("Nothing was changed"),
        "{stderr}"
    );
    assert_eq!(version(&db).await, "9.9.9");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM tally.events").await, 1_000);
}
