//! Decoding on two threads: an aggregation over many rows has its sources decoded a
//! batch at a time by a second thread and by the backend's thread between the batches
//! it aggregates. Decoding (decompressing, unpacking, building dictionaries) is about
//! two thirds of a full-scan group-by, so both threads decode, and whichever is free
//! takes the next batch. Batches of many rows keep the hand-overs rare: one per
//! segment of a few thousand rows cost about what the second thread saved.
//!
//! The backend's thread still reads every source (detoasting and the segment cache
//! call Postgres) and aggregates the decoded batches in the order it read them: the
//! aggregation sees exactly what a scan on one thread gives it, and its Postgres calls
//! (`date_trunc`, interrupts, errors) stay on the backend's thread.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use pgrx::pg_sys;
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

/// The batches read and not decoded yet, and those decoded and not aggregated yet.
#[derive(Default)]
struct Work {
    waiting: VecDeque<(usize, Vec<Fetched<'static>>)>,
    decoded: Vec<Option<Results>>,
    /// No batch will come: the scan ended or failed.
    closed: bool,
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

    fn done(&self, batch: usize, results: Results) {
        self.lock().decoded[batch] = Some(results);
        self.changed.notify_all();
    }
}

/// Closes the work when dropped, however the scan ends, so the second thread stops.
struct Closing<'s>(&'s Shared);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
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
            let threaded = batches.len() >= 2 && gucs::QUERY_THREADS.get() >= 2;
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
            let query = Query { columns: self.columns.clone(), filters: self.filters.clone(), bounds: self.bounds.clone() };
            let shared = Shared::default();
            shared.lock().decoded = batches.iter().map(|_| None).collect();
            std::thread::scope(|scope| {
                let closing = Closing(&shared);
                scope.spawn(|| {
                    block_signals();
                    // A panic here closes the work too, so the backend's thread does not
                    // wait for a batch that will not come.
                    let _closing = Closing(&shared);
                    let mut work = shared.lock();
                    loop {
                        if let Some((batch, fetched)) = work.waiting.pop_front() {
                            drop(work);
                            shared.done(batch, query.decode(fetched));
                            work = shared.lock();
                        } else if work.closed {
                            return;
                        } else {
                            work = shared.wait(work);
                        }
                    }
                });
                let mut read = 0;
                for (batch, sources) in batches.iter().enumerate() {
                    while read < batches.len() && read <= batch + AHEAD {
                        let slot = slots[read % slots.len()];
                        pg_sys::MemoryContextReset(slot);
                        let fetched = batches[read].clone().map(|source| self.fetch(source, slot)).collect();
                        shared.lock().waiting.push_back((read, fetched));
                        shared.changed.notify_all();
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
                                shared.done(other, query.decode(fetched));
                            }
                            None if work.closed => panic!("the decoding thread stopped before batch {batch}"),
                            None => drop(shared.wait(work)),
                        }
                    };
                    for (source, decoded) in sources.clone().zip(results) {
                        let decoded = self.decoded(source, decoded);
                        each(&decoded);
                    }
                }
                drop(closing);
            });
        }
    }
}
