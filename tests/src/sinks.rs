//! Receivers for alert notifications, started by a test on loopback ports: a webhook
//! receiver (axum) that records every request and can be told to fail, and an SMTP
//! sink that records every message it accepts and can be told to refuse some first.
//!
//! The SMTP sink is a minimal SMTP server on tokio written here (EHLO/HELO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH): the crate made for this,
//! mailin-embedded, builds rustls with its C-compiled default crypto provider even
//! without TLS, and runs a thread pool a test cannot stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hook {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct HookState {
    received: Mutex<Vec<Hook>>,
    /// Requests still to answer with 500 before accepting.
    failures_left: AtomicUsize,
    /// Where to redirect every request, if anywhere.
    redirect: Option<String>,
}

/// A webhook endpoint at `url`, recording every POST (failed ones too).
pub struct WebhookReceiver {
    pub url: String,
    pub port: u16,
    state: Arc<HookState>,
}

impl WebhookReceiver {
    /// Starts a receiver whose first `fail_first` requests get HTTP 500.
    pub async fn start(fail_first: usize) -> WebhookReceiver {
        WebhookReceiver::start_on("127.0.0.1", fail_first, None).await
    }

    /// A receiver on loopback address `ip` (`127.0.0.2`, `::1`). With `redirect`, every
    /// request is answered `307 Temporary Redirect` to that URL instead.
    pub async fn start_on(ip: &str, fail_first: usize, redirect: Option<String>) -> WebhookReceiver {
        let state = Arc::new(HookState { failures_left: AtomicUsize::new(fail_first), redirect, ..HookState::default() });
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let listener = TcpListener::bind((ip, 0)).await.expect("bind webhook receiver");
        let address = listener.local_addr().expect("address");
        let url = format!("http://{address}/hook");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("webhook receiver") });
        WebhookReceiver { url, port: address.port(), state }
    }

    pub fn received(&self) -> Vec<Hook> {
        self.state.received.lock().expect("receiver lock").clone()
    }

    /// Waits (at most `within`) until `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hook> {
        wait_until(within, || self.received().len() >= n).await;
        self.received()
    }
}

async fn receive(State(state): State<Arc<HookState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.received.lock().expect("receiver lock").push(Hook { headers, body });
    if let Some(to) = &state.redirect {
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to.clone())]).into_response();
    }
    let fail = state.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// A loopback port that accepts connections and never answers: a receiver that
/// hangs (a filtered port, from the sender's side). Returns its port.
pub async fn silent_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind silent port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent (dot-stuffing undone).
    pub data: String,
}

/// An SMTP server on `port` that accepts every message (but the first few, if told).
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    refusals: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::start_refusing(0).await
    }

    /// A sink that answers the first `refuse` messages' data with `451` (try again
    /// later), as a mail server with a passing problem does, then accepts.
    pub async fn start_refusing(refuse: usize) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP sink");
        let port = listener.local_addr().expect("address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(AtomicUsize::new(refuse));
        let (sink, left) = (mails.clone(), refusals.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sink, left) = (sink.clone(), left.clone());
                tokio::spawn(async move {
                    let _ = session(stream, sink, left).await;
                });
            }
        });
        SmtpSink { port, mails, refusals }
    }

    /// Refusals still to come.
    pub fn refusals_left(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    /// `smtp://127.0.0.1:<port>` for the gateway's TALLY_SMTP_URL.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("sink lock").clone()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        wait_until(within, || self.mails().len() >= n).await;
        self.mails()
    }
}

/// One SMTP session (RFC 5321's minimum): greet, take envelopes and data, say bye.
async fn session(stream: tokio::net::TcpStream, sink: Arc<Mutex<Vec<Mail>>>, refuse: Arc<AtomicUsize>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 tally-test-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-tally-test-sink\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "MAIL" => {
                from = address(&line);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&line));
                b"250 OK\r\n"
            }
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                if refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    b"451 local problem, try again later\r\n"
                } else {
                    sink.lock().expect("sink lock").push(Mail { from: from.clone(), to: to.clone(), data });
                    b"250 OK queued\r\n"
                }
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn address(line: &str) -> String {
    line.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}

/// Polls `done` every 50 ms until it holds or `within` has passed.
pub async fn wait_until(within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
