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

#[cfg(test)]
mod tests {
    use super::split_runs;

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
}
