//! The dashboard's imports toggle in a real browser: headless Chromium runs
//! `tests/browser/imports.mjs` against a real gateway over a site with imported data
//! (a day of Plausible-shaped `imported_visitors` in the dashboard's default period and
//! one in its default comparison, the previous period) and one without. The script
//! checks the toggle is offered only with imports, is kept in the URL and passes
//! accessibility; here its figures and their change are checked against the data.

use serde_json::Value;
use tally_tests::browser::{assert_dashboard_built, run_script};
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn the_imports_toggle_adds_imported_visitors_to_the_dashboard() {
    assert_dashboard_built();
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('imported.example'), tally.create_site('plain.example')").await;
    // Three visitors minutes ago, on each site.
    t.sql(
        "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname)
         SELECT s, now() - (v || ' minutes')::interval, 'pageview', v, v, 'x.example', '/' FROM generate_series(1, 2) s, generate_series(1, 3) v",
    )
    .await;
    // Forty imported visitors three days ago and twenty forty days ago (in the previous
    // 30 days), on the first site only.
    t.sql(
        "WITH i AS (INSERT INTO tally.site_imports (site_id, source, file, start_date, end_date)
                    VALUES (1, 'plausible_csv', 'export.zip', current_date - 40, current_date - 3) RETURNING import_id)
         INSERT INTO tally.imported_visitors (site_id, import_id, date, visitors, pageviews, bounces, visits, visit_duration)
         SELECT 1, import_id, current_date - d, v, 90, 10, 50, 3000 FROM i, (VALUES (3, 40), (40, 20)) AS days (d, v)",
    )
    .await;
    let email = "viewer@imports.test";
    t.create_user(email, false, &[("imported.example", "viewer"), ("plain.example", "viewer")]).await;

    let stdout = run_script(
        "imports.mjs",
        &[&t.gateway.base, "imported.example", "plain.example"],
        &[("TALLY_TEST_EMAIL", email), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)],
        120,
    )
    .await;
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the run's JSON line");
    assert_eq!((seen["without"].as_u64(), seen["with"].as_u64()), (Some(3), Some(43)), "{seen}");
    // Without imports the previous period had no visitor (no change to show); with them,
    // 43 against the previous period's 20 imported visitors.
    assert_eq!((seen["change_without"].as_str(), seen["change_with"].as_str()), (Some(""), Some("115")), "{seen}");
}
