//! Segment encoding and merging on several cores. Both are pure Rust
//! (`tally_core::segment`) and most of compaction's CPU, so they run in scoped threads
//! while the backend's own thread does every Postgres call (SPI, errors) before and
//! after.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tally_core::event::Event;
use tally_core::segment::{self, Segment, SegmentError};

use crate::gucs;

/// Encodes each slice as segments of at most `MAX_ROWS` rows, in input order, using up
/// to `tally.compaction_threads` threads.
pub fn build_all(slices: &[&[Event]]) -> Vec<Result<Vec<Segment>, SegmentError>> {
    map(slices, |s| s.len(), |events| events.chunks(segment::MAX_ROWS).map(segment::build).collect())
}

/// `tally.compaction_threads`, read on the backend's thread for work that runs on others.
pub fn threads() -> usize {
    gucs::COMPACTION_THREADS.get().max(1) as usize
}

/// `work` applied to every item, results in input order, on up to
/// `tally.compaction_threads` threads; `size` ranks the items so the largest start
/// first (one big site-day starting last would run alone).
pub fn map<T: Sync, R: Send + Sync>(items: &[T], size: impl Fn(&T) -> usize + Sync, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_on(threads(), items, size, work)
}

/// [`map`] on up to `threads` threads, callable from a thread of the extension's own.
pub fn map_on<T: Sync, R: Send + Sync>(
    threads: usize,
    items: &[T],
    size: impl Fn(&T) -> usize + Sync,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let results: Vec<OnceLock<R>> = items.iter().map(|_| OnceLock::new()).collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by_key(|&i| std::cmp::Reverse(size(&items[i])));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                block_signals();
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let _ = results[i].set(work(&items[i]));
                }
            });
        }
    });
    // A worker's panic re-panics out of the scope above, so every slot is set here.
    results.into_iter().map(|r| r.into_inner().expect("every item is done once the scope ends")).collect()
}

/// Keeps Postgres's signal handlers (cancel, terminate, latch wake-ups) on the backend's
/// own thread: they touch backend state that only that thread may. Every thread the
/// extension starts calls it first.
pub(crate) fn block_signals() {
    // SAFETY: a fully initialised empty-then-filled set, applied to the calling thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}
