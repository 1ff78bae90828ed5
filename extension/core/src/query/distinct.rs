//! Exact distinct visitors per group: the `visitors` metric of a full scan.
//!
//! A scan records a (group, visitor) pair for every visit counted in a group, and the
//! answer is the number of distinct pairs per group. Two things keep that cheap:
//! - rows are sorted by visitor within a batch, so a visitor's visits arrive one after
//!   the other: remembering each group's last visitor drops the repeats of a batch
//!   before they are stored;
//! - the repeats left (a visitor seen in several batches or threads) are removed by
//!   partitioning the pairs on a hash into buckets small enough to stay in cache, then
//!   deduplicating each bucket in a small hash set, instead of sorting millions of
//!   pairs at once (which cost a sixth of a top-pages scan) or probing one set too big
//!   for any cache.

use std::ops::Range;

use super::split::{run_shares, split_runs};

/// Pairs per bucket the partition aims at: the set of a bucket of 16-byte pairs (twice
/// as many slots, plus stamps) then stays within a core's L1/L2 cache.
const BUCKET_PAIRS: usize = 1024;

/// Fewer pairs than this per thread are counted on one thread: starting a thread costs
/// about what counting this many pairs does.
const MIN_PAIRS_PER_THREAD: usize = 1 << 16;

/// At most 2^12 buckets: beyond that, scattering into the buckets thrashes the TLB.
const MAX_BUCKET_BITS: u32 = 12;

/// The (group, visitor) pairs of one view (or one funnel, a step being a group).
#[derive(Debug, Default)]
pub(crate) struct DistinctVisitors {
    /// Per group: the visitor of its last stored pair, so that a visitor's further
    /// visits in the same group (adjacent in a batch) are not stored again.
    last: Vec<Option<i64>>,
    pairs: Vec<(u32, i64)>,
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

    /// Adds another scan's pairs; `groups` maps its group numbers to this one's.
    pub fn merge(&mut self, other: DistinctVisitors, groups: impl Fn(u32) -> u32) {
        self.pairs.extend(other.pairs.into_iter().map(|(group, visitor)| (groups(group), visitor)));
    }

    /// Distinct visitors of each of the groups `0..groups`, exact. Buckets are
    /// independent, so with many pairs they are shared among up to `threads` threads
    /// (`on_thread` runs first on each spawned one, as for the scan threads).
    pub fn counts(self, groups: usize, threads: usize, on_thread: fn()) -> Vec<u64> {
        let pairs = self.pairs;
        let bits = bucket_bits(pairs.len());
        let mut starts = vec![0usize; (1 << bits) + 1];
        for &pair in &pairs {
            starts[bucket(mix(pair), bits) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut scattered = vec![(0u32, 0i64); pairs.len()];
        for &pair in &pairs {
            let slot = &mut next[bucket(mix(pair), bits)];
            scattered[*slot] = pair;
            *slot += 1;
        }
        drop(pairs);
        let sizes: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let threads = if scattered.len() < MIN_PAIRS_PER_THREAD * 2 { 1 } else { threads };
        let shares = split_runs(&sizes, threads);
        // The counts of the buckets in `share` (their pairs lie in `scattered` from
        // `starts[share.start]` to `starts[share.end]`).
        let count_share = |share: Range<usize>| -> Vec<u64> {
            let mut counts = vec![0u64; groups];
            let mut set = BucketSet::with_room_for(sizes[share.clone()].iter().copied().max().unwrap_or(0));
            for b in share {
                set.clear();
                for &pair in &scattered[starts[b]..starts[b + 1]] {
                    if set.insert(pair) {
                        counts[pair.0 as usize] += 1;
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

/// log2 of the bucket count for `pairs` pairs: 0 (one bucket) when they fit one.
fn bucket_bits(pairs: usize) -> u32 {
    let buckets = pairs / BUCKET_PAIRS;
    if buckets < 2 {
        0
    } else {
        buckets.ilog2().min(MAX_BUCKET_BITS)
    }
}

/// A multiplicative hash of both halves of a pair, so that any visitor ids (random
/// or sequential) spread over buckets and slots.
fn mix((group, visitor): (u32, i64)) -> u64 {
    (visitor as u64 ^ u64::from(group).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The bucket of a pair's hash: its top `bits` bits, so equal pairs meet in one bucket.
fn bucket(hash: u64, bits: u32) -> usize {
    hash.checked_shr(64 - bits).unwrap_or(0) as usize
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

    /// Adds `pair`; whether it was new.
    fn insert(&mut self, pair: (u32, i64)) -> bool {
        let mask = self.slots.len() - 1;
        // The low bits: within a bucket the top bits are all alike.
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
    }

    #[test]
    fn large_inputs_use_buckets_and_stay_exact() {
        // Sequential visitor ids, each pair repeated in a later "batch".
        let pairs: Vec<(u32, i64)> = (0..200_000i64).map(|i| ((i % 7) as u32, i % 100_003)).collect();
        assert_eq!(bucket_bits(pairs.len()), 7);
        let expected = naive(&pairs, 7);
        for threads in [1, 2, 3] {
            assert_eq!(collect(&pairs).counts(7, threads, || {}), expected, "{threads} threads");
        }
        assert_eq!(bucket_bits(BUCKET_PAIRS << 20), MAX_BUCKET_BITS);
        assert_eq!(bucket_bits(BUCKET_PAIRS), 0);
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
