//! Alerts end to end: rules written through the API and SQL, evaluated inside Postgres
//! (`tally.evaluate_alerts(now)` replaying time over generated traffic with a weekly
//! cycle), delivered by the gateway to a real webhook receiver and a real SMTP sink
//! (tally_tests::sinks), at least once, signed, with stable delivery ids.

use std::f64::consts::TAU;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::Sha256;
use tally_core::event::Event;
use tally_tests::sinks::{SmtpSink, WebhookReceiver};
use tally_tests::{Session, Tally, TestDb, TestGateway};

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 60 * MINUTE_US;
const DAY_US: i64 = 24 * HOUR_US;
/// 2024-03-04 00:00 UTC, a Monday: the end of every generated history.
const END_US: i64 = 1_709_510_400_000_000;
/// Deliveries arrive within moments; this only bounds a wait that would otherwise hang.
const PATIENCE: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec-test-0123456789abcdef";

/// Pageviews per minute at `ts`: a daily cycle (peak mid-afternoon UTC, a quiet
/// night) times a weekly one (weekends at 60%), about 3 a minute on average.
fn rate(ts: i64) -> f64 {
    let day = (ts.rem_euclid(DAY_US)) as f64 / DAY_US as f64;
    let daily = 1.0 + 0.7 * (TAU * (day - 0.375)).sin();
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    let weekday = (ts.div_euclid(DAY_US) + 3).rem_euclid(7);
    let weekly = if weekday >= 5 { 0.6 } else { 1.0 };
    3.0 * daily * weekly
}

/// A Poisson draw (Knuth's method; rates here are small).
fn poisson(rng: &mut StdRng, lambda: f64) -> u32 {
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, rng.random::<f64>());
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

/// Loads one visitor's pageview per Poisson arrival into `site` for [from, to), with
/// the rate multiplied by `factor` inside each `(start, end, factor)` of `incidents`,
/// then compacts it into segments (the storage queries read).
async fn load_traffic(db: &TestDb, site: i32, from: i64, to: i64, incidents: &[(i64, i64, f64)]) -> usize {
    let mut rng = StdRng::seed_from_u64(0x7a11 + site as u64);
    let mut events = Vec::new();
    let mut minute = from;
    while minute < to {
        let factor = incidents.iter().find(|(a, b, _)| (*a..*b).contains(&minute)).map_or(1.0, |i| i.2);
        for _ in 0..poisson(&mut rng, rate(minute) * factor) {
            let id = rng.random::<i64>();
            events.push(Event {
                site_id: site,
                ts: minute + rng.random_range(0..MINUTE_US),
                name: "pageview".into(),
                visitor_id: id,
                session_id: id,
                hostname: "shop.example".into(),
                pathname: "/".into(),
                ..Event::default()
            });
        }
        minute += MINUTE_US;
    }
    events.sort_by_key(|e| e.ts);
    let pool = tally_gateway::pool::build(&db.url, 2).expect("pool");
    for chunk in events.chunks(20_000) {
        tally_gateway::ingest::store::write_events(&pool, chunk).await.expect("write events");
    }
    db.query("SELECT tally.compact()").await;
    events.len()
}

/// Evaluates every rule at each `step` from `from` to `to` (inclusive), one statement
/// per instant as pg_cron runs it minute by minute; returns the firings and resolutions.
async fn evaluate(db: &TestDb, from: i64, to: i64, step_minutes: i64) -> i64 {
    let statement = db.client.prepare("SELECT tally.evaluate_alerts(to_timestamp($1::float8 / 1e6))").await.expect("prepare");
    let mut transitions = 0;
    let mut now = from;
    while now <= to {
        let row = db.client.query_one(&statement, &[&(now as f64)]).await.expect("evaluate_alerts");
        transitions += i64::from(row.get::<_, i32>(0));
        now += step_minutes * MINUTE_US;
    }
    transitions
}

/// (status, at in µs) of every history row of `rule`, oldest first.
async fn history(db: &TestDb, rule: i64) -> Vec<(String, i64)> {
    db.client
        .query("SELECT status, (extract(epoch FROM at) * 1e6)::int8 FROM tally.alert_history WHERE rule_id = $1 ORDER BY at", &[&rule])
        .await
        .expect("history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Waits until `n` deliveries are no longer pending (their attempts are recorded).
async fn settled(db: &TestDb, n: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        let done: i64 = db.value("SELECT count(*) FROM tally.alert_deliveries WHERE status <> 'pending'").await;
        if done >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn site(t: &Tally) -> i32 {
    t.db.value("SELECT tally.create_site('shop.example')").await
}

/// An analyst of shop.example, signed in: alerts are an analyst's tool.
async fn analyst(t: &Tally) -> Session {
    t.user_with_role("shop.example", "analyst").await
}

async fn create_rule(s: &Session, rule: Value) -> i64 {
    let (status, body) = s.post("/api/v1/alerts/rules?site=shop.example", rule).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_spike_and_a_drop_fire_once_each_resolve_and_reach_webhook_and_email() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookReceiver::start(0).await;
    let url = smtp.url();
    let t = Tally::start_with(move |c| c.smtp_url = url).await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    // Friday 2024-03-01 14:00-14:45: four times the traffic. Sunday 11:00-12:30: a tenth.
    let spike = (END_US - 3 * DAY_US + 14 * HOUR_US, END_US - 3 * DAY_US + 14 * HOUR_US + 45 * MINUTE_US);
    let drop = (END_US - DAY_US + 11 * HOUR_US, END_US - DAY_US + 12 * HOUR_US + 30 * MINUTE_US);
    let loaded = load_traffic(&t.db, site, END_US - 35 * DAY_US, END_US, &[(spike.0, spike.1, 4.0), (drop.0, drop.1, 0.1)]).await;
    assert!(loaded > 100_000, "{loaded} events");
    let rule = create_rule(
        &s,
        json!({"name": "Traffic anomaly", "metric": "visitors", "window_minutes": 60, "condition": "anomaly", "weeks": 4,
               "channels": [{"type": "webhook", "url": hooks.url, "secret": SECRET}, {"type": "email", "to": "ops@shop.example"}]}),
    )
    .await;

    // Three days, minute by minute, as pg_cron runs it.
    let transitions = evaluate(&t.db, END_US - 3 * DAY_US, END_US, 1).await;
    let seen = history(&t.db, rule).await;
    println!("history: {seen:?}");
    assert_eq!(transitions, 4, "{seen:?}");
    let statuses: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["firing", "resolved", "firing", "resolved"]);
    assert!((spike.0..spike.1).contains(&seen[0].1), "the spike fires while it happens: {seen:?}");
    assert!(seen[1].1 > spike.1 && seen[1].1 <= spike.1 + 2 * HOUR_US, "and resolves once it left the window");
    assert!((drop.0..drop.1).contains(&seen[2].1), "the drop fires while it happens: {seen:?}");
    assert!(seen[3].1 > drop.1 && seen[3].1 <= drop.1 + 2 * HOUR_US);
    let (value, baseline, score): (f64, f64, f64) = {
        let r =
            t.db.client
                .query_one(
                    "SELECT value, baseline, score FROM tally.alert_history WHERE rule_id = $1 AND status = 'firing' ORDER BY at LIMIT 1",
                    &[&rule],
                )
                .await
                .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert!(value > baseline && score >= 5.0, "spike value {value} against seasonal baseline {baseline}: score {score}");

    // Every firing and resolution reaches the webhook, signed, with its delivery id, and the mailbox.
    let got = hooks.wait_for(4, PATIENCE).await;
    assert_eq!(got.len(), 4);
    let ids: Vec<String> =
        t.db.query("SELECT delivery_id::text FROM tally.alert_deliveries WHERE channel->>'type' = 'webhook' ORDER BY history_id")
            .await
            .iter()
            .map(|r| r.get(0))
            .collect();
    let mut got_ids: Vec<String> = Vec::new();
    for hook in &got {
        assert_eq!(hook.header("x-tally-signature"), signature(&hook.body), "valid HMAC-SHA256 signature");
        let body = hook.json();
        assert_eq!(body["rule_id"], json!(rule));
        assert_eq!(body["site"], "shop.example");
        assert!(["firing", "resolved"].contains(&body["status"].as_str().unwrap()));
        got_ids.push(hook.header("x-tally-delivery").to_owned());
    }
    got_ids.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got_ids, want, "each delivery once, under its id");
    let mails = smtp.wait_for(4, PATIENCE).await;
    assert_eq!(mails.len(), 4);
    assert!(mails.iter().all(|m| m.to == ["ops@shop.example"]));
    assert_eq!(mails.iter().filter(|m| m.data.contains("Traffic anomaly is firing on shop.example")).count(), 2);
    settled(&t.db, 8).await;
    let (status, deliveries) = s.get(&format!("/api/v1/alerts/deliveries?rule={rule}")).await;
    assert_eq!(status, 200);
    let deliveries = deliveries["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 8);
    assert!(deliveries.iter().all(|d| d["status"] == "delivered" && d["log"][0]["ok"] == json!(true)), "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d["channel"].get("secret").is_none()), "secrets stay out of the log");
    let (_, listed) = s.get("/api/v1/alerts/history?site=shop.example").await;
    assert_eq!(listed["history"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn thirty_days_of_ordinary_seasonal_traffic_raise_no_false_alarm() {
    let t = Tally::start().await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    // Four weeks of history before the thirty days evaluated.
    load_traffic(&t.db, site, END_US - 58 * DAY_US, END_US, &[]).await;
    let rule = create_rule(&s, json!({"name": "Any anomaly", "metric": "visitors", "window_minutes": 60, "condition": "anomaly"})).await;
    let drops = create_rule(
        &s,
        json!({"name": "Pageview anomaly", "metric": "pageviews", "window_minutes": 15, "condition": "anomaly", "direction": "down"}),
    )
    .await;
    // Every 5 minutes for 30 days: 8640 evaluations of each rule, each against 4 weeks.
    // (Minute by minute would take five times as long and add nothing: 60- and
    // 15-minute windows a minute apart share most of their events.)
    let step = 5;
    let fired = evaluate(&t.db, END_US - 30 * DAY_US, END_US, step).await;
    let by_rule = (history(&t.db, rule).await, history(&t.db, drops).await);
    println!(
        "false positives over 30 days of seasonal traffic at default sensitivity, evaluated every {step} minutes: {} \
         (60-minute visitors rule: {}, 15-minute pageview drop rule: {})",
        fired,
        by_rule.0.len(),
        by_rule.1.len()
    );
    let evaluated: i64 = t.db.value("SELECT count(*) FROM tally.alert_state WHERE error IS NULL AND baseline IS NOT NULL").await;
    assert_eq!(evaluated, 2, "both rules were judged against a baseline");
    assert_eq!(fired, 0, "{by_rule:?}");
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_over_http_and_in_sql() {
    let t = Tally::start().await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    let good = json!({"name": "x", "metric": "visitors", "window_minutes": 15, "condition": "above", "threshold": 10});
    let with = |key: &str, value: Value| {
        let mut rule = good.clone();
        rule[key] = value;
        rule
    };
    for (rule, field) in [
        (with("metric", json!("clicks")), "metric"),
        (with("window_minutes", json!(0)), "window_minutes"),
        (with("window_minutes", json!(100_000)), "window_minutes"),
        (with("filters", json!([["is", "visit:planet", ["Mars"]]])), "filters[0][1]"),
        (with("channels", json!([{"type": "webhook", "url": "ftp://hooks.example/x"}])), "channels[0].url"),
        (with("channels", json!([{"type": "email", "to": "not-an-address"}])), "channels[0].to"),
        (with("condition", json!("sometimes")), "condition"),
        (with("sensitivity", json!(3)), "sensitivity"),
    ] {
        let (status, body) = s.post("/api/v1/alerts/rules?site=shop.example", rule.clone()).await;
        assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{rule} → {body}");
    }
    let raw = s.http.post(format!("{}/api/v1/alerts/rules?site=shop.example", s.base)).header("content-type", "application/json").body("{");
    let (status, body) = tally_tests::gateway::decode(raw.send().await.unwrap()).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("body")));
    let (status, _) = s.post("/api/v1/alerts/rules?site=nowhere.example", good.clone()).await;
    assert_eq!(status, 404);
    let (status, body) = s.get("/api/v1/alerts/rules/abc").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("id")));
    // The same checks guard SQL, through the function and through a plain INSERT.
    t.db.assert_error_with_hint(
        &format!("SELECT tally.create_alert_rule({site}, '{}')", with("metric", json!("clicks"))),
        "unknown metric",
    )
    .await;
    t.db.assert_error_with_hint(
        &format!(
            "INSERT INTO tally.alert_rules (site_id, name, metric, window_minutes, condition, threshold, channels) \
             VALUES ({site}, 'x', 'visitors', 15, 'above', 1, '[{{\"type\": \"email\", \"to\": \"nobody\"}}]')"
        ),
        "not an email address",
    )
    .await;
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.alert_rules").await;
    assert_eq!(stored, 0, "nothing bad was stored");
    t.db.query(&format!("SELECT tally.create_alert_rule({site}, '{good}')")).await;
    t.db.assert_error_with_hint(&format!("UPDATE tally.alert_rules SET window_minutes = 0 WHERE site_id = {site}"), "window_minutes").await;
}

#[tokio::test]
async fn rules_are_created_read_replaced_muted_tested_and_deleted_through_the_api() {
    let hooks = WebhookReceiver::start(0).await;
    let t = Tally::start().await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    let id = create_rule(
        &s,
        json!({"name": "Busy checkout", "metric": "pageviews", "filters": [["is", "event:page", ["/"]]], "window_minutes": 5,
               "condition": "above", "threshold": 2, "cooldown_minutes": 0,
               "channels": [{"type": "webhook", "url": hooks.url}]}),
    )
    .await;
    let (status, rule) = s.get(&format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(rule["site"], "shop.example");
    assert_eq!(rule["cooldown_minutes"], 0);
    let secret = rule["channels"][0]["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "a webhook without a secret gets a generated one");
    let (_, list) = s.get("/api/v1/alerts/rules?site=shop.example").await;
    assert_eq!(list["rules"].as_array().unwrap().len(), 1);

    // Traffic at 12:00-12:03: the rule fires at 12:05 and resolves at 12:10.
    let noon = END_US + 12 * HOUR_US;
    load_traffic(&t.db, site, noon, noon + 3 * MINUTE_US, &[(noon, noon + 3 * MINUTE_US, 5.0)]).await;
    assert_eq!(evaluate(&t.db, noon + 5 * MINUTE_US, noon + 10 * MINUTE_US, 5).await, 2);
    let (_, state) = s.get(&format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(state["state"]["status"], "ok");

    // Muted, it is not evaluated; unmuted, it is again (the same traffic an hour later).
    let hour = noon + HOUR_US;
    load_traffic(&t.db, site, hour, hour + 3 * MINUTE_US, &[(hour, hour + 3 * MINUTE_US, 5.0)]).await;
    let (status, muted) = s.post(&format!("/api/v1/alerts/rules/{id}/mute"), json!({"until": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(status, 200, "{muted}");
    assert!(muted["muted_until"].as_str().unwrap().starts_with("2999-01-01"));
    assert_eq!(evaluate(&t.db, hour + 5 * MINUTE_US, hour + 10 * MINUTE_US, 5).await, 0);
    let (status, body) = s.post(&format!("/api/v1/alerts/rules/{id}/mute"), json!({"until": "soon"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("until")));
    s.post(&format!("/api/v1/alerts/rules/{id}/mute"), json!({"until": null})).await;
    assert_eq!(evaluate(&t.db, hour + 5 * MINUTE_US, hour + 10 * MINUTE_US, 5).await, 2);

    // Replaced: a change_pct rule against the previous window.
    let replacement = json!({"name": "Pageviews jump", "metric": "pageviews", "window_minutes": 2, "condition": "change_pct",
                             "threshold": 100, "direction": "up", "channels": [{"type": "webhook", "url": hooks.url, "secret": SECRET}]});
    let (status, _) = s.put(&format!("/api/v1/alerts/rules/{id}"), replacement).await;
    assert_eq!(status, 200);
    let (_, rule) = s.get(&format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(
        (rule["condition"].as_str(), rule["direction"].as_str(), rule["threshold"].as_f64()),
        (Some("change_pct"), Some("up"), Some(100.0))
    );
    let (status, bad) = s.put(&format!("/api/v1/alerts/rules/{id}"), json!({"name": "x"})).await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("metric")));

    // The test action reaches the webhook now and says so per channel.
    let before = hooks.received().len();
    let (status, report) = s.post(&format!("/api/v1/alerts/rules/{id}/test"), json!({})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["results"][0]["ok"], json!(true), "{report}");
    assert_eq!(report["results"][0]["channel"]["url"], json!(hooks.url));
    let got = hooks.wait_for(before + 1, PATIENCE).await;
    let test_hook = got.last().unwrap();
    assert_eq!(test_hook.json()["event"], "alert.test");
    assert_eq!(test_hook.header("x-tally-signature"), signature(&test_hook.body));

    let (status, _) = s.delete(&format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = s.get(&format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_channel_that_refuses_connections_blocks_neither_other_channels_nor_evaluation() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookReceiver::start(0).await;
    // A port that was just free: nothing listens there, connections are refused.
    let refused = format!("http://127.0.0.1:{}/hook", tally_tests::cluster::free_port());
    let url = smtp.url();
    let t = Tally::start_with(move |c| {
        c.smtp_url = url;
        c.alert_retry_base_ms = 100;
        c.alert_max_attempts = 3;
    })
    .await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    let rule = create_rule(
        &s,
        json!({"name": "Any traffic", "metric": "visitors", "window_minutes": 10, "condition": "above", "threshold": 0,
               "channels": [{"type": "webhook", "url": refused}, {"type": "webhook", "url": hooks.url, "secret": SECRET},
                            {"type": "email", "to": "ops@shop.example"}]}),
    )
    .await;
    let noon = END_US + 12 * HOUR_US;
    load_traffic(&t.db, site, noon, noon + 5 * MINUTE_US, &[]).await;
    assert_eq!(evaluate(&t.db, noon + 5 * MINUTE_US, noon + 5 * MINUTE_US, 1).await, 1);
    assert_eq!(hooks.wait_for(1, PATIENCE).await.len(), 1);
    assert_eq!(smtp.wait_for(1, PATIENCE).await.len(), 1);
    settled(&t.db, 3).await;
    let row =
        t.db.client
            .query_one("SELECT status, attempts, last_error FROM tally.alert_deliveries WHERE channel_index = 0", &[])
            .await
            .unwrap();
    let (status, attempts, error): (String, i32, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((status.as_str(), attempts), ("failed", 3), "retried with backoff, then given up");
    // The same fixed sentence whatever the cause: the log is no port scanner.
    assert_eq!(error, tally_gateway::alerts::notifier::UNREACHABLE);
    let logged: i64 = t.db.value("SELECT count(*) FROM tally.alert_delivery_attempts a JOIN tally.alert_deliveries d USING (delivery_id) WHERE d.channel_index = 0 AND NOT a.ok").await;
    assert_eq!(logged, 3, "one log row per attempt");
    // The test action reports the refusing channel as unreachable and the others as fine.
    let (_, report) = s.post(&format!("/api/v1/alerts/rules/{rule}/test"), json!({})).await;
    let oks: Vec<bool> = report["results"].as_array().unwrap().iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [false, true, true], "{report}");
    assert!(report["results"][0]["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn an_alert_fired_while_the_gateway_is_down_or_failing_is_delivered_later_under_the_same_id() {
    // The receiver fails the first request: the retry must carry the same delivery id.
    let hooks = WebhookReceiver::start(1).await;
    let t = Tally::start_with(|c| c.alert_retry_base_ms = 200).await;
    let site = site(&t).await;
    let s = analyst(&t).await;
    let rule = create_rule(
        &s,
        json!({"name": "Any traffic", "metric": "visitors", "window_minutes": 10, "condition": "above", "threshold": 0,
               "channels": [{"type": "webhook", "url": hooks.url, "secret": SECRET}]}),
    )
    .await;
    let noon = END_US + 12 * HOUR_US;
    load_traffic(&t.db, site, noon, noon + 5 * MINUTE_US, &[]).await;
    let Tally { db, gateway } = t;
    gateway.shutdown().await;
    // Fires and resolves with no gateway running.
    assert_eq!(evaluate(&db, noon + 5 * MINUTE_US, noon + 30 * MINUTE_US, 25).await, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hooks.received().is_empty());
    let ids: Vec<String> =
        db.query("SELECT delivery_id::text FROM tally.alert_deliveries ORDER BY history_id").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids.len(), 2);
    // A new gateway finds both on connecting; the first attempt gets a 500 and is retried.
    let gateway = TestGateway::start(&db, |c| c.alert_retry_base_ms = 200).await;
    let got = hooks.wait_for(3, PATIENCE).await;
    assert_eq!(got.len(), 3, "two deliveries, one of them twice");
    let mut seen: Vec<String> = got.iter().map(|h| h.header("x-tally-delivery").to_owned()).collect();
    assert!(got.iter().all(|h| h.header("x-tally-signature") == signature(&h.body)));
    seen.sort();
    seen.dedup();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want, "the retry carries the same delivery id");
    settled(&db, 2).await;
    let attempts: Vec<(i32, String)> = db
        .client
        .query("SELECT attempts, status FROM tally.alert_deliveries WHERE rule_id = $1 ORDER BY attempts", &[&rule])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(attempts, [(1, "delivered".to_owned()), (2, "delivered".to_owned())]);

    // The listener's session is killed: it reconnects (a new LISTEN session) and the
    // next alert is delivered too.
    let listener = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN tally_alerts'";
    let old: i32 = db.value(listener).await;
    db.query(&format!("SELECT pg_terminate_backend(pid) FROM ({listener}) l")).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut new = old;
    while new == old && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        new = db.client.query_opt(listener, &[]).await.unwrap().map_or(old, |r| r.get(0));
    }
    assert_ne!(new, old, "the listener reconnected");
    let later = noon + 3 * HOUR_US;
    load_traffic(&db, site, later, later + 5 * MINUTE_US, &[]).await;
    assert_eq!(evaluate(&db, later + 5 * MINUTE_US, later + 5 * MINUTE_US, 1).await, 1);
    assert_eq!(hooks.wait_for(4, PATIENCE).await.len(), 4);
    gateway.shutdown().await;
}

#[tokio::test]
async fn pg_cron_runs_the_evaluation_in_the_tally_database_and_other_databases_are_told_how() {
    let t = Tally::start().await;
    // This database is not cron's: the error's hint is the statement to run there.
    let err = t.db.client.query("SELECT tally.schedule_alerts()", &[]).await.expect_err("not cron's database");
    let hint = err.as_db_error().and_then(|e| e.hint()).unwrap_or_default().to_owned();
    assert!(
        hint.contains(&format!("cron.schedule_in_database('tally-alerts-{0}', '* * * * *', 'CALL tally.run_alerts()', '{0}')", t.db.name)),
        "{hint}"
    );
    // scripts/pgcluster.sh scheduled database tally's job; its command evaluates where
    // the extension exists (run here, in a database that has it) and is a no-op elsewhere.
    let admin = tally_tests::cluster::connect(&tally_tests::cluster::url_of("postgres")).await;
    let job = admin
        .query_one("SELECT command, schedule FROM cron.job WHERE jobname = 'tally-alerts-tally' AND database = 'tally'", &[])
        .await
        .unwrap();
    let (command, schedule): (String, String) = (job.get(0), job.get(1));
    assert_eq!(schedule, "* * * * *");
    assert!(command.contains("CALL tally.run_alerts()"), "a transaction per rule: {command}");
    let site = site(&t).await;
    t.db.query(&format!("SELECT tally.create_alert_rule({site}, '{{\"name\": \"x\", \"metric\": \"visits\", \"window_minutes\": 5, \"condition\": \"below\", \"threshold\": 1}}')")).await;
    t.db.client.batch_execute(&command).await.expect("the cron job's command");
    let fired: i64 = t.db.value("SELECT count(*) FROM tally.alert_history WHERE status = 'firing'").await;
    assert_eq!(fired, 1, "no visits in the last 5 minutes: below 1");
    admin.batch_execute(&command).await.expect("a no-op without the extension");
}

#[tokio::test]
async fn alerts_belong_to_the_analysts_of_their_site() {
    let t = Tally::start().await;
    site(&t).await;
    t.db.value::<i32>("SELECT tally.create_site('other.example')").await;
    let s = analyst(&t).await;
    let id = create_rule(&s, json!({"name": "x", "metric": "visits", "window_minutes": 5, "condition": "below", "threshold": 1})).await;
    // A viewer of the site may not read or change its alerts (webhook secrets live there).
    let viewer = t.user_with_role("shop.example", "viewer").await;
    assert_eq!(viewer.get("/api/v1/alerts/rules?site=shop.example").await.0, 403);
    let rule = json!({"name": "y", "metric": "visits", "window_minutes": 5, "condition": "below", "threshold": 1});
    assert_eq!(viewer.post("/api/v1/alerts/rules?site=shop.example", rule).await.0, 403);
    // An analyst of another site does not see this one, nor its rule.
    let stranger = t.user_with_role("other.example", "analyst").await;
    assert_eq!(stranger.get("/api/v1/alerts/rules?site=shop.example").await.0, 404);
    assert_eq!(stranger.get(&format!("/api/v1/alerts/rules/{id}")).await.0, 404);
    assert_eq!(stranger.delete(&format!("/api/v1/alerts/rules/{id}")).await.0, 404);
    assert_eq!(stranger.post(&format!("/api/v1/alerts/rules/{id}/mute"), json!({"until": null})).await.0, 404);
    let (_, theirs) = stranger.get("/api/v1/alerts/rules?site=other.example").await;
    assert_eq!(theirs["rules"], json!([]));
    // Without a session there is nothing.
    assert_eq!(t.get("/api/v1/alerts/rules?site=shop.example").await.0, 401);
    // Rule changes are audited.
    let audited: i64 = t.db.value("SELECT count(*) FROM tally.audit_log WHERE action = 'alert_rule.create'").await;
    assert_eq!(audited, 1);
}
