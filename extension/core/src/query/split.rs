//! Work cut for threads: consecutive items (segments, distinct-pair buckets) in runs
//! of about equal size, so each thread gets a contiguous share and the shares finish
//! together.

use std::ops::Range;

/// Up to `threads` runs of consecutive items with about equal total `sizes` each
/// (fewer when there are fewer items).
pub(crate) fn split_runs(sizes: &[usize], threads: usize) -> Vec<Range<usize>> {
    let total: usize = sizes.iter().sum();
    let threads = threads.clamp(1, sizes.len().max(1));
    let mut runs = Vec::with_capacity(threads);
    let (mut start, mut sum) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        sum += size;
        if sum * threads >= total * (runs.len() + 1) && runs.len() + 1 < threads {
            runs.push(start..i + 1);
            start = i + 1;
        }
    }
    runs.push(start..sizes.len());
    runs
}

/// `work` on each of `shares`: the first on this thread, the others on scoped threads
/// that run `on_thread` first (Postgres blocks signals there). Results in share order;
/// a thread's panic is resumed here.
pub(crate) fn run_shares<T: Send>(shares: &[Range<usize>], on_thread: fn(), work: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let Some((first, rest)) = shares.split_first() else { return Vec::new() };
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = rest
            .iter()
            .map(|share| {
                let share = share.clone();
                scope.spawn(move || {
                    on_thread();
                    work(share)
                })
            })
            .collect();
        let mut out = Vec::with_capacity(shares.len());
        out.push(work(first.clone()));
        out.extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
        out
    })
}

#[cfg(test)]
mod tests {
    use super::{run_shares, split_runs};

    #[test]
    fn runs_cover_every_item_once_in_order() {
        let sizes = [5usize, 1, 1, 9, 2, 2, 4];
        for threads in 1..=9 {
            let runs = split_runs(&sizes, threads);
            assert_eq!(runs.len(), threads.min(sizes.len()), "{threads}: {runs:?}");
            assert_eq!(runs.first().unwrap().start, 0);
            assert_eq!(runs.last().unwrap().end, sizes.len());
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start && w[0].start < w[0].end), "{runs:?}");
        }
        assert!(split_runs(&[], 2).iter().all(|r| r.is_empty()));
    }

    #[test]
    fn shares_run_once_each_and_answer_in_order() {
        let shares = split_runs(&[3, 1, 4, 1, 5, 9, 2, 6], 3);
        let sums = run_shares(&shares, || {}, |share| share.map(|i| i * 10).sum::<usize>());
        let expected: Vec<usize> = shares.iter().map(|s| s.clone().map(|i| i * 10).sum()).collect();
        assert_eq!(sums, expected);
        assert!(run_shares(&[], || {}, |share| share.len()).is_empty());
    }
}
