//! Goals, funnels, the property and funnel pickers and saved segments in the dashboard,
//! in a real browser: headless Chromium runs `tests/browser/goals.mjs` against a real
//! gateway as an analyst, at 1280×800 and at 390×844 (the script checks the field
//! errors, the pickers' answers, accessibility and layout). Here the database is
//! checked for what the pages made. Screenshots go to `target/dashboard-screenshots/`.

use serde_json::Value;
use tally_core::event::Event;
use tally_tests::browser::{assert_dashboard_built, run_script, screenshot_dir};
use tally_tests::{Tally, TEST_PASSWORD};

/// A goal as stored: name, event name, page pattern, currency.
type GoalRow = (String, Option<String>, Option<String>, Option<String>);

/// Visits of the last hour: `(country, page, plan)`, a Signup event with the plan after
/// each visit's pageview.
const VISITS: [(&str, &str, &str); 5] =
    [("DE", "/pricing", "pro"), ("DE", "/pricing", "free"), ("DE", "/", "free"), ("FR", "/pricing", "pro"), ("FR", "/", "free")];

#[tokio::test]
async fn analysts_manage_goals_funnels_and_segments_in_chromium_on_desktop_and_phone() {
    assert_dashboard_built();
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('shop.example', 'Europe/Berlin')").await;
    let now = chrono::Utc::now().timestamp_micros();
    let mut events = Vec::new();
    for (i, (country, page, plan)) in VISITS.iter().enumerate() {
        let visit = Event {
            site_id: 1,
            ts: now - 600_000_000 + i as i64 * 1_000_000,
            name: "pageview".into(),
            visitor_id: 100 + i as i64,
            session_id: 100 + i as i64,
            hostname: "shop.example".into(),
            pathname: (*page).into(),
            country: Some((*country).into()),
            ..Event::default()
        };
        let signup = Event { ts: visit.ts + 500_000, name: "Signup".into(), props: vec![("plan".into(), (*plan).into())], ..visit.clone() };
        events.extend([visit, signup]);
    }
    let pool = tally_gateway::pool::build(&t.db.url, 1).expect("pool");
    tally_gateway::ingest::store::write_events(&pool, &events).await.expect("write events");
    t.create_user("analyst@goals.test", false, &[("shop.example", "analyst")]).await;

    let shots = screenshot_dir();
    let stdout = run_script(
        "goals.mjs",
        &[&t.gateway.base, "shop.example", &shots.to_string_lossy()],
        &[("TALLY_ANALYST_EMAIL", "analyst@goals.test"), ("TALLY_TEST_PASSWORD", TEST_PASSWORD)],
        300,
    )
    .await;
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the run's JSON line");

    for size in ["1280x800", "390x844"] {
        let n = &size[..size.find('x').unwrap()];
        // The goals and the funnel as the forms left them: renamed, with the revenue goal's currency.
        let goals: Vec<GoalRow> = t
            .sql(&format!("SELECT name, event_name, page_pattern, currency FROM tally.goals WHERE name LIKE '% {n}' ORDER BY name"))
            .await
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        assert_eq!(
            goals,
            [
                (format!("Saw pricing {n}"), None, Some("/pricing*".into()), None),
                (format!("Signup {n}"), Some("Signup".into()), None, Some("EUR".into())),
            ]
        );
        let steps: Vec<String> = t.sql(&format!("SELECT steps FROM tally.funnels WHERE name = 'Checkout {n}'")).await[0].get(0);
        assert_eq!(steps, [format!("Saw pricing {n}"), format!("Signup {n}")]);
        // The segment saved from the country filter, shared, showing the three German visitors.
        let id = seen[size]["segment"].as_i64().expect("segment id");
        let row = &t.sql(&format!("SELECT name, filters, shared FROM tally.saved_segments WHERE segment_id = {id}")).await[0];
        assert_eq!(row.get::<_, String>(0), format!("Germans {n}"));
        assert_eq!(row.get::<_, Value>(1), serde_json::json!([["is", "visit:country", ["DE"]]]));
        assert!(row.get::<_, bool>(2));
        assert_eq!(seen[size]["visitors"], 3);
        for shot in ["goals-form-error", "goals", "segment"] {
            for variant in ["", "-dark"] {
                let file = shots.join(format!("{shot}-{size}{variant}.png"));
                let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                assert!(bytes > 10_000, "screenshot {} missing or empty ({bytes} bytes)", file.display());
            }
        }
    }
}
