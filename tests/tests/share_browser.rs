//! Public shared links in a real browser: headless Chromium runs
//! `tests/browser/share.mjs` against a real gateway. An admin of the site downloads
//! the dashboard view as a PDF (the PDF button), schedules a monthly email report (a
//! bad time zone refused at its input), creates a
//! password-protected link of three panels and an embeddable one on the Sharing page
//! (a bad origin refused at its input); a visitor with no account unlocks the first on
//! a phone and sees those panels with the API's figures; another origin frames the
//! embeddable link and is refused the other; a revoked link is gone. Screenshots go to
//! `target/dashboard-screenshots/`.

use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn admins_share_a_sites_dashboard_visitors_unlock_it_on_a_phone_and_other_sites_embed_it() {
    assert_dashboard_built();
    let t = Tally::start().await;
    t.db.load(6_000, 30, 2, chrono::Utc::now().timestamp_micros() - 3_600_000_000).await;
    t.sql("SELECT tally.compact()").await;
    t.create_user("owner@share.test", false, &[("site1.example", "admin")]).await;

    let shots = screenshot_dir();
    let stdout = run_script(
        "share.mjs",
        &[&t.gateway.base, "site1.example", &shots.to_string_lossy()],
        &[("TALLY_ADMIN_EMAIL", "owner@share.test"), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)],
        180,
    )
    .await;
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the run's JSON line");
    assert!(seen["visitors"].as_i64().unwrap_or_default() > 0, "{seen}");
    assert!(seen["pdf"].as_str().is_some_and(|n| n.ends_with(".pdf")), "{seen}");

    // Two links were made in the page, one of them revoked there, each with its role.
    let rows = t.sql("SELECT name, revoked_at IS NOT NULL, protected, panels, embed_origins FROM tally.share_links ORDER BY link_id").await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, bool>(1), rows[0].get::<_, bool>(2)), ("Board".into(), true, true));
    assert_eq!(rows[0].get::<_, Option<Vec<String>>>(3), Some(vec!["kpis".into(), "chart".into(), "pages".into()]));
    assert_eq!((rows[1].get::<_, String>(0), rows[1].get::<_, bool>(1)), ("Blog".into(), false));
    assert_eq!(rows[1].get::<_, Option<Vec<String>>>(4).map(|o| o.len()), Some(1));
    let schedule = &t.sql("SELECT frequency, timezone FROM tally.report_schedules").await[0];
    assert_eq!((schedule.get::<_, String>(0), schedule.get::<_, String>(1)), ("monthly".into(), "Europe/Berlin".into()));
    for shot in [
        "reports-1280x800.png",
        "reports-390x844.png",
        "sharing-1280x800.png",
        "shared-phone-390x844-light.png",
        "shared-phone-390x844-dark.png",
        "shared-embedded-1100x820.png",
    ] {
        let size = std::fs::metadata(shots.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {shot} missing or empty ({size} bytes)");
    }
}
