//! Alert delivery. The extension records each firing or resolution with one pending
//! row per channel in `tally.alert_deliveries` and a NOTIFY on `tally_alerts`; here
//! the [`listener`] LISTENs on a connection of its own (reconnecting with backoff) and
//! wakes the [`dispatcher`], which claims due deliveries and sends each one on its own
//! task through the [`notifier`] (signed webhook, or email over SMTP), logging every
//! attempt and retrying with exponential backoff.
//!
//! Delivery is at-least-once: a delivery row stays pending until an attempt succeeds,
//! the dispatcher scans for due rows whenever the listener (re)connects and every few
//! seconds anyway, and a claim is a lease that expires if the gateway dies mid-send.
//! Every attempt of one delivery carries the same `X-Tally-Delivery` id.

pub mod dispatcher;
pub mod listener;
pub mod notifier;
pub mod outbound;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::ServeConfig;
pub use notifier::Notifier;

/// The NOTIFY channel `tally.alert_record` (sql/alerts.sql) signals on.
pub const CHANNEL: &str = "tally_alerts";

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Wait before the second attempt; each later wait doubles, up to [`MAX_BACKOFF`].
    pub base: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Longest one attempt may take.
    pub timeout: Duration,
}

/// Longest wait between two attempts: an hour, so a receiver that was down for a
/// while hears of the alert soon after it is back.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3_600);

impl RetryPolicy {
    pub fn from_config(config: &ServeConfig) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(config.alert_retry_base_ms),
            max_attempts: config.alert_max_attempts.max(1),
            timeout: Duration::from_millis(config.alert_timeout_ms),
        }
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// How long a claimed delivery stays reserved: one attempt and a margin. A gateway
    /// that dies mid-attempt leaves it to be claimed again after this.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// The running listener and dispatcher; [`AlertTasks::stop`] ends both.
pub struct AlertTasks {
    handles: Vec<JoinHandle<()>>,
}

impl AlertTasks {
    /// Starts delivery for the database at `listen_url` (the listener's own
    /// connection); claims and logs go through `pool`.
    pub fn start(pool: Pool, listen_url: String, notifier: Arc<Notifier>, policy: RetryPolicy) -> AlertTasks {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listener::run(listen_url, wake.clone()));
        let dispatcher = tokio::spawn(dispatcher::run(pool, notifier, policy, wake));
        AlertTasks { handles: vec![listener, dispatcher] }
    }

    /// Stops listening and dispatching. Attempts in flight are abandoned: their
    /// deliveries stay pending and are retried once their lease runs out.
    pub async fn stop(self) {
        for handle in &self.handles {
            handle.abort();
        }
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}
