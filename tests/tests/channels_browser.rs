//! The dashboard's Channels tab in a real browser: events with referrers and UTM tags
//! sent to `POST /api/event`, then `tests/browser/channels.mjs` opens the Sources
//! panel on its Channels tab in headless Chromium, checks the channels and visitors
//! against the API, filters the dashboard by a channel from the keyboard and runs
//! axe-core on the tab.

use serde_json::json;
use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::{Tally, TEST_PASSWORD};

#[tokio::test]
async fn the_channels_tab_lists_the_apis_channels_and_filters_by_one() {
    assert_dashboard_built();
    let t = Tally::with_site("channels.example").await;
    let visits = [
        ("https://channels.example/", Some("https://www.google.com/")),
        ("https://channels.example/", Some("https://duckduckgo.com/")),
        ("https://channels.example/?utm_source=fb-ads", None),
        ("https://channels.example/?utm_medium=email", None),
        ("https://channels.example/", None),
    ];
    for (n, (url, referrer)) in visits.into_iter().enumerate() {
        let user_agent = format!("Mozilla/5.0 (X11; Linux x86_64; rv:1{n:02}.0) Gecko/20100101 Firefox/1{n:02}.0");
        let body = json!({"n": "pageview", "u": url, "d": "channels.example", "r": referrer});
        let headers = [("Content-Type", "application/json"), ("User-Agent", user_agent.as_str())];
        let (status, answer) = t.gateway.post_raw("/api/event", &headers, body.to_string()).await;
        assert_eq!(status, 202, "{answer}");
    }
    let email = "viewer@channels.test";
    t.create_user(email, false, &[("channels.example", "viewer")]).await;
    let out = run_script(
        "channels.mjs",
        &[&t.gateway.base, "channels.example", &screenshot_dir().to_string_lossy()],
        &[("TALLY_TEST_EMAIL", email), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)],
        120,
    )
    .await;
    let seen: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(seen["channels"][0], json!(["Organic Search", 2]), "{seen}");
    assert_eq!(seen["channels"].as_array().map(Vec::len), Some(4), "{seen}");
}
