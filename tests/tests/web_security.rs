//! Attacks on the web surface, sent as an attacker would, over real HTTP to a real
//! gateway: forged cross-site requests (CSRF), the browser-side protections every
//! response carries, `/metrics` exposure, webhooks aimed at internal addresses
//! (SSRF: literal, resolved, redirected), a test action used as a port scanner,
//! channel and email floods, path traversal on the static files, formula injection
//! in CSV exports, and oversized or deeply nested JSON bodies.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN};
use serde_json::{json, Value};
use tally_tests::gateway::decode;
use tally_tests::sinks::{silent_port, SmtpSink, WebhookReceiver};
use tally_tests::{Session, Tally};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec-test-0123456789abcdef";

/// `POST /api/v1/users` creating `email` as an administrator, with the admin's cookie,
/// `content_type` and extra headers, sent the way a page on another site could.
async fn forged_user(t: &Tally, admin: &Session, email: &str, content_type: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let body = json!({"email": email, "name": "Mallory", "password": "mallory-owns-this", "admin": true}).to_string();
    let mut req = t
        .gateway
        .http
        .post(format!("{}/api/v1/users", t.gateway.base))
        .header(COOKIE, &admin.cookie)
        .header(CONTENT_TYPE, content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    decode(req.send().await.expect("POST")).await
}

async fn user_exists(t: &Tally, email: &str) -> bool {
    t.db.client.query_opt("SELECT 1 FROM tally.users WHERE email = $1", &[&email]).await.unwrap().is_some()
}

#[tokio::test]
async fn forged_cross_site_requests_are_refused_and_same_origin_ones_work() {
    let t = Tally::with_site("shop.example").await;
    let admin = t.admin().await;
    let evil = [("origin", "https://evil.example")];

    // The attack of issue 22: a text/plain form post from another site.
    let (status, body) = forged_user(&t, &admin, "m1@evil.example", "text/plain", &evil).await;
    assert_eq!((status, body["error"].is_string()), (403, true), "{body}");
    assert!(!user_exists(&t, "m1@evil.example").await, "no user created");
    // A JSON body from another origin, a sibling subdomain, or a same-site page.
    let forged: [&[(&str, &str)]; 5] = [
        &evil,
        &[("origin", "https://tracked.shop.example")],
        &[("sec-fetch-site", "same-site"), ("origin", "https://www.shop.example")],
        &[("sec-fetch-site", "cross-site")],
        &[("origin", "null")],
    ];
    for headers in forged {
        let (status, body) = forged_user(&t, &admin, "m2@evil.example", "application/json", headers).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
    }
    // Without an Origin a text/plain (form-like) body is refused anyway.
    let (status, body) = forged_user(&t, &admin, "m3@evil.example", "text/plain", &[]).await;
    assert_eq!((status, body["field"].as_str()), (415, Some("Content-Type")), "{body}");
    let (status, _) = forged_user(&t, &admin, "m4@evil.example", "application/x-www-form-urlencoded", &[]).await;
    assert_eq!(status, 415);
    for email in ["m2@evil.example", "m3@evil.example", "m4@evil.example"] {
        assert!(!user_exists(&t, email).await, "{email} not created");
    }
    // A bodyless state change (create an ingest key) from another origin.
    let forged_key = t
        .gateway
        .http
        .post(format!("{}/api/v1/sites/1/ingest-keys", t.gateway.base))
        .header(COOKIE, &admin.cookie)
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged_key.status(), 403);
    // Forged sign-in (logging the victim into the attacker's account).
    let forged_login = t
        .gateway
        .http
        .post(format!("{}/api/v1/auth/login", t.gateway.base))
        .header(ORIGIN, "https://evil.example")
        .json(&json!({"email": admin.email, "password": tally_tests::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_login.status(), 403);
    let keys: i64 = t.db.value("SELECT count(*) FROM tally.ingest_keys").await;
    assert_eq!(keys, 0, "no ingest key created");

    // The same requests from the dashboard's own origin work.
    let own = t.gateway.base.as_str();
    let (status, body) = forged_user(&t, &admin, "ok1@shop.example", "application/json", &[("origin", own)]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        forged_user(&t, &admin, "ok2@shop.example", "application/json", &[("sec-fetch-site", "same-origin"), ("origin", own)]).await;
    assert_eq!(status, 201, "{body}");
    // An API key is not a cookie: a program may send it from anywhere.
    let (key, _) = admin.api_key(None).await;
    let resp = t
        .gateway
        .http
        .get(format!("{}/api/v1/users", t.gateway.base))
        .bearer_auth(&key)
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Ingest stays cross-origin, as the tracker sends it.
    let (status, _) = t
        .gateway
        .post_raw(
            "/api/event",
            &[("content-type", "text/plain"), ("origin", "https://shop.example")],
            r#"{"name":"pageview","url":"https://shop.example/","domain":"shop.example"}"#,
        )
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn the_json_extractor_refuses_other_content_types_even_with_an_api_key() {
    let t = Tally::with_site("shop.example").await;
    let admin = t.admin().await;
    let (key, _) = admin.api_key(None).await;
    let body = json!({"site_id": "shop.example", "date_range": "7d", "metrics": ["visitors"]}).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let (status, answer) = t
            .gateway
            .post_raw("/api/v1/query", &[("authorization", &format!("Bearer {key}")), ("content-type", content_type)], body.clone())
            .await;
        assert_eq!((status, answer["field"].as_str()), (415, Some("Content-Type")), "{content_type}: {answer}");
    }
    let (status, _) = t
        .gateway
        .post_raw(
            "/api/v1/query",
            &[("authorization", &format!("Bearer {key}")), ("content-type", "application/json; charset=utf-8")],
            body,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let t = Tally::start().await;
    for path in ["/", "/index.html", "/app.js", "/api/v1/auth/me", "/healthz", "/no-such-file"] {
        let resp = t.gateway.http.get(format!("{}{path}", t.gateway.base)).send().await.unwrap();
        let h = resp.headers();
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let csp = text("content-security-policy");
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
            assert!(csp.contains(directive), "{path}: {directive} missing from {csp:?}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(text("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(text("x-frame-options"), "DENY", "{path}");
        assert_eq!(text("referrer-policy"), "same-origin", "{path}");
    }
}

#[tokio::test]
async fn metrics_are_closed_unless_a_token_is_configured() {
    let t = Tally::start_with(|c| c.metrics_token = None).await;
    let (status, _) = t.get("/metrics").await;
    assert_eq!(status, 404, "no token configured: not served");

    let t = Tally::start().await;
    let url = format!("{}/metrics", t.gateway.base);
    assert_eq!(t.gateway.http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(t.gateway.http.get(&url).bearer_auth("wrong").send().await.unwrap().status(), 401);
    let (status, text) = t.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(text.as_str().is_some_and(|s| s.contains("# TYPE")), "{text}");
}

/// An analyst of `shop.example` with a rule sending to `channels`; returns the
/// signed-in analyst and the rule's id.
async fn rule_with(t: &Tally, channels: Value) -> (Session, i64) {
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let rule = json!({"name": "Any traffic", "metric": "visitors", "window_minutes": 10, "condition": "above", "threshold": 0,
                      "channels": channels});
    let (status, body) = analyst.post("/api/v1/alerts/rules?site=shop.example", rule).await;
    assert_eq!(status, 201, "{body}");
    (analyst, body["id"].as_i64().expect("rule id"))
}

/// The test action's `(ok, error)` per channel.
async fn test_action(analyst: &Session, rule: i64) -> Vec<(bool, String)> {
    let (status, report) = analyst.post(&format!("/api/v1/alerts/rules/{rule}/test"), json!({})).await;
    assert_eq!(status, 200, "{report}");
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["ok"].as_bool().expect("ok"), r["error"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn hook(url: &str) -> Value {
    json!({"type": "webhook", "url": url, "secret": SECRET})
}

#[tokio::test]
async fn webhooks_to_loopback_private_and_metadata_addresses_are_refused_before_connecting() {
    let v4 = WebhookReceiver::start(0).await;
    let v6 = WebhookReceiver::start_on("::1", 0, None).await;
    // The default: no internal network allowed.
    let t = Tally::start_with(|c| c.webhook_allow = Vec::new()).await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let targets = [
        v4.url.clone(),
        format!("http://localhost:{}/hook", v4.port),
        format!("http://2130706433:{}/hook", v4.port),
        format!("http://[::ffff:127.0.0.1]:{}/hook", v4.port),
        v6.url.clone(),
        format!("http://localhost:{}/hook", v6.port),
        // Never reached even if the check failed: the network has no route to them,
        // and the refusal is asserted by its message, which only the check gives.
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
    ];
    let (analyst, rule) = rule_with(&t, targets.iter().map(|u| hook(u)).collect()).await;
    for ((ok, error), target) in test_action(&analyst, rule).await.into_iter().zip(&targets) {
        assert!(!ok, "{target} was sent to");
        assert!(error.contains("address is not allowed"), "{target}: {error}");
    }
    assert!(v4.received().is_empty() && v6.received().is_empty(), "nothing reached a loopback receiver");
}

#[tokio::test]
async fn a_redirect_from_an_allowed_receiver_to_a_refused_address_is_not_followed() {
    let inner = WebhookReceiver::start_on("127.0.0.2", 0, None).await;
    let outer = WebhookReceiver::start_on("127.0.0.1", 0, Some(inner.url.clone())).await;
    let t = Tally::start_with(|c| c.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()]).await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let (analyst, rule) = rule_with(&t, json!([hook(&outer.url), hook(&inner.url)])).await;
    let results = test_action(&analyst, rule).await;
    assert_eq!(outer.received().len(), 1, "the allowed receiver was asked");
    assert!(!results[0].0 && results[0].1.contains("redirects are not followed"), "{results:?}");
    assert!(!results[1].0 && results[1].1.contains("address is not allowed"), "{results:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(inner.received().is_empty(), "the redirect's target was never contacted");
}

#[tokio::test]
async fn the_test_action_says_the_same_for_a_closed_port_and_a_silent_one() {
    let closed = format!("http://127.0.0.1:{}/hook", tally_tests::cluster::free_port());
    let silent = format!("http://127.0.0.1:{}/hook", silent_port().await);
    let t = Tally::start_with(|c| c.alert_timeout_ms = 500).await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let (analyst, rule) = rule_with(&t, json!([hook(&closed), hook(&silent)])).await;
    let results = test_action(&analyst, rule).await;
    assert!(!results[0].0 && !results[1].0, "{results:?}");
    assert_eq!(results[0].1, results[1].1, "refused and filtered ports must not be told apart");
    assert!(!results[0].1.contains("127.0.0.1") && !results[0].1.to_lowercase().contains("tcp"), "{}", results[0].1);
}

#[tokio::test]
async fn a_rule_has_at_most_ten_channels_and_a_site_a_budget_of_emails() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let t = Tally::start_with(move |c| {
        c.smtp_url = url;
        c.alert_emails_per_hour = 2;
    })
    .await;
    t.sql("SELECT tally.create_site('shop.example')").await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    let eleven: Vec<Value> = (0..11).map(|i| json!({"type": "email", "to": format!("ops{i}@shop.example")})).collect();
    let rule =
        json!({"name": "Spam", "metric": "visitors", "window_minutes": 10, "condition": "above", "threshold": 0, "channels": eleven});
    let (status, body) = analyst.post("/api/v1/alerts/rules?site=shop.example", rule).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("channels")), "{body}");

    let three: Vec<Value> = (0..3).map(|i| json!({"type": "email", "to": format!("ops{i}@shop.example")})).collect();
    let (analyst, rule) = rule_with(&t, Value::Array(three)).await;
    let results = test_action(&analyst, rule).await;
    assert_eq!(results.iter().filter(|r| r.0).count(), 2, "{results:?}");
    assert!(results.iter().any(|r| !r.0 && r.1.contains("email limit")), "{results:?}");
    assert_eq!(smtp.wait_for(2, Duration::from_secs(5)).await.len(), 2);
}

/// The raw response to `GET <path>` exactly as written (no client normalising `..`).
async fn raw_get(base: &str, path: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn static_files_do_not_escape_the_dashboard_directory() {
    let t = Tally::start().await;
    for path in [
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/..%2F..%2F..%2F..%2Fetc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/..%252f..%252f..%252fetc%252fpasswd",
        "/..%5c..%5c..%5c..%5cetc%5cpasswd",
        "/..\\..\\..\\..\\etc\\passwd",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "//etc/passwd",
        "/assets/../../../../etc/passwd",
        "/.%00./etc/passwd",
        "/../Cargo.toml",
        "/..%2fCargo.toml",
    ] {
        let response = raw_get(&t.gateway.base, path).await;
        let status = response.split(' ').nth(1).unwrap_or_default();
        assert!(matches!(status, "400" | "404"), "{path}: {}", response.lines().next().unwrap_or_default());
        assert!(!response.contains("root:") && !response.contains("[workspace]"), "{path} leaked a file");
    }
    assert!(raw_get(&t.gateway.base, "/app.js").await.starts_with("HTTP/1.1 200"), "the dashboard itself is served");
}

#[tokio::test]
async fn exported_csv_cells_never_start_a_formula() {
    let t = Tally::with_site("shop.example").await;
    let analyst = t.user_with_role("shop.example", "analyst").await;
    // Event names a visitor's browser chose. (Tab and carriage return, the list's other
    // two, are control characters refused at ingest; export.rs's unit tests cover them.)
    for name in ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A9)"] {
        let (status, body) = t.post("/api/event", json!({"name": name, "url": "https://shop.example/", "domain": "shop.example"})).await;
        assert_eq!(status, 202, "{body}");
    }
    let resp = analyst
        .http
        .post(format!("{}/api/v1/export", analyst.base))
        .json(&json!({"site_id": "shop.example", "date_range": "day", "metrics": ["events"], "dimensions": ["event:name"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csv = resp.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let cells: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(cells.len(), 4, "{csv}");
    for cell in &cells {
        assert!(cell.starts_with('\''), "{cell:?} is not neutralised in\n{csv}");
        assert!(!cell[1..].starts_with('\''), "one quote only: {cell:?}");
    }
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_get_clear_errors() {
    let t = Tally::start_with(|c| c.max_body_bytes = 64 * 1024).await;
    let admin = t.admin().await;
    let huge = format!(r#"{{"email": "big@shop.example", "name": "{}", "password": "x"}}"#, "a".repeat(200 * 1024));
    let resp =
        admin.http.post(format!("{}/api/v1/users", admin.base)).header(CONTENT_TYPE, "application/json").body(huge).send().await.unwrap();
    let (status, body) = decode(resp).await;
    assert_eq!((status, body["error"].is_string()), (413, true), "{body}");

    for depth in [200, 20_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        for (path, body) in [
            ("/api/v1/query", format!(r#"{{"site_id": "shop.example", "date_range": "7d", "metrics": {nested}}}"#)),
            ("/api/v1/alerts/rules?site=shop.example", nested.clone()),
            ("/api/v1/users", nested.clone()),
        ] {
            let resp = admin.http.post(format!("{}{path}", admin.base)).header(CONTENT_TYPE, "application/json").body(body).send().await;
            let (status, answer) = decode(resp.expect("the gateway answers (no crash)")).await;
            assert!(matches!(status, 400 | 413), "{path} at depth {depth}: {status} {answer}");
            assert!(answer["error"].is_string(), "{answer}");
        }
    }
    assert_eq!(t.get("/healthz").await.0, 200, "still serving");
}
