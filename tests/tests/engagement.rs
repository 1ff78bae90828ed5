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

/// `POST /api/event` from the browser `user_agent` (one visitor per browser).
async fn send_as(t: &Tally, user_agent: &str, body: serde_json::Value) {
    let headers = [("Content-Type", "application/json"), ("User-Agent", user_agent)];
    let (status, answer) = t.gateway.post_raw("/api/event", &headers, body.to_string()).await;
    assert_eq!((status, answer["accepted"].clone()), (202, json!(1)), "{body} → {answer}");
}

#[tokio::test]
async fn scroll_depth_is_each_visitors_deepest_scroll_of_the_page() {
    let t = Tally::with_site("a.example").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36";
    let page = |n: &str, path: &str, sd: Option<i64>| {
        let mut body = json!({"n": n, "u": format!("https://a.example{path}"), "d": "a.example"});
        if let Some(sd) = sd {
            (body["e"], body["sd"]) = (json!(1_000), json!(sd));
        }
        body
    };
    // Firefox scrolls /doc to 30 % then 80 %, and /faq to the end (the page grew: 130 %);
    // Chrome scrolls /doc to 40 %; nobody reports a scroll of /.
    for (ua, body) in [
        (firefox, page("pageview", "/doc", None)),
        (firefox, page("engagement", "/doc", Some(30))),
        (firefox, page("engagement", "/doc", Some(80))),
        (firefox, page("pageview", "/faq", None)),
        (firefox, page("engagement", "/faq", Some(130))),
        (chrome, page("pageview", "/doc", None)),
        (chrome, page("engagement", "/doc", Some(40))),
        (chrome, page("pageview", "/", None)),
    ] {
        send_as(&t, ua, body).await;
    }
    let stored: Vec<Option<i32>> =
        t.sql("SELECT scroll_depth FROM tally.events WHERE name = 'engagement' ORDER BY ts").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, [Some(30), Some(80), Some(100), Some(40)]);

    let analyst = t.user_with_role("a.example", "analyst").await;
    let by_page = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "scroll_depth"],
        "dimensions": ["event:page"], "order_by": [["visitors", "desc"], ["event:page", "asc"]]});
    let expected = json!([
        {"dimensions": ["/doc"], "metrics": [2, 60]},
        {"dimensions": ["/"], "metrics": [1, null]},
        {"dimensions": ["/faq"], "metrics": [1, 100]}
    ]);
    for stage in ["hot rows", "segments"] {
        let (status, answer) = analyst.post("/api/v1/query", by_page.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &expected), "{stage}: {answer}");
        let v2 = json!({"site_id": "a.example", "date_range": "day", "metrics": ["scroll_depth"],
            "filters": [["is", "event:page", ["/doc"]]]});
        let (status, answer) = analyst.post("/api/v2/query", v2).await;
        assert_eq!((status, &answer["results"]), (200, &json!([{"metrics": [60], "dimensions": []}])), "{stage}: {answer}");
        t.sql("SELECT tally.compact(true)").await;
    }
    assert_eq!(t.sql("SELECT count(*) FROM tally.events_hot").await[0].get::<_, i64>(0), 0, "compacted");

    // Without a page to measure, the metric is refused naming it, as Plausible does.
    let site_wide = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "scroll_depth"]});
    for path in ["/api/v1/query", "/api/v2/query"] {
        let (status, err) = analyst.post(path, site_wide.clone()).await;
        assert_eq!((status, err["field"].clone()), (400, json!("metrics[1]")), "{path}: {err}");
        assert!(err["error"].as_str().unwrap().contains("scroll_depth"), "{err}");
    }
}

/// Plausible's `interactive: false` (`i` from the tracker): the event is stored and
/// counted, but a visit whose other events are not interactive stays a bounce, in hot
/// rows, in segments and in rollups alike.
#[tokio::test]
async fn non_interactive_events_never_end_a_bounce() {
    let t = Tally::with_site("a.example").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36";
    let url = "https://a.example/video";
    for (ua, body) in [
        // Firefox: a pageview, then a video that starts playing by itself.
        (firefox, json!({"n": "pageview", "u": url, "d": "a.example"})),
        (firefox, json!({"n": "Autoplay", "u": url, "d": "a.example", "i": false})),
        // Chrome: a pageview, then a click on play.
        (chrome, json!({"n": "pageview", "u": url, "d": "a.example"})),
        (chrome, json!({"name": "Play", "url": url, "domain": "a.example", "interactive": true})),
    ] {
        send_as(&t, ua, body).await;
    }
    let flags: Vec<(String, Option<bool>)> =
        t.sql("SELECT name, interactive FROM tally.events ORDER BY name").await.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        flags,
        [("Autoplay".into(), Some(false)), ("Play".into(), Some(true)), ("pageview".into(), Some(true)), ("pageview".into(), Some(true))]
    );

    let analyst = t.user_with_role("a.example", "analyst").await;
    let query = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visits", "bounce_rate", "events"]});
    let by_page = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visits", "bounce_rate"], "dimensions": ["event:page"]});
    for stage in ["hot rows", "segments and rollups"] {
        let (status, answer) = analyst.post("/api/v1/query", query.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &json!([{"dimensions": [], "metrics": [2, 50.0, 4]}])), "{stage}: {answer}");
        let (status, answer) = analyst.post("/api/v1/query", by_page.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &json!([{"dimensions": ["/video"], "metrics": [2, 50.0]}])), "{stage}: {answer}");
        t.sql("SELECT tally.compact(true)").await;
    }
    let (status, err) = t.post("/api/event", json!({"n": "Play", "u": url, "d": "a.example", "i": "no"})).await;
    assert_eq!((status, err["field"].clone()), (400, json!("interactive")));
}
