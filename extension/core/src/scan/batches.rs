//! Sources grouped into batches of about a given number of rows, for work handed to
//! another thread a batch at a time: hand-overs per segment of a few thousand rows
//! cost about what the thread saves.

use std::ops::Range;

/// Consecutive runs of the sources whose row counts are `rows`, each closed once it
/// holds at least `per_batch` rows (a source alone when it is larger); every source is
/// in exactly one batch, in order.
pub fn batches(rows: &[usize], per_batch: usize) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut held) = (0, 0);
    for (source, &n) in rows.iter().enumerate() {
        held += n;
        if held >= per_batch {
            batches.push(start..source + 1);
            (start, held) = (source + 1, 0);
        }
    }
    if start < rows.len() {
        batches.push(start..rows.len());
    }
    batches
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn batches_close_at_the_row_count() {
        assert_eq!(batches(&[], 10), Vec::<Range<usize>>::new());
        assert_eq!(batches(&[3], 10), vec![0..1]);
        assert_eq!(batches(&[10, 1, 9, 5], 10), vec![0..1, 1..3, 3..4]);
        assert_eq!(batches(&[30, 20], 10), vec![0..1, 1..2]);
    }

    proptest! {
        #[test]
        fn every_source_is_in_one_batch_in_order(rows in prop::collection::vec(0usize..100, 0..50), per_batch in 1usize..200) {
            let got = batches(&rows, per_batch);
            let flat: Vec<usize> = got.iter().cloned().flatten().collect();
            prop_assert_eq!(flat, (0..rows.len()).collect::<Vec<_>>());
            for (i, batch) in got.iter().enumerate() {
                prop_assert!(!batch.is_empty());
                let held: usize = rows[batch.clone()].iter().sum();
                // Every batch but the last reaches the count; none goes on past it.
                prop_assert!(i + 1 == got.len() || held >= per_batch);
                prop_assert!(held - rows[batch.end - 1] < per_batch);
            }
        }
    }
}
