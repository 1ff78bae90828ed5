//! The write buffer between request handlers and Postgres.
//!
//! Handlers submit their events and wait; one writer task takes every submission queued
//! (up to `max_events`), lingers for more until `max_wait` has passed since the first,
//! encodes the batch once and writes it in one transaction, then answers every waiting
//! handler. With `max_wait` 0 this is group commit: no waiting when the load is light,
//! and batches grow by themselves under load, as requests queue while one commits. A
//! handler therefore answers 202 only after COMMIT, or, while Postgres is unreachable,
//! after the batch is fsync'd to the [`Spool`], from which the replayer commits it later.
//! Once anything is spooled, later batches are spooled behind it, so spooled batches
//! reach Postgres in the order they were accepted. Up to `writers` batches are written at
//! once (each in its own transaction), so Postgres can use more than one core.
//!
//! Memory is bounded by a semaphore counting the events held (queued or being written):
//! a submission that would pass `queue_capacity` fails at once, and its handler answers
//! 503 with Retry-After.
//!
//! A failed write is judged by its SQLSTATE ([`DbError::is_transient`], [`data_error`]):
//! - transient (Postgres unreachable, restarting, read-only, out of resources, a
//!   timeout, a lock timeout, a deadlock): the batch is spooled, and the replayer retries
//!   it with backoff for as long as it takes;
//! - a data error (class 22 or 23: a value or a constraint Postgres refuses): only the
//!   events at fault are refused. A batch being written is halved until each failing
//!   half is one request's events, which that request learns as a 400; the other
//!   requests' events commit. A spooled batch (already acknowledged) is halved down to
//!   single rows: each refused row is set aside in the spool's `failed/` directory and
//!   counted in `tally_ingest_events_set_aside_total`, and every other row is stored;
//! - anything else (a missing function, a privilege): a written batch fails its
//!   requests with 503; a spooled batch waits and retries, as its events were
//!   acknowledged and must not be lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::encoded::{EncodedBatch, Pending};
use super::spool::{Entry, Spool, SpoolError};
use super::store::{self, Written};
use crate::error::{ApiError, DbError};
use crate::metrics;

/// A write that takes longer than this is abandoned and its batch spooled: Postgres is
/// hung or unreachable without refusing connections. If the write did commit after
/// all, the batch id makes the replay a no-op.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// First pause of the replayer after a failed attempt; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between replay attempts: how late the spool notices Postgres is back.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often old idempotency records are pruned: hourly keeps the tables small without
/// adding measurable load (several gateways doing it is harmless).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long batch and event ids are remembered: far longer than any spool outage or
/// client retry policy, so a retry inside it is never stored twice.
const KEEP_IDS: Duration = Duration::from_secs(30 * 86_400);

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error(transparent)]
    Database(DbError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// What a waiting handler learns about its events.
pub type FlushResult = Result<(), Arc<FlushError>>;

struct Submission {
    events: Vec<Pending>,
    done: oneshot::Sender<FlushResult>,
    _permit: OwnedSemaphorePermit,
}

/// The submitting side, cloned into every handler.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Submission>,
    room: Arc<Semaphore>,
    capacity: usize,
    draining: Arc<watch::Sender<bool>>,
}

/// Settings of the writer, from the gateway config.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_wait: Duration,
    /// Events held in memory at most, queued or being written.
    pub queue_capacity: usize,
    /// Batches written at once, each on its own connection.
    pub writers: usize,
}

/// The background tasks; await [`Tasks::finish`] after the last [`Batcher`] is dropped.
pub struct Tasks {
    writer: JoinHandle<()>,
    replayer: JoinHandle<()>,
    pruner: JoinHandle<()>,
    stop_replay: watch::Sender<bool>,
}

impl Tasks {
    /// Waits until every accepted event is committed or spooled, then stops the replayer
    /// (what it has not replayed yet stays spooled for the next start).
    pub async fn finish(self) -> Result<(), tokio::task::JoinError> {
        self.writer.await?;
        self.stop_replay.send_replace(true);
        self.pruner.await?;
        self.replayer.await
    }
}

impl Batcher {
    /// Starts the writer and the spool replayer. The writer runs until every `Batcher`
    /// clone is dropped, then flushes what it holds and ends.
    pub fn start(pool: Pool, spool: Arc<Spool>, limits: BatchLimits) -> (Batcher, Tasks) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (draining, drain_rx) = watch::channel(false);
        let (stop_replay, stop_rx) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let writer = tokio::spawn(run_writer(pool.clone(), spool.clone(), wake.clone(), limits, rx, drain_rx));
        let pruner = tokio::spawn(run_pruner(pool.clone(), stop_rx.clone()));
        let replayer = tokio::spawn(run_replayer(pool, spool, wake, stop_rx));
        let room = Arc::new(Semaphore::new(limits.queue_capacity.max(1)));
        let batcher = Batcher { tx, room, capacity: limits.queue_capacity.max(1), draining: Arc::new(draining) };
        (batcher, Tasks { writer, replayer, pruner, stop_replay })
    }

    /// Stops waiting for batches to fill: from now on every batch is written as soon as
    /// the writer picks it up. Called when shutdown begins, so in-flight requests get their
    /// answer (and the process exits) without sitting out the batch window.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Queues `events` and waits until they are committed or spooled.
    pub async fn submit(&self, events: Vec<Pending>) -> Result<(), ApiError> {
        if events.is_empty() {
            return Ok(());
        }
        let n = u32::try_from(events.len()).ok().filter(|&n| n as usize <= self.capacity).ok_or(ApiError::PayloadTooLarge)?;
        let permit = self.room.clone().try_acquire_many_owned(n).map_err(|_| ApiError::Overloaded { retry_after_secs: 1 })?;
        metrics::queue_depth(self.capacity - self.room.available_permits());
        let (done, wait) = oneshot::channel();
        self.tx.send(Submission { events, done, _permit: permit }).map_err(|_| ApiError::Overloaded { retry_after_secs: 5 })?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(match &*e {
                FlushError::Database(db) => match data_error(db) {
                    Some(sqlstate) => ApiError::bad_request(
                        "body",
                        format!("the database refused this request's events as invalid data (SQLSTATE {sqlstate})"),
                    ),
                    None => ApiError::Database(DbError::Flush(e)),
                },
                FlushError::Spool(SpoolError::Full { .. }) => ApiError::Overloaded { retry_after_secs: 5 },
                FlushError::Spool(_) => ApiError::Internal(anyhow::anyhow!("{e}")),
            }),
            Err(_) => Err(ApiError::Internal(anyhow::anyhow!("batch writer stopped before answering"))),
        }
    }
}

async fn run_writer(
    pool: Pool,
    spool: Arc<Spool>,
    wake: Arc<Notify>,
    limits: BatchLimits,
    mut rx: mpsc::UnboundedReceiver<Submission>,
    mut draining: watch::Receiver<bool>,
) {
    let writers = limits.writers.max(1);
    let slots = Arc::new(Semaphore::new(writers));
    loop {
        // Gather only once a write slot is free, so a batch takes everything that queued
        // while the previous ones were committing.
        let slot = slots.clone().acquire_owned().await.expect("write slots are never closed");
        let Some(first) = rx.recv().await else { break };
        let deadline = tokio::time::Instant::now() + limits.max_wait;
        let mut count = first.events.len();
        let mut batch = vec![first];
        loop {
            // Take everything already queued: under load, requests pile up while the
            // previous batch commits, so batches grow with the load (group commit).
            while count < limits.max_events {
                match rx.try_recv() {
                    Ok(next) => {
                        count += next.events.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            if count >= limits.max_events || *draining.borrow() || tokio::time::Instant::now() >= deadline {
                break;
            }
            // Linger for more until the deadline (only when max_wait > 0).
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
        let (pool, spool, wake) = (pool.clone(), spool.clone(), wake.clone());
        tokio::spawn(async move {
            let results = flush(&pool, &spool, &batch).await;
            drop(slot);
            wake.notify_one();
            for (submission, result) in batch.into_iter().zip(results) {
                // A handler that gave up (client disconnected) no longer listens; nothing to do.
                let _ = submission.done.send(result);
            }
        });
    }
    // Every sender is gone: wait for the batches still being written.
    let _ = slots.acquire_many(writers as u32).await;
}

/// Commits the batch, or spools it when Postgres is unreachable or the spool already
/// holds earlier batches; answers each submission. A data error halves the batch until
/// the submissions at fault are alone, so they fail and no other does.
async fn flush(pool: &Pool, spool: &Arc<Spool>, batch: &[Submission]) -> Vec<FlushResult> {
    let mut results: Vec<FlushResult> = vec![Ok(()); batch.len()];
    // A stack of ranges still to write, halves of a refused range pushed on it.
    let mut todo: Vec<std::ops::Range<usize>> = Vec::new();
    todo.push(0..batch.len());
    while let Some(range) = todo.pop() {
        let part = &batch[range.clone()];
        let encoded = EncodedBatch::encode(part.iter().flat_map(|s| &s.events).map(|p| (&p.event, p.event_id.as_deref())));
        match commit_or_spool(pool, spool, encoded).await {
            Ok(()) => {}
            Err(FlushError::Database(e)) if range.len() > 1 && data_error(&e).is_some() => {
                let mid = range.start + range.len() / 2;
                todo.push(mid..range.end);
                todo.push(range.start..mid);
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = range.len(), "batch not accepted");
                let e = Arc::new(e);
                results[range].fill(Err(e));
            }
        }
    }
    results
}

async fn commit_or_spool(pool: &Pool, spool: &Arc<Spool>, encoded: EncodedBatch) -> Result<(), FlushError> {
    if spool.is_empty() {
        match write(pool, &encoded).await {
            Ok(_) => return Ok(()),
            Err(e) if !e.is_transient() => return Err(FlushError::Database(e)),
            Err(e) => tracing::warn!(error = %e, "Postgres unreachable: spooling the batch"),
        }
    }
    let spool = spool.clone();
    let events = encoded.len();
    tokio::task::spawn_blocking(move || spool.append(&encoded)).await.map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
    metrics::spooled(events);
    Ok(())
}

/// The SQLSTATE of an error Postgres raised about the data of a row (class 22, data
/// exception; class 23, integrity constraint violation): those rows fail every time,
/// the other rows of their batch would not.
pub fn data_error(e: &DbError) -> Option<&str> {
    match e {
        DbError::Postgres(e) => e.code().map(|c| c.code()).filter(|c| c.starts_with("22") || c.starts_with("23")),
        DbError::Flush(flush) => match &**flush {
            FlushError::Database(db) => data_error(db),
            FlushError::Spool(_) => None,
        },
        DbError::Pool(_) | DbError::Timeout(_) => None,
    }
}

/// One timed, measured attempt to commit a batch.
async fn write(pool: &Pool, batch: &EncodedBatch) -> Result<Written, DbError> {
    let started = Instant::now();
    let result = match tokio::time::timeout(WRITE_TIMEOUT, store::write_batch(pool, batch)).await {
        Ok(result) => result,
        Err(_) => Err(DbError::Timeout(WRITE_TIMEOUT)),
    };
    match &result {
        Ok(written) => metrics::flushed(*written, started.elapsed()),
        Err(_) => metrics::database_error(),
    }
    result
}

/// Commits spooled batches, oldest first, whenever there are any. Their events were
/// acknowledged, so nothing but a data error ever moves one aside: every other failure
/// is retried with backoff until Postgres takes the batch.
async fn run_replayer(pool: Pool, spool: Arc<Spool>, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        metrics::spool_size(spool.size());
        if *stop.borrow() {
            return;
        }
        let Some(entry) = spool.oldest() else {
            tokio::select! {
                _ = wake.notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let reader = spool.clone();
        let batch = match tokio::task::spawn_blocking(move || reader.read(entry)).await.expect("spool read task") {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "unreadable spool file");
                quarantine(&spool, entry).await;
                continue;
            }
        };
        if !replay(&pool, &spool, entry, &batch, &mut stop).await {
            return;
        }
        let spool = spool.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || spool.remove(entry)).await.expect("spool remove task") {
            tracing::error!(error = %e, "could not delete a replayed spool file");
        }
    }
}

/// Stores every row of a spooled batch but those Postgres refuses for their data, which
/// are set aside: a refused range is halved (into parts with ids of their own,
/// [`EncodedBatch::rows_in`]) down to single rows. Answers `false` when stopped first.
async fn replay(pool: &Pool, spool: &Arc<Spool>, entry: Entry, batch: &EncodedBatch, stop: &mut watch::Receiver<bool>) -> bool {
    let mut backoff = MIN_BACKOFF;
    // A stack of ranges still to write, halves of a refused range pushed on it.
    let mut todo: Vec<std::ops::Range<usize>> = Vec::new();
    todo.push(0..batch.len());
    while let Some(range) = todo.pop() {
        let part = if range.len() == batch.len() { batch.clone() } else { batch.rows_in(range.clone()) };
        match write(pool, &part).await {
            Ok(written) => {
                tracing::info!(?written, events = part.len(), "replayed a spooled batch");
                backoff = MIN_BACKOFF;
            }
            Err(e) => match data_error(&e).map(str::to_string) {
                Some(_) if range.len() > 1 => {
                    let mid = range.start + range.len() / 2;
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
                Some(sqlstate) => {
                    let spool = spool.clone();
                    let saved =
                        tokio::task::spawn_blocking(move || spool.set_aside(entry, range.start, &part)).await.expect("set-aside task");
                    match saved {
                        Ok(path) => {
                            tracing::error!(error = %e, path = %path.display(), "Postgres refused a spooled event: set aside");
                            metrics::set_aside(&sqlstate);
                        }
                        Err(io) => {
                            tracing::error!(error = %io, "could not set a refused spooled event aside; retrying");
                            todo.push(range);
                            if !pause(&mut backoff, stop).await {
                                return false;
                            }
                        }
                    }
                }
                None => {
                    if e.is_transient() {
                        tracing::debug!(error = %e, "Postgres unavailable; the spool waits");
                    } else {
                        tracing::error!(error = %e, "Postgres refused a spooled batch; retrying");
                    }
                    todo.push(range);
                    if !pause(&mut backoff, stop).await {
                        return false;
                    }
                }
            },
        }
    }
    true
}

/// Waits `backoff` (doubling it up to [`MAX_BACKOFF`]); `false` when stopped meanwhile.
async fn pause(backoff: &mut Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = stop.changed() => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    !*stop.borrow()
}

/// Prunes old idempotency records every [`PRUNE_EVERY`] until stopped.
async fn run_pruner(pool: Pool, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stop.changed() => return,
        }
        match store::prune_ids(&pool, KEEP_IDS).await {
            Ok(n) => tracing::debug!(deleted = n, "pruned idempotency records"),
            Err(e) => tracing::warn!(error = %e, "could not prune idempotency records"),
        }
    }
}

async fn quarantine(spool: &Arc<Spool>, entry: Entry) {
    let spool = spool.clone();
    match tokio::task::spawn_blocking(move || spool.quarantine(entry)).await.expect("spool quarantine task") {
        Ok(path) => tracing::error!(path = %path.display(), "spooled batch moved aside"),
        Err(e) => tracing::error!(error = %e, "could not move a spool file aside"),
    }
}
