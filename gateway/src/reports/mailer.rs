//! Sends the scheduled email reports (`tally.report_schedules`, sql/reports.sql).
//!
//! Each of [`WORKERS`] loops claims one due schedule at a time with `FOR UPDATE SKIP
//! LOCKED` and keeps the row locked while it builds and sends the email, then, in the
//! same transaction, records the period in `tally.report_sends` and moves the schedule
//! to its next period. Another gateway skips a locked row, and a gateway that dies
//! mid-send releases it with its connection: each period is sent once, except when a
//! gateway dies between the mail server's acceptance and the COMMIT, when it is sent
//! again with the same Message-ID (receivers' de-duplication key). A failed send (mail
//! server down, the report's queries refused) is recorded on its schedule with a later
//! retry, so it never holds up the other schedules.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use maud::html;
use serde_json::json;
use tokio::task::JoinHandle;

use super::format;
use super::html::{document, Medium};
use super::view::{self, ReportView};
use crate::auth::{Caller, Credential, User};
use crate::error::ApiError;
use crate::state::AppState;

/// Schedules sent at once by one gateway: one slow mail server or PDF never holds up
/// every other report.
pub const WORKERS: usize = 2;
/// The longest wait between retries of a failing report.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Claims the earliest due schedule (not waiting for a retry), locking its row.
const CLAIM: &str = "\
SELECT s.schedule_id, s.site_id, s.frequency, s.period_start, p.last_day, s.attempts, s.unsubscribe_token,
       u.user_id, u.email, u.name, u.is_admin, u.pg_role::text, si.domain
FROM tally.report_schedules s
JOIN tally.users u USING (user_id)
JOIN tally.sites si ON si.site_id = s.site_id,
LATERAL tally.report_period(s.frequency, s.period_start) p
WHERE s.due_at <= now() AND (s.retry_at IS NULL OR s.retry_at <= now())
ORDER BY s.due_at
LIMIT 1
FOR UPDATE OF s SKIP LOCKED";

/// The period $2 of schedule $1 was sent: recorded, and the schedule moves on.
const SENT: &str = "\
WITH sent AS (INSERT INTO tally.report_sends (schedule_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING)
UPDATE tally.report_schedules s SET
    period_start = n.first_day,
    due_at = tally.report_due(s.frequency, n.first_day, s.timezone, s.send_hour),
    attempts = 0, retry_at = NULL, last_error = NULL
FROM tally.report_period(
         (SELECT frequency FROM tally.report_schedules WHERE schedule_id = $1),
         (SELECT last_day + 1 FROM tally.report_period((SELECT frequency FROM tally.report_schedules WHERE schedule_id = $1), $2))) n
WHERE s.schedule_id = $1";

/// A failed send of schedule $1: error $2, next try in $3 seconds.
const FAILED: &str = "\
UPDATE tally.report_schedules SET attempts = attempts + 1, last_error = $2, retry_at = now() + make_interval(secs => $3)
WHERE schedule_id = $1";

/// Starts the workers; abort the handles (and await them) to stop.
pub fn start(state: &AppState) -> Vec<JoinHandle<()>> {
    (0..WORKERS).map(|_| tokio::spawn(run(state.clone()))).collect()
}

async fn run(state: AppState) {
    let poll = Duration::from_millis(state.config.report_poll_ms.max(10));
    loop {
        match send_next(&state).await {
            // Something was due: look again at once.
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled reports: cannot claim"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Claims one due schedule and sends it; false when none was due.
async fn send_next(state: &AppState) -> Result<bool, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx.query_opt(CLAIM, &[]).await? else {
        return Ok(false);
    };
    let schedule_id: i32 = row.get(0);
    let period_start: chrono::NaiveDate = row.get(3);
    let attempts: i32 = row.get(5);
    let claim = Claim {
        schedule_id,
        site_id: row.get(1),
        frequency: row.get(2),
        first: period_start,
        last: row.get(4),
        token: row.get(6),
        user: User { id: row.get(7), email: row.get(8), name: row.get(9), admin: row.get(10) },
        pg_role: row.get(11),
        domain: row.get(12),
    };
    match send(state, &claim).await {
        Ok(()) => {
            tx.execute(SENT, &[&schedule_id, &period_start]).await?;
            tracing::info!(schedule = schedule_id, period = %period_start, "scheduled report sent");
        }
        Err(error) => {
            let wait = Duration::from_millis(state.config.report_retry_base_ms)
                .saturating_mul(2u32.saturating_pow(attempts.clamp(0, 20) as u32))
                .min(MAX_RETRY);
            tracing::warn!(schedule = schedule_id, period = %period_start, %error, retry_in = ?wait, "scheduled report failed");
            tx.execute(FAILED, &[&schedule_id, &error, &wait.as_secs_f64()]).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// One claimed schedule and the period it sends.
struct Claim {
    schedule_id: i32,
    site_id: i32,
    frequency: String,
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
    token: String,
    user: User,
    pg_role: String,
    domain: String,
}

/// Builds the report as the schedule's user and mails it; the error is stored on the
/// schedule.
async fn send(state: &AppState, claim: &Claim) -> Result<(), String> {
    let caller = Caller {
        user: claim.user.clone(),
        pg_role: claim.pg_role.clone(),
        credential: Credential::Schedule { schedule_id: claim.schedule_id, site_id: claim.site_id },
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let view = ReportView {
        site_id: claim.domain.clone(),
        date_range: json!([claim.first.to_string(), claim.last.to_string()]),
        filters: vec![],
        comparison: Some("previous_period".into()),
    };
    let report = view::collect(state, &caller, view).await.map_err(|e| format!("the report's queries: {e}"))?;
    let pdf = state.printer.pdf(&document(&report, &Medium::Print)).await.map_err(|e| format!("the PDF: {e}"))?;
    let base = state.config.public_url.trim_end_matches('/');
    let unsubscribe = format!("{base}/api/v1/reports/unsubscribe/{}", claim.token);
    let footer = html! {
        "You get this " (claim.frequency) " report of " (claim.domain) " from Tally. "
        a href=(unsubscribe) { "Unsubscribe" } " (one click) or manage reports in the dashboard."
    };
    let intro = format!("Your {} report: the PDF attached has the chart too.", claim.frequency);
    let body = document(&report, &Medium::Email { footer, intro: &intro });
    let text = text_body(&report, &unsubscribe);
    let to: Mailbox = claim.user.email.parse().map_err(|e| format!("the user's address: {e}"))?;
    let subject = format!("[Tally] {} report for {}: {} to {}", capitalized(&claim.frequency), claim.domain, claim.first, claim.last);
    let mut message = Message::builder()
        .from(state.notifier.sender().clone())
        .to(to)
        .subject(subject)
        // Stable per schedule and period: a resend after a crash de-duplicates.
        .message_id(Some(format!("<report-{}-{}@tally>", claim.schedule_id, claim.first)))
        .multipart(
            MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, body)).singlepart(
                Attachment::new(format!("tally-{}-{}-{}.pdf", claim.domain, claim.first, claim.last))
                    .body(pdf, ContentType::parse("application/pdf").expect("a content type")),
            ),
        )
        .map_err(|e| e.to_string())?;
    let headers = message.headers_mut();
    // RFC 8058 one-click unsubscribe: mail clients show a button that POSTs there.
    headers.insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{unsubscribe}>")));
    headers.insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click".into()));
    state.notifier.send_mail(message).await
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The plain-text alternative: the KPIs and top rows, then the unsubscribe link.
fn text_body(report: &view::Report, unsubscribe: &str) -> String {
    let mut out = format!("{}\n\n", super::html::title(report));
    for k in &report.kpis {
        out.push_str(&format!("{}: {} ({})\n", k.label, format::metric(k.metric, k.value), format::change(k.metric, k.change)));
    }
    for t in &report.tables {
        out.push_str(&format!("\n{}\n", t.title));
        for (name, values) in &t.rows {
            out.push_str(&format!(
                "  {}: {}\n",
                name.as_deref().unwrap_or("(none)"),
                format::metric(t.metrics[0], values.first().copied().flatten())
            ));
        }
    }
    out.push_str(&format!("\nUnsubscribe: {unsubscribe}\n"));
    out
}
