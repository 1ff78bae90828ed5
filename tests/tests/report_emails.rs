//! Scheduled email reports against a real SMTP sink: a user schedules a weekly report
//! of a site they see; once due, exactly one email per period arrives although two
//! gateways poll the same database and a "gateway" holding the claim dies mid-send;
//! the email has the KPIs and top tables, the PDF attached and a one-click unsubscribe;
//! a mail server that refuses a message has it retried later while the other reports
//! go out; bad input is refused at its field.

use std::time::Duration;

use serde_json::json;
use tally_tests::sinks::SmtpSink;
use tally_tests::{Session, Tally, TestGateway};

const PATIENCE: Duration = Duration::from_secs(40);
const PUBLIC_URL: &str = "https://tally.example";

fn configure(smtp: String) -> impl Fn(&mut tally_gateway::config::ServeConfig) + Clone {
    move |c| {
        c.smtp_url = smtp.clone();
        c.public_url = PUBLIC_URL.into();
        c.report_poll_ms = 100;
        c.report_retry_base_ms = 300;
    }
}

async fn traffic(t: &Tally) {
    t.db.load(4_000, 30, 2, chrono::Utc::now().timestamp_micros() - 3_600_000_000).await;
    t.sql("SELECT tally.compact()").await;
}

/// A weekly report of site1.example for `s`; returns its id.
async fn schedule(s: &Session) -> i64 {
    let (status, body) = s.post("/api/v1/reports/schedules", json!({"site_id": 1, "frequency": "weekly"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["timezone"], "UTC", "the site's zone by default");
    body["id"].as_i64().unwrap()
}

/// Makes every schedule's current period due now (as if its week had ended).
async fn make_due(t: &Tally) {
    t.sql("UPDATE tally.report_schedules SET due_at = now() - interval '1 second'").await;
}

/// The value of header `name` in a raw message (unfolded).
fn header(data: &str, name: &str) -> String {
    let head = data.split("\n\n").next().unwrap_or_default().replace("\n ", " ").replace("\n\t", " ");
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_due_report_is_mailed_once_across_gateways_and_a_dead_claim_with_pdf_and_unsubscribe() {
    let smtp = SmtpSink::start().await;
    let config = configure(smtp.url());
    let t = Tally::start_with(config.clone()).await;
    traffic(&t).await;
    let user = t.user_with_role("site1.example", "viewer").await;

    // Bad input, each at its field; another's site is no site.
    for (body, field) in [
        (json!({"site_id": 1, "frequency": "weekly", "timezone": "Mars/Olympus_Mons"}), "timezone"),
        (json!({"site_id": 2, "frequency": "weekly"}), "site_id"),
        (json!({"site_id": 1, "frequency": "daily"}), "frequency"),
        (json!({"site_id": 1, "frequency": "monthly", "hour": 24}), "hour"),
    ] {
        let (status, answer) = user.post("/api/v1/reports/schedules", body.clone()).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some(field)), "{body}: {answer}");
    }
    let id = schedule(&user).await;
    let (status, _) = user.post("/api/v1/reports/schedules", json!({"site_id": 1, "frequency": "weekly"})).await;
    assert_eq!(status, 409, "a second weekly report of the same site");
    let (_, list) = user.get("/api/v1/reports/schedules").await;
    assert_eq!(list["schedules"][0]["id"], id);
    let first: String = t.db.value("SELECT period_start::text FROM tally.report_schedules").await;

    // Not due yet: nothing is sent.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(smtp.mails().is_empty());

    // Due, with a second gateway polling the same database: one email.
    let second = TestGateway::start(&t.db, config.clone()).await;
    make_due(&t).await;
    let mails = smtp.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails().len(), 1, "one email per period");
    let mail = &mails[0];
    assert_eq!(mail.to, vec![user.email.clone()]);
    let last: String = t.db.value(&format!("SELECT (tally.report_period('weekly', '{first}')).last_day::text")).await;
    assert!(header(&mail.data, "Subject").contains(&format!("Weekly report for site1.example: {first} to {last}")), "{}", mail.data);
    let token: String = t.db.value("SELECT unsubscribe_token FROM tally.report_schedules").await;
    let unsubscribe = format!("{PUBLIC_URL}/api/v1/reports/unsubscribe/{token}");
    assert_eq!(header(&mail.data, "List-Unsubscribe"), format!("<{unsubscribe}>"));
    assert_eq!(header(&mail.data, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert!(mail.data.contains("Content-Type: application/pdf"), "the PDF is attached");
    assert!(mail.data.contains("Content-Type: text/html"));
    // The figures are the API's for that week, as the user sees it.
    let (_, kpis) = user
        .post("/api/v1/query", json!({"site_id": "site1.example", "date_range": [first, last], "metrics": ["visitors", "pageviews"]}))
        .await;
    for i in 0..2 {
        let value = tally_gateway::reports::format::number(kpis["results"][0]["metrics"][i].as_f64().unwrap());
        assert!(mail.data.contains(&format!(": {value} (")), "{value} not in the text part:\n{}", mail.data);
    }
    let sent: i64 = t.db.value("SELECT count(*) FROM tally.report_sends").await;
    assert_eq!(sent, 1);
    let (next, due_later): (String, bool) = {
        let row = &t.sql("SELECT period_start::text, due_at > now() FROM tally.report_schedules").await[0];
        (row.get(0), row.get(1))
    };
    assert_eq!(next, t.db.value::<String>(&format!("SELECT ('{first}'::date + 7)::text")).await);
    assert!(due_later);

    // Another holder of the row (as a gateway mid-send holds it) dies: while it holds
    // the row no gateway sends; once its connection is gone, the period is sent, once.
    // It locks FOR KEY SHARE, which the gateways' FOR UPDATE claim skips like their own
    // claims but which lets the row be made due after the lock is taken, so no gateway
    // can claim it in between.
    let dying = tally_tests::cluster::connect(&t.db.url).await;
    dying.batch_execute("BEGIN; SELECT 1 FROM tally.report_schedules FOR KEY SHARE").await.unwrap();
    make_due(&t).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(smtp.mails().len(), 1, "a claimed period was sent by another gateway");
    drop(dying);
    smtp.wait_for(2, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails().len(), 2);
    let periods: Vec<String> =
        t.sql("SELECT period_start::text FROM tally.report_sends ORDER BY 1").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0], first);
    second.shutdown().await;

    // Unsubscribing: a GET only shows a button; the one-click POST (form-encoded, as
    // mail providers send it) removes the schedule.
    let path = unsubscribe.strip_prefix(PUBLIC_URL).unwrap();
    let (status, page) = t.get(path).await;
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap_or_default().contains("<form method=\"post\""), "{page}");
    assert_eq!(t.db.value::<i64>("SELECT count(*) FROM tally.report_schedules").await, 1);
    let (status, _) =
        t.gateway.post_raw(path, &[("content-type", "application/x-www-form-urlencoded")], "List-Unsubscribe=One-Click").await;
    assert_eq!(status, 200);
    assert_eq!(t.db.value::<i64>("SELECT count(*) FROM tally.report_schedules").await, 0);
    let (_, list) = user.get("/api/v1/reports/schedules").await;
    assert_eq!(list["schedules"], json!([]));
}

#[tokio::test]
async fn a_refused_report_is_retried_later_and_never_holds_up_the_others() {
    let smtp = SmtpSink::start_refusing(1).await;
    let t = Tally::start_with(configure(smtp.url())).await;
    traffic(&t).await;
    let a = t.user_with_role("site1.example", "viewer").await;
    let b = t.user_with_role("site1.example", "analyst").await;
    schedule(&a).await;
    schedule(&b).await;
    make_due(&t).await;

    // One refusal: one email goes out at once, the refused one after its retry.
    let mails = smtp.wait_for(2, PATIENCE).await;
    assert_eq!(smtp.refusals_left(), 0, "the mail server refused one");
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let mut expected = vec![a.email.clone(), b.email.clone()];
    expected.sort();
    assert_eq!(to, expected, "each user got their report once");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(smtp.mails().len(), 2);
    let row = &t.sql("SELECT count(*), count(DISTINCT schedule_id) FROM tally.report_sends").await[0];
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2, 2));
    let pending: i64 = t.db.value("SELECT count(*) FROM tally.report_schedules WHERE attempts > 0 OR last_error IS NOT NULL").await;
    assert_eq!(pending, 0, "the retried schedule is settled");
}
