//! `visit:channel`, Plausible's acquisition channel: the gateway classifies each event
//! sent to `POST /api/event` from its referrer, UTM tags and click id, and a visit's
//! channel is its first event's, broken down and filtered like `visit:source` through
//! `/api/v2/query` and `/api/v1/query`, from hot rows and from segments alike.

use serde_json::{json, Value};
use tally_tests::Tally;

/// `POST /api/event` from browser number `n` (one visitor each: the IP is shared).
async fn send(t: &Tally, n: u32, url: &str, referrer: Option<&str>) {
    let user_agent = format!("Mozilla/5.0 (X11; Linux x86_64; rv:1{n:02}.0) Gecko/20100101 Firefox/1{n:02}.0");
    let mut body = json!({"n": "pageview", "u": url, "d": "a.example"});
    if let Some(referrer) = referrer {
        body["r"] = json!(referrer);
    }
    let headers = [("Content-Type", "application/json"), ("User-Agent", user_agent.as_str())];
    let (status, answer) = t.gateway.post_raw("/api/event", &headers, body.to_string()).await;
    assert_eq!((status, answer["accepted"].clone()), (202, json!(1)), "{body} → {answer}");
}

#[tokio::test]
async fn visits_are_grouped_and_filtered_by_their_acquisition_channel() {
    let t = Tally::with_site("a.example").await;
    let google = Some("https://www.google.com/");
    // Visitor 1 comes from Google and reads a second page: the visit stays Organic
    // Search, though its second pageview, referred by the site itself, is Direct.
    send(&t, 1, "https://a.example/", google).await;
    send(&t, 1, "https://a.example/pricing", Some("https://a.example/")).await;
    send(&t, 2, "https://a.example/", Some("https://www.bing.com/search?q=a")).await;
    // An ad click: Google's click id makes its search paid.
    send(&t, 3, "https://a.example/?gclid=Cj0KCQ", google).await;
    // A UTM tag overrides the referrer: an ad on Facebook, then a newsletter.
    send(&t, 4, "https://a.example/?utm_source=fb-ads", google).await;
    send(&t, 5, "https://a.example/?utm_source=Newsletter&utm_medium=EMAIL", None).await;
    send(&t, 6, "https://a.example/post", Some("https://blog.example.org/links")).await;
    send(&t, 7, "https://a.example/", None).await;

    let stored: Vec<(String, Option<String>)> =
        t.sql("SELECT pathname, channel FROM tally.events ORDER BY ts").await.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(stored[1], ("/pricing".into(), Some("Direct".into())), "each event has the channel it would start a visit with");

    let analyst = t.user_with_role("a.example", "analyst").await;
    let v2 = |dimensions: Value, filters: Value| {
        json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "visits", "pageviews", "bounce_rate"],
            "dimensions": dimensions, "filters": filters, "order_by": [["visitors", "desc"], ["visit:channel", "asc"]]})
    };
    let breakdown = v2(json!(["visit:channel"]), json!([]));
    let expected = json!([
        {"dimensions": ["Organic Search"], "metrics": [2, 2, 3, 50.0]},
        {"dimensions": ["Direct"], "metrics": [1, 1, 1, 100.0]},
        {"dimensions": ["Email"], "metrics": [1, 1, 1, 100.0]},
        {"dimensions": ["Paid Search"], "metrics": [1, 1, 1, 100.0]},
        {"dimensions": ["Paid Social"], "metrics": [1, 1, 1, 100.0]},
        {"dimensions": ["Referral"], "metrics": [1, 1, 1, 100.0]},
    ]);
    // Filters as Plausible's clients send them, and what each leaves of the channels.
    let filtered = [
        (json!([["is", "visit:channel", ["Paid Search", "Paid Social"]]]), vec!["Paid Search", "Paid Social"]),
        (json!([["is_not", "visit:channel", ["Direct", "Organic Search"]]]), vec!["Email", "Paid Search", "Paid Social", "Referral"]),
        (json!([["contains", "visit:channel", ["organic"], {"case_sensitive": false}]]), vec!["Organic Search"]),
        (json!([["matches", "visit:channel", ["^Paid "]]]), vec!["Paid Search", "Paid Social"]),
    ];
    let channels = |answer: &Value| -> Vec<String> {
        let mut names: Vec<String> =
            answer["results"].as_array().into_iter().flatten().map(|r| r["dimensions"][0].as_str().unwrap_or("?").to_owned()).collect();
        names.sort();
        names
    };
    for stage in ["hot rows", "segments"] {
        let (status, answer) = analyst.post("/api/v2/query", breakdown.clone()).await;
        assert_eq!((status, &answer["results"]), (200, &expected), "{stage}: {answer}");
        for (filters, kept) in &filtered {
            let (status, answer) = analyst.post("/api/v2/query", v2(json!(["visit:channel"]), filters.clone())).await;
            assert_eq!((status, channels(&answer)), (200, kept.iter().map(|k| k.to_string()).collect()), "{stage}, {filters}: {answer}");
        }
        // A channel filter on another breakdown keeps the whole visits of the channel.
        let by_page = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors", "pageviews"],
            "dimensions": ["event:page"], "filters": [["is", "visit:channel", ["Organic Search"]]], "order_by": [["event:page", "asc"]]});
        let (status, answer) = analyst.post("/api/v2/query", by_page).await;
        assert_eq!(
            (status, &answer["results"]),
            (200, &json!([{"dimensions": ["/"], "metrics": [2, 2]}, {"dimensions": ["/pricing"], "metrics": [1, 1]}])),
            "{stage}: {answer}"
        );
        // The engine's own grammar at /api/v1/query knows the dimension too.
        let v1 = json!({"site_id": "a.example", "date_range": "day", "metrics": ["visitors"], "dimensions": ["visit:channel"],
            "filters": [["is", "visit:channel", ["Email"]]]});
        let (status, answer) = analyst.post("/api/v1/query", v1).await;
        assert_eq!((status, &answer["results"]), (200, &json!([{"dimensions": ["Email"], "metrics": [1]}])), "{stage}: {answer}");
        t.sql("SELECT tally.compact(true)").await;
    }
    assert_eq!(t.sql("SELECT count(*) FROM tally.events_hot").await[0].get::<_, i64>(0), 0, "compacted");
}
