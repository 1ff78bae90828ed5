//! LISTEN tally_alerts on a connection of its own (a pooled connection cannot receive
//! notifications: the pool drives it). Each notification, and each (re)connect (the
//! alerts recorded while nobody listened must be found too), wakes the dispatcher.
//! After a failure it reconnects with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

/// First wait after a failed connection; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Listens until aborted.
pub async fn run(url: String, wake: Arc<Notify>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match listen(&url, &wake).await {
            // The session lasted: the next failure starts from a short wait again.
            Ok(()) => backoff = FIRST_BACKOFF,
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "alert listener: cannot listen on {}", super::CHANNEL),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One session: connect, LISTEN, wake the dispatcher, then forward notifications
/// until the connection ends. Ok when it ended after listening.
async fn listen(url: &str, wake: &Notify) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {}", super::CHANNEL);
    let listening = client.batch_execute(&statement);
    // The connection only makes progress while its messages are polled.
    tokio::pin!(listening);
    loop {
        tokio::select! {
            done = &mut listening => { done?; break; }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    }
    tracing::info!("alert listener: listening on {}", super::CHANNEL);
    wake.notify_one();
    while let Some(message) = messages.next().await {
        match message? {
            AsyncMessage::Notification(_) => wake.notify_one(),
            AsyncMessage::Notice(notice) => tracing::debug!(%notice, "alert listener notice"),
            _ => {}
        }
    }
    tracing::warn!("alert listener: connection closed");
    Ok(())
}
