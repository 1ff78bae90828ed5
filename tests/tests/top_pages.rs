//! Top pages are made of pageviews, as Plausible's are: a custom event sent from a
//! page (a signup button, an outbound link) does not make its visitor a visitor of that
//! page in an `event:page` breakdown, through `/api/v1/query` (the dashboard's) and
//! `/api/v2/query` alike; asking for the event by name shows the pages it was sent from.

use serde_json::{json, Value};
use tally_tests::Tally;

async fn send_as(t: &Tally, user_agent: &str, body: Value) {
    let headers = [("Content-Type", "application/json"), ("User-Agent", user_agent)];
    let (status, answer) = t.gateway.post_raw("/api/event", &headers, body.to_string()).await;
    assert_eq!(status, 202, "{body} → {answer}");
}

#[tokio::test]
async fn event_page_breakdowns_count_pageviews_only() {
    let t = Tally::with_site("a.example").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36";
    // Firefox views / and sends Signup with the URL /pricing (a modal, say); Chrome views
    // /pricing.
    send_as(&t, firefox, json!({"n": "pageview", "u": "https://a.example/", "d": "a.example"})).await;
    send_as(&t, firefox, json!({"n": "Signup", "u": "https://a.example/pricing", "d": "a.example"})).await;
    send_as(&t, chrome, json!({"n": "pageview", "u": "https://a.example/pricing", "d": "a.example"})).await;

    let analyst = t.user_with_role("a.example", "analyst").await;
    let pages = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "visits", "pageviews"],
        "dimensions": ["event:page"], "order_by": [["event:page", "asc"]]});
    let expected = json!([{"dimensions": ["/"], "metrics": [1, 1, 1]}, {"dimensions": ["/pricing"], "metrics": [1, 1, 1]}]);
    for stage in ["hot rows", "segments and rollups"] {
        let (status, answer) = analyst.post("/api/v1/query", pages.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &expected), "{stage}: {answer}");
        let (status, answer) = analyst.post("/api/v2/query", pages.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &expected), "{stage}: {answer}");
        t.sql("SELECT tally.compact(true)").await;
    }
    // The pages a Signup was sent from.
    let mut signups = pages;
    signups["filters"] = json!([["is", "event:name", ["Signup"]]]);
    let (status, answer) = analyst.post("/api/v2/query", signups).await;
    assert_eq!((status, &answer["results"]), (200, &json!([{"dimensions": ["/pricing"], "metrics": [1, 1, 0]}])), "{answer}");
}
