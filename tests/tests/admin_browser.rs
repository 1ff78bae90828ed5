//! The alerts and administration pages of the dashboard in a real browser: headless
//! Chromium at 390×844 runs `tests/browser/admin.mjs` against a real gateway. An
//! administrator creates a site, an ingest key, a user with a membership and an API key
//! through the forms; an analyst creates an alert rule with a webhook channel (a bad URL
//! refused next to its input), edits it, sends a test to a receiver started here, mutes
//! and deletes it, and reads the history of a rule fired here by `tally.evaluate_alerts`
//! over generated traffic; a viewer is offered neither page and the API refuses them. Here the
//! database and the receiver are checked for what the pages did. Screenshots go to
//! `target/dashboard-screenshots/`.

use std::time::Duration;

use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::sinks::WebhookReceiver;
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn admins_manage_sites_users_and_keys_and_analysts_manage_alerts_in_chromium_on_a_phone() {
    assert_dashboard_built();
    let t = Tally::start().await;
    // A day of traffic ending now on site1.example, and a rule that fires on it.
    t.db.load(2_000, 1, 1, chrono::Utc::now().timestamp_micros()).await;
    t.sql(
        "SELECT tally.create_alert_rule(1, '{\"name\": \"Any traffic\", \"metric\": \"pageviews\", \"window_minutes\": 1440, \
         \"condition\": \"above\", \"threshold\": 0}')",
    )
    .await;
    t.sql("SELECT tally.evaluate_alerts()").await;
    let fired = t.sql("SELECT count(*) FROM tally.alert_history WHERE status = 'firing'").await[0].get::<_, i64>(0);
    assert_eq!(fired, 1, "the rule made here fired");
    t.create_user("admin@admin.test", true, &[]).await;
    t.create_user("analyst@admin.test", false, &[("site1.example", "analyst")]).await;
    t.create_user("viewer@admin.test", false, &[("site1.example", "viewer")]).await;
    let receiver = WebhookReceiver::start(0).await;

    let shots = screenshot_dir();
    let stdout = run_script(
        "admin.mjs",
        &[&t.gateway.base, "site1.example", &receiver.url, &shots.to_string_lossy()],
        &[
            ("TALLY_ADMIN_EMAIL", "admin@admin.test"),
            ("TALLY_ANALYST_EMAIL", "analyst@admin.test"),
            ("TALLY_VIEWER_EMAIL", "viewer@admin.test"),
            ("TALLY_TEST_PASSWORD", TEST_PASSWORD),
        ],
        180,
    )
    .await;
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the run's JSON line");

    // The test notification reached the receiver, signed, for the rule made in the page.
    let hooks = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hooks.len(), 1, "one test notification");
    let body = hooks[0].json();
    assert_eq!((body["event"].as_str(), body["rule_id"].as_i64()), (Some("alert.test"), seen["rule"].as_i64()), "{body}");
    assert!(hooks[0].header("x-tally-signature").starts_with("sha256="));

    // The site, its ingest key and the new user's membership are in the database; the
    // rule was muted, then deleted.
    let row = &t
        .sql(
            "SELECT s.timezone, (SELECT count(*) FROM tally.ingest_keys k WHERE k.site_id = s.site_id AND k.revoked_at IS NULL), \
                    (SELECT m.role FROM tally.site_members(s.site_id) m WHERE m.email = 'new.analyst@shop.example') \
             FROM tally.sites s WHERE s.domain = 'shop.example'",
        )
        .await[0];
    assert_eq!((row.get::<_, String>(0), row.get::<_, i64>(1), row.get::<_, String>(2)), ("Europe/Berlin".into(), 1, "analyst".into()));
    let actions: Vec<String> = t
        .sql("SELECT action FROM tally.audit_log WHERE action LIKE 'alert_rule.%' ORDER BY at, audit_id")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["alert_rule.create", "alert_rule.update", "alert_rule.mute", "alert_rule.delete"]);
    let rules: Vec<String> = t.sql("SELECT name FROM tally.alert_rules").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(rules, ["Any traffic"]);

    for shot in
        ["admin-sites-390x844", "admin-users-390x844", "admin-keys-390x844", "alerts-390x844", "alerts-390x844-dark", "viewer-390x844"]
    {
        let size = std::fs::metadata(shots.join(format!("{shot}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {shot} missing or empty ({size} bytes)");
    }
}
