//! Plausible's `engagement` events through `POST /api/event`, as its tracker sends them
//! when a page is left or hidden (`e` = engaged milliseconds): stored with their time on
//! the page they measure, counted in `time_on_page`, never as events, and never ending
//! a bounce.

use serde_json::json;
use tally_tests::Tally;

#[tokio::test]
async fn engagement_events_measure_time_on_page_and_are_no_events() {
    let t = Tally::with_site("a.example").await;
    let send = |body| t.post("/api/event", body);
    let (status, _) = send(json!({"n": "pageview", "u": "https://a.example/read", "d": "a.example"})).await;
    assert_eq!(status, 202);
    for ms in [4_200, 1_900] {
        let (status, body) = send(json!({"n": "engagement", "u": "https://a.example/read", "d": "a.example", "e": ms, "sd": 60})).await;
        assert_eq!((status, body["accepted"].clone()), (202, json!(1)), "{body}");
    }
    let stored: Vec<(String, Option<i32>)> =
        t.sql("SELECT name, engagement_ms FROM tally.events ORDER BY ts").await.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(stored, [("pageview".into(), None), ("engagement".into(), Some(4_200)), ("engagement".into(), Some(1_900))]);

    let analyst = t.user_with_role("a.example", "analyst").await;
    let query = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "pageviews", "events", "bounce_rate", "time_on_page"],
        "dimensions": ["event:page"]});
    let (status, answer) = analyst.post("/api/v1/query", query).await;
    assert_eq!(status, 200, "{answer}");
    // One pageview, one event, a bounce however long it was read; 6.1 s on the page.
    assert_eq!(answer["results"], json!([{"dimensions": ["/read"], "metrics": [1, 1, 1, 100.0, 6]}]));

    let (status, err) = send(json!({"n": "engagement", "u": "https://a.example/read", "d": "a.example", "e": -5})).await;
    assert_eq!((status, err["field"].clone()), (400, json!("engagement_time")));
}
