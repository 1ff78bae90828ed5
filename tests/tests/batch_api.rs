//! `POST /api/v1/events`: batches from servers and apps with a per-site ingest key,
//! event ids stored once, backfill timestamps, enrichment, validation, backpressure and
//! the metrics that count it all.

use serde_json::{json, Value};
use tally_tests::Tally;

/// A site and an ingest key for it.
async fn with_key(t: &Tally, domain: &str) -> String {
    let site: i32 = t.db.value(&format!("SELECT tally.create_site('{domain}')")).await;
    t.db.value(&format!("SELECT key FROM tally.create_ingest_key({site})")).await
}

async fn post_batch(t: &Tally, key: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    t.gateway.post_raw("/api/v1/events", &[("authorization", &format!("Bearer {key}")), ("content-type", "application/json")], body).await
}

#[tokio::test]
async fn batches_with_event_ids_are_stored_once_with_their_timestamps() {
    // Fixed dates, inside the backfill horizon on whatever day the test runs.
    let t = Tally::start_with(|c| c.max_event_age_days = 36_500).await;
    let key = with_key(&t, "app.example").await;
    let batch = json!([
        {"name": "signup", "url": "app://app.example/onboarding", "id": "e-1", "timestamp": "2025-03-01T10:00:00Z",
         "props": {"plan": "pro"}, "revenue": {"amount": "9.99", "currency": "usd"}},
        {"name": "pageview", "url": "https://app.example/docs?utm_source=newsletter", "id": "e-2", "timestamp": 1740823260000_i64},
        {"name": "pageview", "url": "https://app.example/", "referrer": "https://www.google.com/search?q=tally"},
        {"name": "pageview", "url": "https://app.example/", "user_agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"}
    ]);
    let (status, body) = post_batch(&t, &key, batch.to_string()).await;
    assert_eq!((status, body), (202, json!({"accepted": 3, "dropped": [{"index": 3, "reason": "bot"}]})));

    // A client retry of the same events: ids e-1 and e-2 are not stored again.
    let (status, _) = post_batch(&t, &key, batch.to_string()).await;
    assert_eq!(status, 202);
    let rows = t
        .sql(
            "SELECT name, pathname, ts, referrer_source, revenue_micros, revenue_currency, props->>'plan', session_id \
             FROM tally.events ORDER BY ts, name",
        )
        .await;
    assert_eq!(rows.len(), 4, "two id-less events twice, two events with ids once");
    let first = &rows[0];
    assert_eq!(first.get::<_, String>(0), "signup");
    assert_eq!(first.get::<_, String>(1), "/onboarding");
    assert_eq!(first.get::<_, chrono::DateTime<chrono::Utc>>(2).to_rfc3339(), "2025-03-01T10:00:00+00:00");
    assert_eq!(first.get::<_, Option<i64>>(4), Some(9_990_000));
    assert_eq!(first.get::<_, Option<String>>(5).as_deref(), Some("USD"));
    assert_eq!(first.get::<_, Option<String>>(6).as_deref(), Some("pro"));
    let second = &rows[1];
    assert_eq!(second.get::<_, String>(1), "/docs");
    assert_eq!(second.get::<_, Option<String>>(3).as_deref(), Some("newsletter"));
    assert_eq!(first.get::<_, i64>(7), second.get::<_, i64>(7), "one minute apart: one visit");
    let google: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE referrer_source = 'Google'").await;
    assert_eq!(google, 2, "the referrer list names the source");

    // NDJSON, with an id already stored and a new one.
    let ndjson = "{\"name\":\"signup\",\"url\":\"app://app.example/x\",\"id\":\"e-1\"}\n{\"name\":\"signup\",\"url\":\"app://app.example/x\",\"id\":\"e-3\"}\n";
    let (status, body) = t
        .gateway
        .post_raw("/api/v1/events", &[("authorization", &format!("Bearer {key}")), ("content-type", "application/x-ndjson")], ndjson)
        .await;
    assert_eq!((status, body["accepted"].clone()), (202, json!(2)));
    let ids: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE name = 'signup'").await;
    assert_eq!(ids, 2, "e-1 once, e-3 once");

    // Idempotency records expire: after pruning, an old id is stored again.
    let pruned: i64 = t.db.value("SELECT tally.prune_ingest_ids(interval '0')").await;
    assert!(pruned >= 3 + 3, "three batches and three event ids: {pruned}");
    let (status, _) = t
        .gateway
        .post_raw("/api/v1/events", &[("authorization", &format!("Bearer {key}")), ("content-type", "application/x-ndjson")], ndjson)
        .await;
    assert_eq!(status, 202);
    let again: i64 = t.db.value("SELECT count(*) FROM tally.events WHERE name = 'signup'").await;
    assert_eq!(again, 4);
}

#[tokio::test]
async fn ingest_keys_are_required_hashed_and_revocable() {
    let t = Tally::start().await;
    let key = with_key(&t, "a.example").await;
    assert!(key.starts_with("tk_") && key.len() == 67, "{key}");
    let stored: i64 = t.db.value(&format!("SELECT count(*) FROM tally.ingest_keys WHERE key_hash = sha256('{key}'::bytea)")).await;
    assert_eq!(stored, 1, "only the key's hash is stored");
    let plain: i64 = t.db.value(&format!("SELECT count(*) FROM tally.ingest_keys WHERE position('{key}'::bytea in key_hash) > 0")).await;
    assert_eq!(plain, 0);

    let one = json!([{"name": "pageview", "url": "https://a.example/"}]).to_string();
    let (status, body) = t.gateway.post_raw("/api/v1/events", &[], one.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(post_batch(&t, "tk_not_a_key", one.clone()).await.0, 401);

    let site: i32 = t.db.value("SELECT site_id FROM tally.sites").await;
    let (key_id, revoked_key): (i32, String) = {
        let row = &t.sql(&format!("SELECT key_id, key FROM tally.create_ingest_key({site})")).await[0];
        (row.get(0), row.get(1))
    };
    let revoked: bool = t.db.value(&format!("SELECT tally.revoke_ingest_key({key_id})")).await;
    assert!(revoked);
    let again: bool = t.db.value(&format!("SELECT tally.revoke_ingest_key({key_id})")).await;
    assert!(!again, "revoking twice reports no active key");
    assert_eq!(post_batch(&t, &revoked_key, one.clone()).await.0, 401);
    assert_eq!(post_batch(&t, &key, one).await.0, 202);
    let err = t.db.client.query_one("SELECT tally.create_ingest_key(424242)", &[]).await.unwrap_err();
    assert!(err.as_db_error().and_then(|e| e.hint()).is_some_and(|h| h.contains("create_site")), "{err:?}");
}

#[tokio::test]
async fn bad_batches_are_refused_naming_the_event_and_field() {
    let t = Tally::start().await;
    let key = with_key(&t, "a.example").await;
    let cases = [
        ("{", "events[0]"),
        ("[]", "body"),
        (r#"[{"name":"a"},{"name":"a","url":"https://a.example/","timestamp":"2000-01-01T00:00:00Z"}]"#, "events[0].url"),
        (r#"[{"name":"a","url":"https://a.example/","timestamp":"2999-01-01T00:00:00Z"}]"#, "events[0].timestamp"),
        (r#"[{"name":"a","url":"https://a.example/","timestamp":"yesterday"}]"#, "events[0].timestamp"),
        (r#"[{"name":"a","url":"https://a.example/","id":7}]"#, "events[0].id"),
        (r#"[{"name":"a","url":"not a url"}]"#, "events[0].url"),
    ];
    for (body, field) in cases {
        let (status, err) = post_batch(&t, &key, body).await;
        assert_eq!(status, 400, "{body} → {err}");
        assert_eq!(err["field"], field, "{body} → {err}");
    }
    let many = format!("[{}]", vec![r#"{"name":"a","url":"https://a.example/"}"#; 1001].join(","));
    assert_eq!(post_batch(&t, &key, many).await.0, 413);
    let huge = format!(r#"[{{"name":"a","url":"https://a.example/","props":{{"k":"{}"}}}}]"#, "x".repeat(2 << 20));
    assert_eq!(post_batch(&t, &key, huge).await.0, 413);
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 0);

    let (status, metrics) = t.get("/metrics").await;
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("text exposition");
    assert!(text.contains("tally_ingest_requests_rejected_total{reason=\"bad_request\"}"), "{text}");
    assert!(text.contains("tally_ingest_requests_rejected_total{reason=\"payload_too_large\"}"), "{text}");
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let t = Tally::start_with(|c| {
        c.queue_capacity = 10;
        c.batch_max_wait_ms = 1500;
        c.batch_max_events = 1000;
    })
    .await;
    let key = with_key(&t, "a.example").await;
    let events = |n: usize| json!(vec![json!({"name": "pageview", "url": "https://a.example/"}); n]).to_string();
    // Eight events wait in the batch window, holding eight of ten places.
    let first = {
        let (http, url, key, body) = (t.gateway.http.clone(), format!("{}/api/v1/events", t.gateway.base), key.clone(), events(8));
        tokio::spawn(async move { http.post(url).bearer_auth(key).body(body).send().await.unwrap().status().as_u16() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let resp = t.gateway.http.post(format!("{}/api/v1/events", t.gateway.base)).bearer_auth(&key).body(events(5)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(first.await.unwrap(), 202);
    // Room again once the batch is committed.
    assert_eq!(post_batch(&t, &key, events(5)).await.0, 202);
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events").await;
    assert_eq!(stored, 13);
    let text = t.get("/metrics").await.1;
    assert!(text.as_str().unwrap().contains("tally_ingest_requests_rejected_total{reason=\"overloaded\"}"));
}

#[tokio::test]
async fn location_comes_from_the_mmdb_file_or_a_trusted_header() {
    let dir = std::env::temp_dir().join(format!("tally-geo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mmdb = dir.join("city.mmdb");
    let mut writer = mmdb_writer::Writer::new("GeoIP2-City");
    let london = json!({"country": {"iso_code": "GB"}, "subdivisions": [{"iso_code": "ENG"}], "city": {"names": {"en": "London"}}});
    writer.insert("81.2.69.0/24".parse::<ipnet::IpNet>().unwrap(), &london).unwrap();
    std::fs::write(&mmdb, writer.to_bytes().unwrap()).unwrap();

    let t = Tally::start_with(|c| {
        c.geoip_db = Some(mmdb.clone());
        c.trust_proxy = true;
        c.geo_country_header = Some("cf-ipcountry".into());
    })
    .await;
    let key = with_key(&t, "a.example").await;
    let (status, _) =
        post_batch(&t, &key, json!([{"name": "pageview", "url": "https://a.example/uk", "ip": "81.2.69.160"}]).to_string()).await;
    assert_eq!(status, 202);
    let resp = t
        .gateway
        .http
        .post(format!("{}/api/event", t.gateway.base))
        .header("cf-ipcountry", "fr")
        .json(&json!({"name": "pageview", "url": "https://a.example/fr", "domain": "a.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let rows = t
        .sql("SELECT concat_ws(' ', pathname, coalesce(country, '-'), coalesce(region, '-'), coalesce(city, '-')) FROM tally.events ORDER BY pathname")
        .await;
    let got: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got, vec!["/fr FR - -", "/uk GB GB-ENG London"]);
    let with_ip: i64 = t.db.value("SELECT count(*) FROM tally.events e WHERE e::text LIKE '%81.2.69%'").await;
    assert_eq!(with_ip, 0, "the IP address is used, never stored");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn visitor_salts_rotate_daily_and_old_ones_are_destroyed() {
    let t = Tally::start().await;
    let salt = |day: &str| format!("SELECT tally.daily_salt('{day}')");
    let d1: Vec<u8> = t.db.value(&salt("2030-01-01")).await;
    assert_eq!(d1, t.db.value::<Vec<u8>>(&salt("2030-01-01")).await, "one salt per day, shared by every gateway");
    let d2: Vec<u8> = t.db.value(&salt("2030-01-02")).await;
    assert_ne!(d1, d2);
    let kept: i64 = t.db.value("SELECT count(*) FROM tally.salts WHERE day = '2030-01-01'").await;
    assert_eq!(kept, 1, "yesterday's salt stays for events arriving around midnight");
    let _: Vec<u8> = t.db.value(&salt("2030-01-03")).await;
    let days: Vec<String> = t.sql("SELECT day::text FROM tally.salts ORDER BY day").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(days, vec!["2030-01-02", "2030-01-03"], "older salts are destroyed");
}
