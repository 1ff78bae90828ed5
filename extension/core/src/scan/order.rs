//! Rows in `ts` order without sorting everything: `ORDER BY ts [DESC] LIMIT n` over
//! segments. Each segment's time range is known before it is read (its catalog row, or
//! a hot chunk's zone map), so the sources are opened latest-ending first (earliest
//! starting first for ascending order), each opened segment's selected rows are sorted
//! by `ts`, and a row is handed out only when no segment still unopened can hold a row
//! that comes before it. A `LIMIT` above stops asking once it has its rows, so a query
//! for the latest rows of a site opens the site's last segments, not all of them.
//!
//! Memory: the rows of the opened segments not yet handed out, which is one segment's
//! rows plus those of the segments overlapping it in time.

use std::collections::BinaryHeap;

use crate::event::COLUMNS;

/// The index in [`COLUMNS`] of `ts`, the column a merge orders by.
pub fn ts_column() -> usize {
    COLUMNS.iter().position(|c| *c == "ts").expect("ts is an event column")
}

/// The order rows are handed out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    /// A key that is largest for the row (or segment edge) that comes first: the merge
    /// is a max-heap either way. `!ts` reverses the order without overflowing.
    fn key(self, ts: i64) -> i64 {
        match self {
            Direction::Descending => ts,
            Direction::Ascending => !ts,
        }
    }
}

/// What the scan does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Decode source `source` and pass its selected rows to [`TsMerge::opened`].
    Open(usize),
    /// Hand out row `row` of source `source`; `last` when it is the source's last row
    /// (its decoded columns may be dropped once the row is out).
    Emit { source: usize, row: u32, last: bool },
    /// Every row has been handed out.
    Done,
}

/// The selected rows of an opened source, in the order they are handed out.
#[derive(Debug)]
struct Opened {
    rows: Vec<u32>,
    keys: Vec<i64>,
    position: usize,
}

/// The merge of the sources' rows into `ts` order.
#[derive(Debug)]
pub struct TsMerge {
    direction: Direction,
    /// Sources not yet opened with the key of the earliest row they may hand out,
    /// sorted so that the next to open is last.
    unopened: Vec<(i64, usize)>,
    opened: Vec<Option<Opened>>,
    /// The next row of each opened source with rows left: (key, source).
    heads: BinaryHeap<(i64, usize)>,
    /// Rows of opened sources not yet handed out.
    held: usize,
}

impl TsMerge {
    /// A merge of the sources whose rows lie within the `(ts_min, ts_max)` ranges of
    /// `ranges` (index = source).
    pub fn new(ranges: &[(i64, i64)], direction: Direction) -> Self {
        let mut unopened: Vec<(i64, usize)> = ranges
            .iter()
            .enumerate()
            .map(|(source, &(min, max))| {
                let edge = match direction {
                    Direction::Descending => max,
                    Direction::Ascending => min,
                };
                (direction.key(edge), source)
            })
            .collect();
        // Ascending by key, so the largest key (the next to open) is popped first; ties
        // by source for a stable order.
        unopened.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        Self { direction, unopened, opened: (0..ranges.len()).map(|_| None).collect(), heads: BinaryHeap::new(), held: 0 }
    }

    /// What to do next: open a source while one may hold a row that comes before every
    /// row already opened, hand out the first opened row otherwise.
    pub fn step(&mut self) -> Step {
        let next_open = self.unopened.last().map(|&(key, source)| (key, source));
        match (self.heads.peek().copied(), next_open) {
            (None, None) => Step::Done,
            (Some((head, _)), Some((edge, source))) if edge > head => Step::Open(source),
            (None, Some((_, source))) => Step::Open(source),
            (Some((_, source)), _) => {
                self.heads.pop();
                let opened = self.opened[source].as_mut().expect("a head belongs to an opened source");
                let row = opened.rows[opened.position];
                opened.position += 1;
                self.held -= 1;
                let last = opened.position == opened.rows.len();
                if last {
                    self.opened[source] = None;
                } else {
                    self.heads.push((opened.keys[opened.position], source));
                }
                Step::Emit { source, row, last }
            }
        }
    }

    /// The rows `rows` (storage order) that source `source` selected, with `ts[row]` the
    /// time of each; called after [`Step::Open`] of that source.
    pub fn opened(&mut self, source: usize, rows: &[u32], ts: &[i64]) {
        let position = self.unopened.iter().rposition(|&(_, s)| s == source).expect("opened a source not yet opened");
        self.unopened.remove(position);
        if rows.is_empty() {
            return;
        }
        let direction = self.direction;
        let mut keyed: Vec<(i64, u32)> = rows.iter().map(|&row| (direction.key(ts[row as usize]), row)).collect();
        // Largest key first; equal times keep storage order.
        keyed.sort_by_key(|&(key, _)| std::cmp::Reverse(key));
        let (keys, rows): (Vec<i64>, Vec<u32>) = keyed.into_iter().unzip();
        self.heads.push((keys[0], source));
        self.held += rows.len();
        self.opened[source] = Some(Opened { rows, keys, position: 0 });
    }

    /// Rows opened and not yet handed out.
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a merge over sources given as their rows' times; the times handed out and
    /// how many sources were opened before the first `take` rows were out.
    fn run(sources: &[Vec<i64>], direction: Direction, take: usize) -> (Vec<i64>, usize) {
        let ranges: Vec<(i64, i64)> =
            sources.iter().map(|ts| (ts.iter().copied().min().unwrap_or(0), ts.iter().copied().max().unwrap_or(0))).collect();
        let mut merge = TsMerge::new(&ranges, direction);
        let (mut out, mut opened) = (Vec::new(), 0);
        while out.len() < take {
            match merge.step() {
                Step::Open(s) => {
                    opened += 1;
                    // Every other row selected, as a filter would.
                    let rows: Vec<u32> = (0..sources[s].len() as u32).filter(|r| r % 2 == 0).collect();
                    merge.opened(s, &rows, &sources[s]);
                }
                Step::Emit { source, row, .. } => out.push(sources[source][row as usize]),
                Step::Done => break,
            }
        }
        (out, opened)
    }

    fn all(sources: &[Vec<i64>]) -> Vec<i64> {
        sources.iter().flat_map(|ts| ts.iter().step_by(2).copied()).collect()
    }

    #[test]
    fn overlapping_sources_merge_in_order() {
        let sources = vec![vec![5, 1, 9, 3, 7], vec![2, 8, 4, 6], vec![], vec![10, 0, 10], vec![6, 6, 6]];
        let mut want = all(&sources);
        want.sort_unstable();
        assert_eq!(run(&sources, Direction::Ascending, usize::MAX).0, want);
        want.reverse();
        assert_eq!(run(&sources, Direction::Descending, usize::MAX).0, want);
    }

    #[test]
    fn a_limit_opens_only_the_sources_it_needs() {
        // Ten days, one source each, out of order; the last two hold the latest rows.
        let sources: Vec<Vec<i64>> = (0..10).map(|d| (0..100).map(|i| ((d * 7) % 10) * 1000 + i * 3 % 100).collect()).collect();
        let mut want = all(&sources);
        want.sort_unstable_by(|a, b| b.cmp(a));
        let (latest, opened) = run(&sources, Direction::Descending, 40);
        assert_eq!(latest, want[..40]);
        assert_eq!(opened, 1, "the latest day's source holds 50 selected rows");
        let (latest, opened) = run(&sources, Direction::Descending, 60);
        assert_eq!(latest, want[..60]);
        assert_eq!(opened, 2);
        want.reverse();
        let (earliest, opened) = run(&sources, Direction::Ascending, 40);
        assert_eq!(earliest, want[..40]);
        assert_eq!(opened, 1);
    }

    #[test]
    fn extreme_times_keep_their_order() {
        let sources = vec![vec![i64::MIN, 0], vec![i64::MAX, -1]];
        assert_eq!(run(&sources, Direction::Ascending, usize::MAX).0, vec![i64::MIN, i64::MAX]);
        assert_eq!(run(&sources, Direction::Descending, usize::MAX).0, vec![i64::MAX, i64::MIN]);
    }

    #[test]
    fn held_rows_are_counted_until_handed_out() {
        let mut merge = TsMerge::new(&[(1, 3), (2, 2)], Direction::Ascending);
        assert_eq!(merge.step(), Step::Open(0));
        merge.opened(0, &[0, 1, 2], &[3, 1, 2]);
        assert_eq!(merge.held(), 3);
        assert_eq!(merge.step(), Step::Emit { source: 0, row: 1, last: false });
        // Source 1 starts at 2: a row at 2 may be handed out before opening it.
        assert_eq!(merge.step(), Step::Emit { source: 0, row: 2, last: false });
        assert_eq!(merge.step(), Step::Open(1));
        merge.opened(1, &[0], &[2]);
        assert_eq!(merge.held(), 2);
        assert_eq!(merge.step(), Step::Emit { source: 1, row: 0, last: true });
        assert_eq!(merge.step(), Step::Emit { source: 0, row: 0, last: true });
        assert_eq!(merge.held(), 0);
        assert_eq!(merge.step(), Step::Done);
    }
}
