//! Markup in event fields (an event name, a campaign tag, a property value) sent through
//! the public ingest endpoint is shown by the dashboard as text and never runs, in a
//! real browser (`tests/browser/xss.mjs`).

use serde_json::json;
use tally_tests::browser::{assert_dashboard_built, run_script};
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn markup_in_event_fields_is_shown_as_text_and_never_runs() {
    assert_dashboard_built();
    let t = Tally::with_site("xss.example").await;
    for i in 0..5 {
        let (status, body) = t
            .post(
                "/api/event",
                json!({
                    "name": "<svg onload=window.__xss=3>",
                    "url": format!("https://xss.example/p{i}?utm_campaign=%3Cscript%3Ewindow.__xss%3D2%3C%2Fscript%3E"),
                    "domain": "xss.example",
                    "props": {"plan": "<img src=x onerror=window.__xss=1>"}
                }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let (status, _) = t
            .post(
                "/api/event",
                json!({"name": "<img src=x onerror=window.__xss=1>", "url": "https://xss.example/", "domain": "xss.example"}),
            )
            .await;
        assert_eq!(status, 202);
    }
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE utm_campaign = '<script>window.__xss=2</script>'").await;
    assert!(stored > 0, "the campaign tag is stored as sent");
    let email = "viewer@xss.test";
    t.create_user(email, false, &[("xss.example", "viewer")]).await;
    run_script("xss.mjs", &[&t.gateway.base, "xss.example"], &[("TALLY_TEST_EMAIL", email), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)], 120)
        .await;
}
