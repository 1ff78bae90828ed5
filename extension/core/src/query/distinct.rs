//! Exact distinct visitors per group: the `visitors` metric of a full scan.
//!
//! A scan records a (group, visitor) pair for every visit counted in a group, and the
//! answer is the number of distinct pairs per group. Three things keep that cheap:
//! - rows are sorted by visitor within a batch, so a visitor's visits arrive one after
//!   the other: remembering each group's last visitor drops the repeats of a batch
//!   before they are stored;
//! - the repeats left (a visitor seen in several batches or threads) are removed by
//!   partitioning the pairs on a hash of the visitor into buckets small enough to stay
//!   in cache, then deduplicating each bucket in a small hash set, instead of sorting
//!   millions of pairs at once (which cost a sixth of a top-pages scan) or probing one
//!   set too big for any cache;
//! - each scan thread partitions its own pairs ([`DistinctVisitors::seal`]) before its
//!   scan is merged, and merging keeps the partitioned pairs where they are with a
//!   table translating their group numbers, instead of copying them into one list (a
//!   tenth of the merging thread's time in a top-pages call). The bucket depends on the
//!   visitor alone, so a pair meets its repeats from every thread in one bucket
//!   whatever its group is numbered there.

use std::ops::Range;

use super::split::{run_shares, split_runs};

/// log2 of the number of buckets: about 1,000 pairs per bucket for a million pairs (a
/// month of a site with a few million events), so a bucket's set stays in a core's
/// L1/L2 cache; more buckets would thrash the TLB while scattering.
const BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// Fewer pairs than this per thread are counted on one thread: starting a thread costs
/// about what counting this many pairs does.
const MIN_PAIRS_PER_THREAD: usize = 1 << 16;

/// Pairs partitioned into [`BUCKETS`] buckets, with their group numbers to translate.
#[derive(Debug)]
struct Partitioned {
    /// The pairs, bucket after bucket: bucket `b` is `pairs[starts[b]..starts[b + 1]]`.
    pairs: Vec<(u32, i64)>,
    starts: Vec<usize>,
    /// The group number (in the merged numbering) of each stored group number; `None`
    /// when they are already merged numbers.
    groups: Option<Vec<u32>>,
}

impl Partitioned {
    fn of(pairs: Vec<(u32, i64)>) -> Partitioned {
        let mut starts = vec![0usize; BUCKETS + 1];
        for &(_, visitor) in &pairs {
            starts[bucket(visitor) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut scattered = vec![(0u32, 0i64); pairs.len()];
        for &pair in &pairs {
            let slot = &mut next[bucket(pair.1)];
            scattered[*slot] = pair;
            *slot += 1;
        }
        Partitioned { pairs: scattered, starts, groups: None }
    }

    fn bucket(&self, b: usize) -> &[(u32, i64)] {
        &self.pairs[self.starts[b]..self.starts[b + 1]]
    }
}

/// The (group, visitor) pairs of one view (or one funnel, a step being a group).
#[derive(Debug, Default)]
pub(crate) struct DistinctVisitors {
    /// Per group: the visitor of its last stored pair, so that a visitor's further
    /// visits in the same group (adjacent in a batch) are not stored again.
    last: Vec<Option<i64>>,
    /// Pairs not partitioned yet.
    pairs: Vec<(u32, i64)>,
    sealed: Vec<Partitioned>,
}

impl DistinctVisitors {
    /// Records that `visitor` counts in `group`.
    #[inline]
    pub fn add(&mut self, group: u32, visitor: i64) {
        let g = group as usize;
        if g >= self.last.len() {
            self.last.resize(g + 1, None);
        }
        if self.last[g] != Some(visitor) {
            self.last[g] = Some(visitor);
            self.pairs.push((group, visitor));
        }
    }

    /// Partitions the pairs recorded so far, on the calling thread (a scan thread at
    /// the end of its share). Pairs may still be added afterwards.
    pub fn seal(&mut self) {
        if !self.pairs.is_empty() {
            self.sealed.push(Partitioned::of(std::mem::take(&mut self.pairs)));
        }
    }

    /// Adds another scan's pairs; `groups` maps its group numbers to this one's.
    pub fn merge(&mut self, mut other: DistinctVisitors, groups: impl Fn(u32) -> u32) {
        other.seal();
        // Its group numbers: those it added, and those its own merges translated to.
        let merged = other.sealed.iter().filter_map(|p| p.groups.as_ref()).flatten().map(|&g| g as usize + 1).max();
        let table: Vec<u32> = (0..other.last.len().max(merged.unwrap_or(0)) as u32).map(groups).collect();
        for mut part in other.sealed {
            part.groups = Some(match part.groups {
                None => table.clone(),
                Some(theirs) => theirs.into_iter().map(|g| table[g as usize]).collect(),
            });
            self.sealed.push(part);
        }
    }

    /// Distinct visitors of each of the groups `0..groups`, exact. Buckets are
    /// independent, so with many pairs they are shared among up to `threads` threads
    /// (`on_thread` runs first on each spawned one, as for the scan threads).
    pub fn counts(mut self, groups: usize, threads: usize, on_thread: fn()) -> Vec<u64> {
        self.seal();
        let parts = self.sealed;
        let sizes: Vec<usize> = (0..BUCKETS).map(|b| parts.iter().map(|p| p.bucket(b).len()).sum()).collect();
        let total: usize = sizes.iter().sum();
        let threads = if total < MIN_PAIRS_PER_THREAD * 2 { 1 } else { threads };
        let shares = split_runs(&sizes, threads);
        let count_share = |share: Range<usize>| -> Vec<u64> {
            let mut counts = vec![0u64; groups];
            let mut set = BucketSet::with_room_for(sizes[share.clone()].iter().copied().max().unwrap_or(0));
            for b in share {
                set.clear();
                for part in &parts {
                    let pairs = part.bucket(b);
                    match &part.groups {
                        None => set.count(pairs.iter().copied(), &mut counts),
                        Some(table) => set.count(pairs.iter().map(|&(g, v)| (table[g as usize], v)), &mut counts),
                    }
                }
            }
            counts
        };
        let mut counts = run_shares(&shares, on_thread, count_share).into_iter();
        let mut total = counts.next().expect("at least one share");
        for theirs in counts {
            for (mine, theirs) in total.iter_mut().zip(theirs) {
                *mine += theirs;
            }
        }
        total
    }
}

/// A multiplicative hash of both halves of a pair, so that any visitor ids (random
/// or sequential) spread over buckets and slots.
fn mix((group, visitor): (u32, i64)) -> u64 {
    (visitor as u64 ^ u64::from(group).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The bucket of a visitor: the top bits of its hash, so that a visitor's pairs meet
/// in one bucket whatever their groups.
fn bucket(visitor: i64) -> usize {
    (mix((0, visitor)) >> (64 - BUCKET_BITS)) as usize
}

/// An open-addressing set of the pairs of one bucket, reused from bucket to bucket:
/// a slot belongs to the current bucket when its stamp is the bucket's, so clearing
/// is one increment.
struct BucketSet {
    slots: Vec<(u32, i64)>,
    stamps: Vec<u32>,
    stamp: u32,
}

impl BucketSet {
    /// A set with at most half its slots used by `pairs` pairs, so probes stay short.
    fn with_room_for(pairs: usize) -> BucketSet {
        let len = (2 * pairs).next_power_of_two();
        BucketSet { slots: vec![(0, 0); len], stamps: vec![0; len], stamp: 0 }
    }

    fn clear(&mut self) {
        self.stamp += 1;
    }

    /// Adds `pairs`, counting each new one in its group.
    fn count(&mut self, pairs: impl Iterator<Item = (u32, i64)>, counts: &mut [u64]) {
        for pair in pairs {
            if self.insert(pair) {
                counts[pair.0 as usize] += 1;
            }
        }
    }

    /// Adds `pair`; whether it was new.
    fn insert(&mut self, pair: (u32, i64)) -> bool {
        let mask = self.slots.len() - 1;
        // The low bits: within a bucket the top bits of the visitor's hash are alike.
        let mut slot = mix(pair) as usize & mask;
        loop {
            if self.stamps[slot] != self.stamp {
                self.stamps[slot] = self.stamp;
                self.slots[slot] = pair;
                return true;
            }
            if self.slots[slot] == pair {
                return false;
            }
            slot = (slot + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The definition: sort everything, drop repeats, count per group.
    fn naive(pairs: &[(u32, i64)], groups: usize) -> Vec<u64> {
        let mut pairs = pairs.to_vec();
        pairs.sort_unstable();
        pairs.dedup();
        let mut counts = vec![0; groups];
        for (group, _) in pairs {
            counts[group as usize] += 1;
        }
        counts
    }

    fn collect(pairs: &[(u32, i64)]) -> DistinctVisitors {
        let mut distinct = DistinctVisitors::default();
        for &(group, visitor) in pairs {
            distinct.add(group, visitor);
        }
        distinct
    }

    proptest! {
        #[test]
        fn counts_equal_the_definition(pairs in proptest::collection::vec((0u32..40, prop_oneof![0i64..50, any::<i64>()]), 0..5_000)) {
            prop_assert_eq!(collect(&pairs).counts(40, 1, || {}), naive(&pairs, 40));
        }

        #[test]
        fn merging_two_halves_counts_the_whole(pairs in proptest::collection::vec((0u32..8, 0i64..300), 0..3_000), cut in 0usize..3_000) {
            let cut = cut.min(pairs.len());
            // The other half numbers its groups backwards; merge maps them back.
            let theirs: Vec<(u32, i64)> = pairs[cut..].iter().map(|&(g, v)| (7 - g, v)).collect();
            let mut mine = collect(&pairs[..cut]);
            mine.merge(collect(&theirs), |g| 7 - g);
            prop_assert_eq!(mine.counts(8, 2, || {}), naive(&pairs, 8));
        }

        #[test]
        fn sealed_scans_merged_in_a_chain_count_the_whole(
            pairs in proptest::collection::vec((0u32..6, prop_oneof![0i64..200, any::<i64>()]), 0..3_000),
            cuts in (0usize..3_000, 0usize..3_000),
        ) {
            let (a, b) = (cuts.0.min(pairs.len()), cuts.1.min(pairs.len()));
            let (a, b) = (a.min(b), a.max(b));
            // Three scans numbering groups differently; the middle one takes in the last
            // (sealed, with more pairs added after sealing), then the first takes it in.
            let mut first = collect(&pairs[..a]);
            first.seal();
            let mut middle = collect(&pairs[a..b].iter().map(|&(g, v)| (5 - g, v)).collect::<Vec<_>>());
            let last = collect(&pairs[b..].iter().map(|&(g, v)| ((g + 2) % 6, v)).collect::<Vec<_>>());
            middle.merge(last, |g| 5 - (g + 4) % 6);
            middle.seal();
            middle.add(0, 7);
            first.merge(middle, |g| 5 - g);
            let mut expected = pairs.clone();
            expected.push((5, 7));
            prop_assert_eq!(first.counts(6, 2, || {}), naive(&expected, 6));
        }
    }

    #[test]
    fn large_inputs_use_buckets_and_stay_exact() {
        // Sequential visitor ids, each pair repeated in a later "batch".
        let pairs: Vec<(u32, i64)> = (0..200_000i64).map(|i| ((i % 7) as u32, i % 100_003)).collect();
        let expected = naive(&pairs, 7);
        for threads in [1, 2, 3] {
            assert_eq!(collect(&pairs).counts(7, threads, || {}), expected, "{threads} threads");
        }
    }

    #[test]
    fn extreme_visitor_ids_and_empty_groups() {
        let pairs = [(0, i64::MIN), (0, i64::MIN), (2, i64::MAX), (2, 0), (0, i64::MIN)];
        assert_eq!(collect(&pairs).counts(4, 2, || {}), vec![1, 0, 2, 0]);
        assert_eq!(DistinctVisitors::default().counts(2, 2, || {}), vec![0, 0]);
    }

    #[test]
    fn adjacent_repeats_are_not_stored_twice() {
        let distinct = collect(&[(1, 5), (1, 5), (0, 5), (1, 5), (1, 6), (1, 5)]);
        assert_eq!(distinct.pairs, [(1, 5), (0, 5), (1, 6), (1, 5)]);
    }
}
