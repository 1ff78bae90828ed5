//! A dense run of bucket counters with a bounded length: when the indices span more
//! than `MAX_BUCKETS`, the lowest ones fold into the lowest kept bucket. The fold
//! point depends only on the highest index ever seen, so the result is the same
//! whatever order values and merges arrive in.

/// Most buckets a store keeps: 2048 at 1% accuracy span 1 to e^40, which covers any
/// duration in milliseconds without ever folding.
pub const MAX_BUCKETS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Store {
    /// Index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
}

impl Store {
    pub fn from_parts(offset: i32, counts: Vec<u64>) -> Store {
        let mut s = Store { offset, counts };
        s.trim();
        s
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The total, or `None` if it overflows (only crafted bytes get there).
    pub fn checked_total(&self) -> Option<u64> {
        self.counts.iter().try_fold(0u64, |acc, &c| acc.checked_add(c))
    }

    /// (index, count) of every non-empty bucket, lowest index first.
    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, &c)| c > 0).map(move |(k, &c)| (self.offset + k as i32, c))
    }

    pub fn add(&mut self, index: i32, count: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(count);
            return;
        }
        let hi = self.offset + self.counts.len() as i32 - 1;
        let new_hi = hi.max(index);
        // Everything below `floor` folds into it.
        let floor = new_hi - MAX_BUCKETS as i32 + 1;
        let index = index.max(floor);
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        } else if index > hi {
            self.counts.resize((index - self.offset + 1) as usize, 0);
        }
        self.counts[(index - self.offset) as usize] += count;
        if self.offset < floor {
            let cut = (floor - self.offset) as usize;
            let folded: u64 = self.counts.drain(..cut).sum();
            self.counts[0] += folded;
            self.offset = floor;
        }
    }

    pub fn merge(&mut self, other: &Store) {
        for (i, c) in other.buckets() {
            self.add(i, c);
        }
    }

    /// Drops empty buckets at both ends so equal contents have equal layouts.
    fn trim(&mut self) {
        let lead = self.counts.iter().take_while(|&&c| c == 0).count();
        self.counts.drain(..lead);
        self.offset += lead as i32;
        while self.counts.last() == Some(&0) {
            self.counts.pop();
        }
        if self.counts.is_empty() {
            self.offset = 0;
        }
    }
}
