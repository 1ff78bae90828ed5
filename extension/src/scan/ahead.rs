//! Decoding on two threads: an aggregation over many rows has its sources decoded a
//! batch at a time by a second thread and by the backend's thread between the batches
//! it aggregates. Decoding (decompressing, unpacking, building dictionaries) is about
//! two thirds of a full-scan group-by, so both threads decode, and whichever is free
//! takes the next batch. Batches of many rows keep the hand-overs rare: one per
//! segment of a few thousand rows cost about what the second thread saved.
//!
//! The second thread is the backend's decoding thread, started on first use and kept:
//! a thread started per query met fresh memory for its first allocations (faulting in
//! and zeroing huge pages, a few milliseconds a query), where a kept one reuses its own.
//!
//! The backend's thread still reads every source (detoasting and the segment cache
//! call Postgres) and aggregates the decoded batches in the order it read them: the
//! aggregation sees exactly what a scan on one thread gives it, and its Postgres calls
//! (`date_trunc`, interrupts, errors) stay on the backend's thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};

use pgrx::pg_sys;
use pgrx::prelude::*;
use tally_core::scan::{batches, Bounds, CodeFilter, Decoded};

use super::exec::{Fetched, Run, SourceError};
use crate::gucs;
use crate::storage::parallel::block_signals;

/// Rows of a batch.
const BATCH_ROWS: usize = 1 << 16;

/// Batches read ahead of the one being aggregated: enough for both threads to have one
/// to decode. Each holds its bytes and then its decoded columns until aggregated.
const AHEAD: usize = 2;

type Results = Vec<Result<Decoded, SourceError>>;

/// Work the decoding thread runs.
type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// The way to the backend's decoding thread (only the backend's thread sends).
    static DECODER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
}

/// Runs `job` on the backend's decoding thread, starting it when there is none (or the
/// last one ended by a panic).
fn on_decoder(job: Job) {
    DECODER.with_borrow_mut(|decoder| {
        let job = match decoder.as_ref() {
            Some(to) => match to.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (to, from) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tally decoder".into())
            .spawn(move || {
                block_signals();
                for job in from {
                    job();
                }
            })
            .unwrap_or_else(|e| error!("tally.events: starting a decoding thread: {e}"));
        to.send(job).unwrap_or_else(|_| error!("tally.events: the decoding thread ended at once"));
        *decoder = Some(to);
    });
}

/// The batches read and not decoded yet, and those decoded and not aggregated yet.
#[derive(Default)]
struct Work {
    waiting: VecDeque<(usize, Vec<Fetched<'static>>)>,
    decoded: Vec<Option<Results>>,
    /// No batch will come: the scan ended or failed.
    closed: bool,
    /// The decoding thread has left this scan: nothing it holds refers to the scan's
    /// memory any more.
    left: bool,
}

#[derive(Default)]
struct Shared {
    work: Mutex<Work>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, work: MutexGuard<'a, Work>) -> MutexGuard<'a, Work> {
        self.changed.wait(work).unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut Work)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Decodes batch `batch` (taken off `waiting`) and hands its results over.
    fn decode(&self, batch: usize, fetched: Vec<Fetched<'static>>, query: &Query) {
        let results = query.decode(fetched);
        self.update(|work| work.decoded[batch] = Some(results));
    }

    /// The decoding thread's part: decodes waiting batches until the work closes (the
    /// scan has every batch decoded then, or ended by an error).
    fn decode_waiting(&self, query: &Query) {
        let mut work = self.lock();
        loop {
            if work.closed {
                return;
            } else if let Some((batch, fetched)) = work.waiting.pop_front() {
                drop(work);
                self.decode(batch, fetched, query);
                work = self.lock();
            } else {
                work = self.wait(work);
            }
        }
    }
}

/// Marks the decoding thread gone from the scan when dropped, after its last batch or
/// by a panic, so the backend's thread neither waits for a batch that will not come
/// nor frees memory the thread still reads.
struct Leaving(Arc<Shared>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.update(|work| {
            work.left = true;
            work.closed = true;
        });
    }
}

/// Closes the work when dropped, however the scan ends (an error raised while
/// aggregating too), and waits for the decoding thread to leave it.
struct Closing<'s>(&'s Shared);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.0.update(|work| work.closed = true);
        let mut work = self.0.lock();
        while !work.left {
            work = self.0.wait(work);
        }
    }
}

/// What decoding a batch reads besides its bytes.
struct Query {
    columns: Vec<usize>,
    filters: Vec<CodeFilter>,
    bounds: Bounds,
}

impl Query {
    fn decode(&self, batch: Vec<Fetched<'static>>) -> Results {
        batch.into_iter().map(|fetched| fetched.decode(&self.columns, &self.filters, &self.bounds)).collect()
    }
}

impl Run {
    /// Calls `each` with every source decoded, in order; with `tally.query_threads` at
    /// least 2 and more than one batch of rows, two threads decode.
    ///
    /// # Safety
    /// Called from the executor once the scan has started.
    pub(super) unsafe fn for_each_decoded(&mut self, mut each: impl FnMut(&Decoded)) {
        unsafe {
            let batches = batches(&self.sources.rows(), BATCH_ROWS);
            // With no column to decode and no filter (count(*)), the sources are their
            // catalog row counts but for a time bound's edges: nothing to share.
            let decoding = !(self.columns.is_empty() && self.filters.is_empty());
            let threaded = decoding && batches.len() >= 2 && gucs::QUERY_THREADS.get() >= 2;
            self.stats.decoding_threads = if threaded { 2 } else { 1 };
            if !threaded {
                while self.advance() {
                    each(&self.current);
                }
                return;
            }
            // A batch's detoasted bytes live in its slot's context until the batch read
            // AHEAD + 1 later reuses it: by then it was decoded and aggregated.
            let slots: Vec<pg_sys::MemoryContext> = (0..=AHEAD).map(|_| self.child_context(c"TallyScan batch")).collect();
            let query = Arc::new(Query { columns: self.columns.clone(), filters: self.filters.clone(), bounds: self.bounds.clone() });
            let shared = Arc::new(Shared::default());
            shared.lock().decoded = batches.iter().map(|_| None).collect();
            let (theirs, query_theirs) = (Arc::clone(&shared), Arc::clone(&query));
            on_decoder(Box::new(move || {
                let leaving = Leaving(theirs);
                leaving.0.decode_waiting(&query_theirs);
            }));
            let _closing = Closing(&shared);
            let mut read = 0;
            for (batch, sources) in batches.iter().enumerate() {
                while read < batches.len() && read <= batch + AHEAD {
                    let slot = slots[read % slots.len()];
                    pg_sys::MemoryContextReset(slot);
                    let fetched = batches[read].clone().map(|source| self.fetch(source, slot)).collect();
                    shared.update(|work| work.waiting.push_back((read, fetched)));
                    read += 1;
                }
                // Decode waiting batches here until this one is decoded (by either).
                let results = loop {
                    let mut work = shared.lock();
                    if let Some(results) = work.decoded[batch].take() {
                        break results;
                    }
                    match work.waiting.pop_front() {
                        Some((other, fetched)) => {
                            drop(work);
                            shared.decode(other, fetched, &query);
                        }
                        None if work.left => error!("tally.events: the decoding thread stopped before batch {batch}"),
                        None => drop(shared.wait(work)),
                    }
                };
                for (source, decoded) in sources.clone().zip(results) {
                    let decoded = self.decoded(source, decoded);
                    each(&decoded);
                }
            }
        }
    }
}
