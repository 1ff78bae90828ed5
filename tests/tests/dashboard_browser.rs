//! The dashboard in a real browser: headless Chromium (Debian's) opens the dashboard a
//! real gateway serves over a database of generated traffic, and
//! `tests/browser/dashboard.mjs` logs in (a wrong password first), switches sites,
//! checks the figures against the API, filters by
//! clicking a row, changes the range, goes back and forward, exports a CSV, shows a
//! stored funnel picked in its panel, watches the
//! realtime count follow a new event and takes screenshots at 1280×800 and 390×844,
//! kept in `target/dashboard-screenshots/`, and logs out.

use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn chromium_shows_the_apis_numbers_filters_by_a_clicked_row_follows_realtime_and_fits_a_phone() {
    assert_dashboard_built();
    let t = Tally::start().await;
    // Thirty days of traffic ending ten minutes ago: nobody is "current" until the
    // browser's own event arrives.
    let end_us = chrono::Utc::now().timestamp_micros() - 600_000_000;
    t.db.load(30_000, 30, 2, end_us).await;
    t.sql("SELECT tally.compact()").await;
    t.sql("SELECT tally.create_goal(1, 'Signup', event_name => 'Signup'), tally.create_goal(1, 'Pricing', page_pattern => '/pricing*')")
        .await;
    t.sql("SELECT tally.create_funnel(1, 'Checkout', ARRAY['Pricing', 'Signup'])").await;

    // A viewer of both sites: the site switcher offers two.
    let email = "viewer@dashboard.test";
    t.create_user(email, false, &[("site1.example", "viewer"), ("site2.example", "viewer")]).await;

    let shots = screenshot_dir();
    run_script(
        "dashboard.mjs",
        &[&t.gateway.base, "site1.example", &shots.to_string_lossy()],
        &[("TALLY_TEST_EMAIL", email), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)],
        180,
    )
    .await;
    for shot in ["desktop-1280x800.png", "phone-390x844-light.png", "phone-390x844-dark.png"] {
        let size = std::fs::metadata(shots.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {shot} missing or empty ({size} bytes)");
    }
}
