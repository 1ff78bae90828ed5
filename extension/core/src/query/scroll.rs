//! Scroll depth per group, as Plausible measures it: each visitor's deepest scroll
//! on the group's pages, averaged over the visitors that reported one. A maximum per
//! visitor does not add across batches (a visitor's visits fall in many), so the
//! deepest scroll is kept per (group, visitor) until the scan ends.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct ScrollDepths {
    deepest: HashMap<(u32, i64), i16>,
}

impl ScrollDepths {
    /// Notes that `visitor` scrolled `depth` percent on a page of `group`.
    pub fn record(&mut self, group: u32, visitor: i64, depth: i16) {
        let deepest = self.deepest.entry((group, visitor)).or_insert(depth);
        *deepest = (*deepest).max(depth);
    }

    /// Takes in `other`'s depths, whose groups `group_of` translates.
    pub fn merge(&mut self, other: ScrollDepths, group_of: impl Fn(u32) -> u32) {
        for ((group, visitor), depth) in other.deepest {
            self.record(group_of(group), visitor, depth);
        }
    }

    /// Per group (of `groups`): the sum of its visitors' deepest scrolls, and how many
    /// visitors reported one.
    pub fn sums(self, groups: usize) -> Vec<(u64, u64)> {
        let mut sums = vec![(0u64, 0u64); groups];
        for ((group, _), depth) in self.deepest {
            let (total, visitors) = &mut sums[group as usize];
            *total += depth as u64;
            *visitors += 1;
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitors_deepest_scroll_counts_once_per_group() {
        let mut a = ScrollDepths::default();
        a.record(0, 7, 40);
        a.record(0, 7, 90);
        a.record(0, 8, 10);
        a.record(1, 7, 20);
        let mut b = ScrollDepths::default();
        b.record(5, 7, 60);
        b.record(5, 9, 30);
        a.merge(b, |g| if g == 5 { 0 } else { g });
        assert_eq!(a.sums(3), vec![(90 + 10 + 30, 3), (20, 1), (0, 0)]);
    }
}
