//! The tracker in a real browser: headless Chromium (Debian's) loads demo pages from a
//! site of their own (another origin, as a customer's site is), with `tally.js` or
//! Plausible's `/js/script.*.js` from the gateway (tagged events, exclusions, local and
//! compat included), and every kind of event the tracker sends arrives across origins
//! with the right fields and no CORS error; pages on localhost send nothing but with
//! `script.local.js`.
//! `tests/browser/run.mjs` drives the browser; this test checks what was stored.

use std::io::Read;

use tally_tests::browser::run_script;
use tally_tests::Tally;

/// Each build, the largest (every extension) included, stays under 2.5 KB gzipped.
#[tokio::test]
async fn tracker_is_small() {
    let t = Tally::start().await;
    for path in [
        "/tally.js",
        "/js/script.js",
        "/js/script.compat.exclusions.file-downloads.hash.local.outbound-links.pageview-props.tagged-events.js",
    ] {
        let resp = t.gateway.http.get(format!("{}{path}", t.gateway.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));
        let source = resp.bytes().await.unwrap();
        let mut gz = Vec::new();
        let mut encoder = flate2::read::GzEncoder::new(&source[..], flate2::Compression::best());
        encoder.read_to_end(&mut gz).unwrap();
        assert!(gz.len() < 2560, "{path} is {} bytes gzipped", gz.len());
    }
}

#[tokio::test]
async fn chromium_sends_pageviews_spa_routes_custom_events_links_and_downloads_and_honours_opt_out() {
    let t = Tally::start().await;
    t.sql("SELECT tally.create_site('demo.test')").await;

    // Asynchronously: the gateway under test runs on this test's runtime.
    let out = run_script("run.mjs", &[&t.gateway.base], &[], 120).await;
    let report: serde_json::Value = serde_json::from_str(out.lines().last().expect("run.mjs reports")).expect("a JSON line");
    let site = report["site"].as_str().expect("the demo site's origin");

    let rows = t.sql("SELECT name, pathname, count(*) FROM tally.events WHERE name <> 'engagement' GROUP BY 1, 2 ORDER BY 1, 2").await;
    let got: Vec<(String, String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let want: Vec<(String, String, i64)> = [
        ("Contact", "/tagged.html", 1),
        ("Excluded Page Event", "/shop/private/x", 1),
        ("File Download", "/demo.html", 1),
        ("Newsletter Signup", "/tagged.html", 1),
        ("Outbound Link: Click", "/demo.html", 1),
        ("Outbound Link: Click", "/plausible.html", 1),
        ("Plausible Queued", "/plausible.html", 1),
        ("Queued Before Load", "/demo.html", 2),
        ("Signup", "/demo.html", 1),
        ("pageview", "/app/settings", 1),
        ("pageview", "/compat.html", 1),
        ("pageview", "/demo.html", 3),
        ("pageview", "/exclusions.html", 1),
        ("pageview", "/hash.html", 1),
        ("pageview", "/hash.html#/inbox", 1),
        ("pageview", "/local.html", 1),
        ("pageview", "/plausible.html", 1),
        ("pageview", "/shop/a/b", 1),
        ("pageview", "/shop/private/x/y", 1),
        ("pageview", "/tagged-next", 1),
        ("pageview", "/tagged.html", 1),
    ]
    .iter()
    .map(|(n, p, c)| (n.to_string(), p.to_string(), *c))
    .collect();
    assert_eq!(got, want);

    let signup = &t
        .sql("SELECT props, revenue_micros, revenue_currency, browser, device, screen_width FROM tally.events WHERE name = 'Signup'")
        .await[0];
    assert_eq!(signup.get::<_, serde_json::Value>(0), serde_json::json!({"plan": "pro", "seats": "3"}));
    assert_eq!(signup.get::<_, Option<i64>>(1), Some(19_990_000));
    assert_eq!(signup.get::<_, Option<String>>(2).as_deref(), Some("EUR"));
    assert_eq!(signup.get::<_, Option<String>>(3).as_deref(), Some("Chrome"));
    assert_eq!(signup.get::<_, Option<String>>(4).as_deref(), Some("desktop"));
    assert!(signup.get::<_, Option<i32>>(5).is_some_and(|w| w > 0));
    let links: Vec<String> = t
        .sql("SELECT props->>'url' FROM tally.events WHERE name IN ('Outbound Link: Click', 'File Download') ORDER BY name, 1")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        links,
        vec![
            format!("{site}/files/report.pdf"),
            "https://partner.example.org/offer".to_string(),
            "https://partner.example.org/plausible".to_string()
        ]
    );
    let tagged: Vec<(String, serde_json::Value)> = t
        .sql(
            "SELECT name, props FROM tally.events WHERE pathname = '/tagged.html' AND name NOT IN ('pageview', 'engagement') ORDER BY name",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        tagged,
        vec![("Contact".to_string(), serde_json::json!({})), ("Newsletter Signup".to_string(), serde_json::json!({"position": "footer"}))]
    );
    // The script tag's event-author attribute is a prop of its pageviews.
    let authors: Vec<Option<String>> = t
        .sql("SELECT props->>'author' FROM tally.events WHERE name = 'pageview' AND pathname LIKE '/tagged%' ORDER BY pathname")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(authors, vec![Some("Ada".to_string()), Some("Ada".to_string())]);
    // Engagement of the tagged page, scrolled to its end before the SPA route left it.
    let engaged = &t
        .sql("SELECT sum(engagement_ms)::bigint, max(scroll_depth) FROM tally.events WHERE name = 'engagement' AND pathname = '/tagged.html'")
        .await[0];
    assert!(engaged.get::<_, Option<i64>>(0).is_some_and(|ms| ms > 0), "engaged time reported");
    assert_eq!(engaged.get::<_, Option<i32>>(1), Some(100), "scrolled to the end");
    let sessions: i64 = t.db.value("SELECT count(DISTINCT session_id) FROM tally.events").await;
    assert_eq!(sessions, 1, "one browser, one visit");
}

/// Plausible's script paths answer with the tracker (its variants by file name, nothing
/// else under /js/), and the ingest routes answer any origin, preflights included, without
/// ever allowing credentials.
#[tokio::test]
async fn plausible_script_paths_and_cross_origin_ingest() {
    let t = Tally::start().await;
    let get = |path: &str| t.gateway.http.get(format!("{}{path}", t.gateway.base)).send();
    for path in ["/js/script.js", "/js/script.hash.js", "/js/script.outbound-links.file-downloads.js", "/js/script.manual.revenue.js"] {
        let resp = get(path).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.text().await.unwrap().contains("w.plausible"), "{path} is the tracker");
    }
    for path in ["/js/other.js", "/js/script..js", "/js/script.HASH.js", "/js/script.js.map", "/js/scriptx.js"] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path}");
    }
    for (path, headers) in [("/api/event", Some("content-type")), ("/api/v1/events", Some("authorization,content-type"))] {
        let preflight = preflight(&t, path, headers).await;
        assert!(preflight.status().is_success(), "{path}: {}", preflight.status());
        let h = preflight.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{path}");
        assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
        // A JSON client (and an ingest key) may send what it asked for.
        let allowed = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(headers.unwrap().split(',').all(|asked| allowed.contains(asked)), "{path}: {allowed}");
        assert!(h.get("access-control-allow-credentials").is_none());
    }
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/event", t.gateway.base))
        .header("Origin", "https://customer.example")
        .header("Content-Type", "text/plain")
        .body(r#"{"n":"pageview","u":"https://customer.example/","d":"customer.example"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    // The API stays same-origin: no CORS grant outside ingest.
    let query = preflight(&t, "/api/v1/query", None).await;
    assert!(query.headers().get("access-control-allow-origin").is_none());
}

/// A browser's CORS preflight of a POST to `path` from another site, asking to send
/// `headers` when given.
async fn preflight(t: &Tally, path: &str, headers: Option<&str>) -> reqwest::Response {
    let mut request = t
        .gateway
        .http
        .request(reqwest::Method::OPTIONS, format!("{}{path}", t.gateway.base))
        .header("Origin", "https://customer.example")
        .header("Access-Control-Request-Method", "POST");
    if let Some(headers) = headers {
        request = request.header("Access-Control-Request-Headers", headers);
    }
    request.send().await.unwrap()
}
