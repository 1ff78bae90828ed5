//! Sends one notification to one channel: a signed webhook POST or an email. Used by
//! the dispatcher for every attempt and by `POST /api/v1/alerts/rules/{id}/test`.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use tally_core::alerts::Channel;

use super::signature;

pub struct Notifier {
    http: reqwest::Client,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl Notifier {
    /// A notifier sending email through `smtp_url` (lettre's form: `smtp://host:port`,
    /// `?tls=required` for STARTTLS, `smtps://` for TLS, `user:pass@` for AUTH) from
    /// `from`, each send limited to `timeout`.
    pub fn new(smtp_url: &str, from: &str, timeout: Duration) -> anyhow::Result<Notifier> {
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| anyhow::anyhow!("TALLY_SMTP_URL {smtp_url:?}: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from = from.parse().map_err(|e| anyhow::anyhow!("TALLY_SMTP_FROM {from:?}: {e}"))?;
        let http = reqwest::Client::builder().timeout(timeout).user_agent(concat!("tally-alerts/", env!("CARGO_PKG_VERSION"))).build()?;
        Ok(Notifier { http, smtp, from, timeout })
    }

    /// Sends `payload` (the alert's JSON) to `channel` as delivery `delivery_id`; the
    /// error says what went wrong, for the delivery log.
    pub async fn send(&self, channel: &Channel, delivery_id: &str, payload: &Value) -> Result<(), String> {
        let sent = tokio::time::timeout(self.timeout, async {
            match channel {
                Channel::Webhook { url, secret } => self.webhook(url, secret, delivery_id, payload).await,
                Channel::Email { to } => self.email(to, delivery_id, payload).await,
            }
        })
        .await;
        sent.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
    }

    async fn webhook(&self, url: &str, secret: &str, delivery_id: &str, payload: &Value) -> Result<(), String> {
        let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Tally-Delivery", delivery_id)
            .header("X-Tally-Signature", signature::sign(secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    async fn email(&self, to: &str, delivery_id: &str, payload: &Value) -> Result<(), String> {
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
        self.smtp.send(message).await.map(|_| ()).map_err(|e| error_chain(&e))
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
