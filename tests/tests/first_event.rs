//! The first vertical slice: an event posted to the gateway is committed through the
//! extension's hot table and reads back the same through SQL, psql and HTTP.

use serde_json::json;
use tally_tests::Tally;

#[tokio::test]
async fn posted_event_reads_back_through_sql_and_http() {
    let t = Tally::with_site("shop.example").await;
    let (status, body) = t
        .post(
            "/api/event",
            json!({
                "name": "pageview",
                "url": "https://www.shop.example/pricing?utm_source=newsletter&utm_campaign=spring",
                "domain": "shop.example",
                "referrer": "https://news.ycombinator.com/item?id=1",
                "props": {"plan": "pro", "seats": 3},
                "w": 1280
            }),
        )
        .await;
    assert_eq!((status, body), (202, json!({"accepted": 1, "dropped": []})));

    let rows = t
        .sql("SELECT name, hostname, pathname, referrer_source, utm_campaign, browser, device, screen_width, props->>'seats', ts > now() - interval '1 minute' \
              FROM tally.events e JOIN tally.sites s USING (site_id) WHERE s.domain = 'shop.example'")
        .await;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), "pageview");
    assert_eq!(r.get::<_, String>(1), "shop.example");
    assert_eq!(r.get::<_, String>(2), "/pricing");
    assert_eq!(r.get::<_, Option<String>>(3).as_deref(), Some("newsletter"));
    assert_eq!(r.get::<_, Option<String>>(4).as_deref(), Some("spring"));
    assert_eq!(r.get::<_, Option<String>>(5).as_deref(), Some("Firefox"));
    assert_eq!(r.get::<_, Option<String>>(6).as_deref(), Some("desktop"));
    assert_eq!(r.get::<_, Option<i32>>(7), Some(1280));
    assert_eq!(r.get::<_, Option<String>>(8).as_deref(), Some("3"));
    assert!(r.get::<_, bool>(9));

    let viewer = t.user_with_role("shop.example", "viewer").await;
    let (status, body) = viewer.get("/api/v1/events?site=shop.example").await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().expect("events array");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["pathname"], "/pricing");
    assert_eq!(events[0]["props"], json!({"plan": "pro", "seats": "3"}));
}

#[tokio::test]
async fn psql_sees_committed_events() {
    let t = Tally::with_site("docs.example").await;
    for path in ["/a", "/b", "/a"] {
        let (status, _) =
            t.post("/api/event", json!({"n": "pageview", "u": format!("https://docs.example{path}"), "d": "docs.example"})).await;
        assert_eq!(status, 202);
    }
    let out = std::process::Command::new("psql")
        .args(["-X", "-At", "-F", "|", &t.db.url, "-c", "SELECT pathname, count(*) FROM tally.events GROUP BY 1 ORDER BY 1"])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/a|2\n/b|1\n");
}

#[tokio::test]
async fn one_request_reports_to_several_sites() {
    let t = Tally::with_site("a.example").await;
    t.sql("SELECT tally.create_site('b.example')").await;
    let (status, body) = t.post("/api/event", json!({"n": "pageview", "u": "https://a.example/", "d": "a.example,b.example"})).await;
    assert_eq!((status, body["accepted"].clone()), (202, json!(2)));
    let sites: i64 = t.db.value("SELECT count(DISTINCT site_id) FROM tally.events").await;
    assert_eq!(sites, 2);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_stored() {
    let t = Tally::with_site("a.example").await;
    let cases = [
        (json!({"url": "https://a.example/", "domain": "a.example"}), "name"),
        (json!({"name": "pageview", "domain": "a.example"}), "url"),
        (json!({"name": "pageview", "url": "/relative", "domain": "a.example"}), "url"),
        (json!({"name": "pageview", "url": "https://a.example/", "domain": "a.example", "props": {"k": {"x": 1}}}), "props.k"),
        (
            json!({"name": "pageview", "url": "https://a.example/", "domain": "a.example", "revenue": {"amount": "ten", "currency": "EUR"}}),
            "revenue.amount",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (status, err) = t.post("/api/event", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["field"], field, "{body} → {err}");
        assert!(err["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Not JSON at all.
    let resp = t.gateway.http.post(format!("{}/api/event", t.gateway.base)).body("{").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    // Larger than --max-body-bytes.
    let big = json!({"name": "pageview", "url": "https://a.example/", "domain": "a.example", "props": {"k": "x".repeat(2 << 20)}});
    let (status, err) = t.post("/api/event", big).await;
    assert_eq!(status, 413, "{err}");
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn crawlers_are_dropped_not_stored() {
    let t = Tally::with_site("a.example").await;
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/event", t.gateway.base))
        .header("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        .json(&json!({"name": "pageview", "url": "https://a.example/", "domain": "a.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), json!({"accepted": 0, "dropped": ["bot"]}));
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn events_for_an_unknown_domain_are_dropped_and_counted() {
    let t = Tally::with_site("a.example").await;
    let (status, body) = t.post("/api/event", json!({"name": "pageview", "url": "https://a.example/", "domain": "nope.example"})).await;
    assert_eq!((status, body), (202, json!({"accepted": 0, "dropped": ["unknown_site"]})));
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 0);
    let metrics = t.get("/metrics").await.1;
    let text = metrics.as_str().expect("text exposition");
    assert!(text.contains("tally_ingest_events_dropped_total{reason=\"unknown_site\"} 1"), "{text}");
}

#[tokio::test]
async fn read_api_validates_its_parameters() {
    let t = Tally::with_site("a.example").await;
    assert_eq!(t.get("/api/v1/events?site=a.example").await.0, 401, "signed-in callers only");
    let analyst = t.user_with_role("a.example", "analyst").await;
    assert_eq!(analyst.get("/api/v1/events").await.1["field"], "site");
    assert_eq!(analyst.get("/api/v1/events?site=a.example&limit=0").await.1["field"], "limit");
    assert_eq!(analyst.get("/api/v1/events?site=a.example&limit=abc").await.1["field"], "limit");
    assert_eq!(analyst.get("/api/v1/events?site=unknown.example").await.0, 404);
    let (status, health) = t.get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn shutdown_flushes_every_accepted_event() {
    // A batch window far longer than the test: only the shutdown flush can commit these.
    let t = Tally::with_site("a.example").await;
    let Tally { db, gateway } = {
        let db = t.db;
        t.gateway.shutdown().await;
        let gateway = tally_tests::TestGateway::start(&db, |c| {
            c.batch_max_wait_ms = 60_000;
            c.batch_max_events = 1_000_000;
        })
        .await;
        Tally { db, gateway }
    };
    let http = gateway.http.clone();
    let url = format!("{}/api/event", gateway.base);
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let body = json!({"name": "pageview", "url": format!("https://a.example/p{i}"), "domain": "a.example"});
                http.post(url).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    // Let the requests reach the batcher, then stop the gateway.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pending: i64 = db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(pending, 0, "nothing is committed before the batch window closes");
    gateway.shutdown().await;
    for s in senders {
        assert_eq!(s.await.unwrap(), 202);
    }
    let stored: i64 = db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 20);
}

/// The device class: the tracker's viewport width decides (Plausible's bands), else the
/// user agent, which knows tablets (an iPad; Android without the `Mobile` token).
#[tokio::test]
async fn device_class_follows_the_screen_width_then_the_user_agent() {
    let t = Tally::with_site("devices.example").await;
    let ipad =
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    let android_tablet = "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let sends: [(&str, Option<i32>, Option<&str>); 4] =
        [("/narrow", Some(390), None), ("/middle", Some(800), None), ("/ipad", None, Some(ipad)), ("/tab", None, Some(android_tablet))];
    for (path, width, ua) in sends {
        let mut body = json!({"n": "pageview", "u": format!("https://devices.example{path}"), "d": "devices.example"});
        if let Some(w) = width {
            body["w"] = json!(w);
        }
        let headers: Vec<(&str, &str)> =
            [("Content-Type", "application/json")].into_iter().chain(ua.map(|ua| ("User-Agent", ua))).collect();
        let (status, _) = t.gateway.post_raw("/api/event", &headers, body.to_string()).await;
        assert_eq!(status, 202, "{path}");
    }
    let rows = t.sql("SELECT pathname, device, os FROM tally.events ORDER BY pathname").await;
    let got: Vec<(String, Option<String>, Option<String>)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            ("/ipad".to_string(), s("tablet"), s("iOS")),
            ("/middle".to_string(), s("tablet"), s("GNU/Linux")),
            ("/narrow".to_string(), s("mobile"), s("GNU/Linux")),
            ("/tab".to_string(), s("tablet"), s("Android")),
        ]
    );
}
