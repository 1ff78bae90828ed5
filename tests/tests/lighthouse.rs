//! Lighthouse on the dashboard: `tests/browser/lighthouse.mjs` runs npm's Lighthouse
//! (pinned in `tests/browser/package-lock.json`) with Debian's headless Chromium
//! against a real gateway over a month of generated traffic, on the stats of a site,
//! the login page and the alerts, sites, users and API keys pages, with the desktop and
//! the mobile profile, signed in as an administrator (the login page without a
//! session). Every run must score at least 95 in performance, accessibility and best
//! practices. The reports are kept in `target/lighthouse/<page>-<profile>.json`
//! (`$CARGO_TARGET_DIR/lighthouse` when set); the script's comments say which
//! throttling the profiles use and why.

use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::{Tally, TEST_PASSWORD};

/// The lowest score (of 100) a page may have in each category.
const MIN_SCORE: u64 = 95;

#[tokio::test]
async fn every_page_scores_95_or_more_in_lighthouse_on_desktop_and_mobile() {
    assert_dashboard_built();
    let t = Tally::start().await;
    let end_us = chrono::Utc::now().timestamp_micros() - 600_000_000;
    t.db.load(30_000, 30, 1, end_us).await;
    t.sql("SELECT tally.compact()").await;
    t.sql("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup')").await;
    // Something on every admin page: an alert rule that fired, an ingest key, an API key.
    t.sql(
        "SELECT tally.create_alert_rule(1, '{\"name\": \"Any traffic\", \"metric\": \"pageviews\", \"window_minutes\": 1440, \
         \"condition\": \"above\", \"threshold\": 0}')",
    )
    .await;
    t.sql("SELECT tally.evaluate_alerts()").await;
    let email = "admin@lighthouse.test";
    t.create_user(email, true, &[("site1.example", "admin")]).await;
    let admin = t.login(email, TEST_PASSWORD).await;
    assert_eq!(admin.post("/api/v1/sites/1/ingest-keys", serde_json::json!({})).await.0, 201);
    admin.api_key(None).await;

    let reports = screenshot_dir().with_file_name("lighthouse");
    let stdout = run_script(
        "lighthouse.mjs",
        &[&t.gateway.base, "site1.example", &reports.to_string_lossy()],
        &[("TALLY_TEST_COOKIE", admin.cookie.as_str())],
        600,
    )
    .await;
    let runs: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the run's JSON line");
    let runs = runs.as_array().expect("a list of runs");
    assert_eq!(runs.len(), 12, "six pages, two profiles: {runs:?}");
    let mut low = Vec::new();
    for run in runs {
        println!("{run}");
        for category in ["performance", "accessibility", "best-practices"] {
            let score = run[category].as_u64().unwrap_or(0);
            if score < MIN_SCORE {
                low.push(format!("{} {} {category} {score}: {}", run["page"], run["profile"], run["lost"]));
            }
        }
    }
    assert!(low.is_empty(), "Lighthouse scores under {MIN_SCORE} (reports in {}):\n{}", reports.display(), low.join("\n"));
}
