//! Claims due deliveries and sends each on its own task, so a slow or failing channel
//! never holds up another: one attempt per claim, its outcome logged in
//! `tally.alert_delivery_attempts`, and the delivery marked delivered, rescheduled
//! with backoff, or failed after the last attempt.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::Value;
use tally_core::alerts::Channel;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Notifier, RetryPolicy};
use crate::error::DbError;

/// Longest sleep between scans without a wake-up: catches notifications missed
/// between a disconnect and the reconnect, and deliveries whose lease expired.
const POLL: Duration = Duration::from_secs(5);
/// Deliveries claimed per scan; the rest wait for the next one, moments later.
const CLAIM_BATCH: i64 = 100;

/// Claims up to $1 due deliveries, leasing each until now() + $2 seconds.
const CLAIM: &str = "\
UPDATE tally.alert_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
FROM tally.alert_history h
WHERE h.history_id = d.history_id
  AND d.delivery_id IN (
      SELECT delivery_id FROM tally.alert_deliveries
      WHERE status = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING d.delivery_id, d.attempts, d.channel, h.payload";

/// Logs attempt $2 of delivery $1 ($3 ok, $4 error) and settles the delivery: delivered,
/// failed once $5 attempts are used, or due again in $6 seconds.
const RECORD: &str = "\
WITH attempt AS (
    INSERT INTO tally.alert_delivery_attempts (delivery_id, site_id, attempt, ok, error)
    SELECT $1, site_id, $2, $3, $4 FROM tally.alert_deliveries WHERE delivery_id = $1
)
UPDATE tally.alert_deliveries SET
    status = CASE WHEN $3 THEN 'delivered' WHEN attempts >= $5 THEN 'failed' ELSE 'pending' END,
    next_attempt_at = CASE WHEN $3 THEN next_attempt_at ELSE now() + make_interval(secs => $6) END,
    last_error = $4,
    delivered_at = CASE WHEN $3 THEN now() END
WHERE delivery_id = $1";

/// Seconds until the next pending delivery is due (NULL: none).
const NEXT_DUE: &str =
    "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM tally.alert_deliveries WHERE status = 'pending'";

struct Claimed {
    id: Uuid,
    attempt: i32,
    channel: Value,
    payload: Value,
}

/// Dispatches until aborted.
pub async fn run(pool: Pool, notifier: Arc<Notifier>, policy: RetryPolicy, wake: Arc<Notify>) {
    loop {
        let wait = match scan(&pool, &notifier, policy, &wake).await {
            Ok(next_due) => next_due.map_or(POLL, |d| d.min(POLL)),
            Err(e) => {
                tracing::warn!(error = %e, "alert dispatcher: cannot claim deliveries");
                POLL
            }
        };
        // A notification while sleeping ends the sleep at once.
        let _ = tokio::time::timeout(wait, wake.notified()).await;
    }
}

/// Claims what is due, starts one task per delivery, and says when the next is due.
async fn scan(pool: &Pool, notifier: &Arc<Notifier>, policy: RetryPolicy, wake: &Arc<Notify>) -> Result<Option<Duration>, DbError> {
    let client = pool.get().await?;
    loop {
        let rows = client.query(CLAIM, &[&CLAIM_BATCH, &policy.lease().as_secs_f64()]).await?;
        let claimed = rows.len();
        for row in rows {
            let claim = Claimed { id: row.get(0), attempt: row.get(1), channel: row.get(2), payload: row.get(3) };
            tokio::spawn(attempt(pool.clone(), notifier.clone(), policy, wake.clone(), claim));
        }
        if (claimed as i64) < CLAIM_BATCH {
            break;
        }
    }
    let next: Option<f64> = client.query_one(NEXT_DUE, &[]).await?.get(0);
    Ok(next.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// One attempt of one delivery, then its record. If the record cannot be written the
/// lease runs out and the delivery is tried again: at-least-once, never lost.
async fn attempt(pool: Pool, notifier: Arc<Notifier>, policy: RetryPolicy, wake: Arc<Notify>, claim: Claimed) {
    let id = claim.id.to_string();
    let outcome = match Channel::parse(&claim.channel, "channel", &mut String::new) {
        Ok(channel) => notifier.send(&channel, &id, &claim.payload).await,
        Err(e) => Err(format!("unusable channel: {e}")),
    };
    crate::metrics::delivery_attempt(outcome.is_ok());
    if let Err(error) = &outcome {
        tracing::warn!(delivery = %id, attempt = claim.attempt, %error, "alert delivery failed");
    }
    let backoff = policy.backoff(claim.attempt.max(1) as u32).as_secs_f64();
    let recorded = async {
        let client = pool.get().await?;
        let error = outcome.as_ref().err();
        client.execute(RECORD, &[&claim.id, &claim.attempt, &outcome.is_ok(), &error, &(policy.max_attempts as i32), &backoff]).await?;
        Ok::<_, DbError>(())
    };
    if let Err(e) = recorded.await {
        tracing::error!(delivery = %id, error = %e, "could not record a delivery attempt; it will be retried");
    }
    // The next retry may now be the earliest due delivery.
    wake.notify_one();
}
