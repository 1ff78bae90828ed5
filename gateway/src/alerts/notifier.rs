//! Sends one notification to one channel: a signed webhook POST or an email. Used by
//! the dispatcher for every attempt and by `POST /api/v1/alerts/rules/{id}/test`.
//!
//! What a failed send says is shown to analysts (the test action, the delivery log),
//! so it is one of a few fixed sentences: a receiver that refused the connection, timed
//! out or dropped it is "could not be reached" alike, and the cause goes to the
//! gateway's log. Together with [`outbound`](super::outbound), which never connects to
//! an internal address, a webhook is no port scanner.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use tally_core::alerts::Channel;

use super::outbound::{self, AddressPolicy, PolicyResolver};
use super::signature;

/// What an analyst sees when a webhook receiver could not be reached, whatever the cause.
pub const UNREACHABLE: &str =
    "the receiver could not be reached (connection refused, timed out or failed; the gateway's log has the cause)";
/// ... and when the mail server would not take a message.
const MAIL_REFUSED: &str = "the mail server did not accept the message (the gateway's log has the cause)";

pub struct Notifier {
    http: reqwest::Client,
    policy: Arc<AddressPolicy>,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Emails per site and hour (`--alert-emails-per-hour`).
    emails: DefaultKeyedRateLimiter<i64>,
    emails_per_hour: u32,
    timeout: Duration,
}

/// Where and how notifications are sent.
pub struct NotifierConfig<'a> {
    /// lettre's form: `smtp://host:port`, `?tls=required` for STARTTLS, `smtps://` for
    /// TLS, `user:pass@` for AUTH.
    pub smtp_url: &'a str,
    pub from: &'a str,
    /// Longest one send may take.
    pub timeout: Duration,
    /// The addresses webhooks may reach.
    pub policy: AddressPolicy,
    /// Emails one site may send per hour; beyond, a delivery waits for its retry.
    pub emails_per_hour: u32,
}

impl Notifier {
    pub fn new(config: NotifierConfig<'_>) -> anyhow::Result<Notifier> {
        let NotifierConfig { smtp_url, from, timeout, policy, emails_per_hour } = config;
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| anyhow::anyhow!("TALLY_SMTP_URL {smtp_url:?}: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from = from.parse().map_err(|e| anyhow::anyhow!("TALLY_SMTP_FROM {from:?}: {e}"))?;
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("tally-alerts/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver(policy.clone())))
            .build()?;
        let per_hour = NonZeroU32::new(emails_per_hour.max(1)).expect("at least one");
        let emails = RateLimiter::keyed(Quota::per_hour(per_hour));
        Ok(Notifier { http, policy, smtp, from, emails, emails_per_hour, timeout })
    }

    /// Sends `payload` (the alert's JSON) to `channel` as delivery `delivery_id`; the
    /// error is one of the fixed sentences analysts may see.
    pub async fn send(&self, channel: &Channel, delivery_id: &str, payload: &Value) -> Result<(), String> {
        let sent = tokio::time::timeout(self.timeout, async {
            match channel {
                Channel::Webhook { url, secret } => self.webhook(url, secret, delivery_id, payload).await,
                Channel::Email { to } => self.email(to, delivery_id, payload).await,
            }
        })
        .await;
        sent.unwrap_or_else(|_| {
            tracing::warn!(delivery = delivery_id, timeout = ?self.timeout, "alert delivery: no answer in time");
            Err(match channel {
                Channel::Webhook { .. } => UNREACHABLE.to_owned(),
                Channel::Email { .. } => MAIL_REFUSED.to_owned(),
            })
        })
    }

    async fn webhook(&self, url: &str, secret: &str, delivery_id: &str, payload: &Value) -> Result<(), String> {
        let parsed: url::Url = url.parse().map_err(|_| "the webhook URL is not a URL".to_owned())?;
        self.policy.check_url(&parsed).map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(parsed)
            .header("Content-Type", "application/json")
            .header("X-Tally-Delivery", delivery_id)
            .header("X-Tally-Signature", signature::sign(secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if outbound::is_not_allowed(&e) {
                    return outbound::NotAllowed.to_string();
                }
                tracing::warn!(delivery = delivery_id, error = %error_chain(&e), "alert webhook failed");
                UNREACHABLE.to_owned()
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!("the receiver answered HTTP {status}: redirects are not followed"))
        } else {
            Err(format!("the receiver answered HTTP {status}"))
        }
    }

    async fn email(&self, to: &str, delivery_id: &str, payload: &Value) -> Result<(), String> {
        let site = payload.get("site_id").and_then(Value::as_i64).unwrap_or_default();
        if self.emails.check_key(&site).is_err() {
            return Err(format!("this site's email limit is reached ({} per hour); the delivery is retried later", self.emails_per_hour));
        }
        let to: Mailbox = to.parse().map_err(|e| format!("bad address {to:?}: {e}"))?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject(payload))
            // The delivery id as Message-ID: mail systems de-duplicate on it.
            .message_id(Some(format!("<{delivery_id}@tally>")))
            .body(text(payload))
            .map_err(|e| e.to_string())?;
        message.headers_mut().insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("X-Tally-Delivery"), delivery_id.to_owned()));
        self.smtp.send(message).await.map(|_| ()).map_err(|e| {
            tracing::warn!(delivery = delivery_id, error = %error_chain(&e), "alert email failed");
            MAIL_REFUSED.to_owned()
        })
    }
}

impl Notifier {
    /// The sender of every email (`--smtp-from`).
    pub fn sender(&self) -> &Mailbox {
        &self.from
    }

    /// Sends `message` (scheduled reports build their own) within the send timeout; the
    /// error is the mail server's, for the gateway's log and the schedule's state.
    pub async fn send_mail(&self, message: Message) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.smtp.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(_) => Err(format!("the mail server did not answer within {:?}", self.timeout)),
        }
    }
}

/// An error with its causes, which hold the useful part ("connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn field<'a>(payload: &'a Value, key: &str) -> &'a str {
    payload.get(key).and_then(Value::as_str).unwrap_or("?")
}

/// `[Tally] Checkout drop is firing on shop.example`.
fn subject(payload: &Value) -> String {
    let status = match field(payload, "status") {
        "firing" => "is firing",
        "resolved" => "resolved",
        _ => "test notification",
    };
    format!("[Tally] {} {status} on {}", field(payload, "rule"), field(payload, "site"))
}

/// The alert in plain text, then its JSON for scripts that read mail.
fn text(payload: &Value) -> String {
    let number = |key: &str| payload.get(key).filter(|v| !v.is_null()).map_or("-".to_owned(), Value::to_string);
    format!(
        "{subject}\n\nmetric: {metric} over the last {window} minutes\nvalue: {value}\nbaseline: {baseline}\nscore: {score}\nat: {at}\n\n{json}\n",
        subject = subject(payload),
        metric = field(payload, "metric"),
        window = number("window_minutes"),
        value = number("value"),
        baseline = number("baseline"),
        score = number("score"),
        at = field(payload, "at"),
        json = serde_json::to_string_pretty(payload).unwrap_or_default(),
    )
}
