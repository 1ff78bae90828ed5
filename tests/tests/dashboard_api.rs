//! The gateway endpoints made for the dashboard: `POST /api/v1/export` (a stats query
//! as a CSV file) and `GET /api/v1/realtime` (server-sent events with the visitors of
//! the last five minutes), against a real database and gateway. Both run as the signed-in
//! caller, like every stats query: 401 without a session, only the caller's sites.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_tests::Tally;

async fn pageview(t: &Tally, domain: &str, page: &str, user_agent: &str) {
    let url = format!("{}/api/event", t.gateway.base);
    let event = json!({"name": "pageview", "url": format!("https://{domain}{page}"), "domain": domain});
    let resp = t.gateway.http.post(url).header("User-Agent", user_agent).json(&event).send().await.unwrap();
    assert_eq!(resp.status(), 202);
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

#[tokio::test]
async fn export_answers_the_query_as_a_named_csv_file() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    pageview(&t, "shop.example", "/", FIREFOX).await;
    pageview(&t, "shop.example", "/pricing", FIREFOX).await;
    pageview(&t, "shop.example", "/pricing", SAFARI).await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let query = json!({"site_id": "shop.example", "date_range": "day", "metrics": ["visitors", "pageviews"],
                       "dimensions": ["event:page"], "include": {"comparisons": {"mode": "previous_period"}}});
    let resp = analyst.http.post(format!("{}/api/v1/export", t.gateway.base)).json(&query).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
    let (_, answer) = analyst.post("/api/v1/query", query.clone()).await;
    let day = answer["query"]["date_range"][0].as_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"shop.example_event-page_{day}_{day}.csv\""));
    assert_eq!(
        resp.text().await.unwrap(),
        "event:page,visitors,pageviews,visitors_previous,pageviews_previous,visitors_change,pageviews_change\n\
         /pricing,2,2,0,0,,\n\
         /,1,1,0,0,,\n"
    );
    // The export is in the audit log with the query that made it.
    let audited: serde_json::Value = t.db.value("SELECT detail->'query' FROM tally.audit_log WHERE action = 'export'").await;
    assert_eq!(audited, query);
    // Without a session: 401, and nothing to read.
    let (status, _) = t.post("/api/v1/export", query).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn export_rejects_a_bad_query_naming_the_field() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let (status, body) =
        analyst.post("/api/v1/export", json!({"site_id": "shop.example", "date_range": "7d", "metrics": ["clicks"]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "metrics[0]");
    let resp = analyst.http.post(format!("{}/api/v1/export", t.gateway.base)).header("Content-Type", "application/json").body("{not json");
    let (status, body) = tally_tests::gateway::decode(resp.send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "body");
}

/// Reads server-sent events until one of `event: visitors` carries `want`, and returns
/// every count seen. Gives up after 20 seconds (ten updates).
async fn visitors_until(resp: &mut reqwest::Response, want: u64) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buffer = String::new();
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await.expect("an update within 5 s").unwrap();
        buffer.push_str(std::str::from_utf8(&chunk.expect("stream open")).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            if let Some(data) = message.strip_prefix("event: visitors\ndata: ") {
                let n = serde_json::from_str::<Value>(data.trim()).unwrap()["visitors"].as_u64().unwrap();
                seen.push(n);
                if n == want {
                    return seen;
                }
            }
        }
    }
    panic!("no update with {want} visitors; saw {seen:?}");
}

#[tokio::test]
async fn realtime_streams_the_visitors_of_the_last_five_minutes_as_they_come() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('live.example')").await;
    pageview(&t, "live.example", "/", FIREFOX).await;
    let viewer = t.user_with_role("live.example", "viewer").await;
    let mut resp = viewer
        .http
        .get(format!("{}/api/v1/realtime?site=live.example", t.gateway.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(visitors_until(&mut resp, 1).await, vec![1], "the first message is the count now");
    pageview(&t, "live.example", "/docs", SAFARI).await;
    let seen = visitors_until(&mut resp, 2).await;
    assert!(seen.iter().all(|&n| n == 1 || n == 2), "{seen:?}");
    // Asked without `Accept: text/event-stream`, the count now as one JSON answer.
    let (status, body) = viewer.get("/api/v1/realtime?site=live.example").await;
    assert_eq!((status, body), (200, serde_json::json!({"visitors": 2})));
    // Events older than five minutes are not current visitors.
    t.sql("UPDATE tally.events_hot SET ts = ts - interval '10 minutes'").await;
    visitors_until(&mut resp, 0).await;
}

#[tokio::test]
async fn realtime_refuses_a_missing_unknown_or_forbidden_site_before_streaming() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('mine.example'), tally.create_site('theirs.example')").await;
    let viewer = t.user_with_role("mine.example", "viewer").await;
    let (status, body) = viewer.get("/api/v1/realtime").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "site");
    for site in ["nowhere.example", "theirs.example"] {
        let (status, body) = viewer.get(&format!("/api/v1/realtime?site={site}")).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("site_id")), "{site}: {body}");
    }
    let (status, _) = t.get("/api/v1/realtime?site=mine.example").await;
    assert_eq!(status, 401, "no session, no stream");
}
