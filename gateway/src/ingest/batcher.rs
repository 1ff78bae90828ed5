//! The write buffer between request handlers and Postgres.
//!
//! Handlers submit their events and wait; one writer task gathers submissions until the
//! batch holds `max_events` or `max_wait` has passed since its first event, writes the
//! batch in one transaction, and then answers every waiting handler. A handler therefore
//! answers 202 only after COMMIT. The queue is bounded: when it is full, `submit` fails
//! at once and the handler answers 503 with Retry-After instead of growing memory.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tally_core::event::Event;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::store;
use crate::error::{ApiError, DbError};

/// What a waiting handler learns about its events.
pub type FlushResult = Result<(), Arc<DbError>>;

struct Submission {
    events: Vec<Event>,
    done: oneshot::Sender<FlushResult>,
}

/// The submitting side, cloned into every handler.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Submission>,
    draining: Arc<watch::Sender<bool>>,
}

/// Settings of the writer, from the gateway config.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_wait: Duration,
    pub queue_capacity: usize,
}

impl Batcher {
    /// Starts the writer task. It runs until every `Batcher` clone is dropped, then flushes
    /// what it holds and ends, so awaiting the handle on shutdown loses nothing accepted.
    pub fn start(pool: Pool, limits: BatchLimits) -> (Batcher, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(limits.queue_capacity.max(1));
        let (draining, drain_rx) = watch::channel(false);
        let handle = tokio::spawn(run_writer(pool, limits, rx, drain_rx));
        (Batcher { tx, draining: Arc::new(draining) }, handle)
    }

    /// Stops waiting for batches to fill: from now on every batch is written as soon as
    /// the writer picks it up. Called when shutdown begins, so in-flight requests get their
    /// answer (and the process exits) without sitting out the batch window.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Queues `events` and waits until they are committed.
    pub async fn submit(&self, events: Vec<Event>) -> Result<(), ApiError> {
        let (done, wait) = oneshot::channel();
        self.tx.try_send(Submission { events, done }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::Overloaded { retry_after_secs: 1 },
            mpsc::error::TrySendError::Closed(_) => ApiError::Overloaded { retry_after_secs: 5 },
        })?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(db)) => Err(ApiError::Database(DbError::Shared(db))),
            Err(_) => Err(ApiError::Internal(anyhow::anyhow!("batch writer stopped before answering"))),
        }
    }
}

async fn run_writer(pool: Pool, limits: BatchLimits, mut rx: mpsc::Receiver<Submission>, mut draining: watch::Receiver<bool>) {
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + limits.max_wait;
        let mut count = first.events.len();
        let mut batch = vec![first];
        while count < limits.max_events {
            if *draining.borrow() {
                // Take what is already queued, without waiting for more.
                match rx.try_recv() {
                    Ok(next) => {
                        count += next.events.len();
                        batch.push(next);
                        continue;
                    }
                    Err(_) => break,
                }
            }
            tokio::select! {
                next = tokio::time::timeout_at(deadline, rx.recv()) => match next {
                    Ok(Some(next)) => {
                        count += next.events.len();
                        batch.push(next);
                    }
                    // Deadline reached, or every sender is gone: flush what we have.
                    Ok(None) | Err(_) => break,
                },
                // Shutdown began: loop round to take what is queued and flush.
                _ = draining.changed() => {}
            }
        }
        flush(&pool, batch).await;
    }
}

async fn flush(pool: &Pool, batch: Vec<Submission>) {
    let mut events = Vec::with_capacity(batch.iter().map(|s| s.events.len()).sum());
    let mut waiters = Vec::with_capacity(batch.len());
    for submission in batch {
        events.extend(submission.events);
        waiters.push(submission.done);
    }
    let started = std::time::Instant::now();
    let result = store::write_batch(pool, &events).await.map_err(Arc::new);
    match &result {
        Ok(()) => tracing::debug!(events = events.len(), elapsed_ms = started.elapsed().as_millis() as u64, "flushed batch"),
        Err(e) => tracing::warn!(events = events.len(), error = %e, "batch flush failed"),
    }
    for done in waiters {
        // A handler that gave up (client disconnected) no longer listens; nothing to do.
        let _ = done.send(result.clone());
    }
}
