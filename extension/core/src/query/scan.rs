//! One pass over the batches of a time range: decode what the plan needs, filter on
//! codes, aggregate complete visits in place, gather the rest and aggregate them last.

use crate::segment::{SegmentError, SegmentReader};

use super::batch::Batch;
use super::funnel::FunnelState;
use super::intern::Interner;
use super::kernel::{Acc, Derived, ViewState, ENGAGEMENT, PAGEVIEW};
use super::plan::{Key, Plan, NAME};
use super::split::{run_shares, split_runs};
use super::window::Window;

/// The instants a query covers, µs since the epoch: `from <= ts < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_us: i64,
    pub to_us: i64,
}

/// A group's key component, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Text(Option<String>),
    /// Index of the time bucket.
    Bucket(u32),
    /// Index of the goal.
    Goal(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: Vec<KeyValue>,
    pub acc: Acc,
    pub visitors: u64,
}

/// Groups of every view of the plan, in view order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub views: Vec<Vec<Group>>,
    /// Distinct visitors reaching each funnel step; empty without a funnel.
    pub funnel: Vec<u64>,
}

pub struct Scan<'p> {
    plan: &'p Plan,
    range: TimeRange,
    bucket_starts: Option<Vec<i64>>,
    zones: Vec<(i64, i64)>,
    interners: Vec<Interner>,
    /// Per filter leaf: its result for each code of its source so far.
    memos: Vec<Vec<bool>>,
    gathered: Batch,
    states: Vec<ViewState>,
    funnel: FunnelState,
}

impl<'p> Scan<'p> {
    /// A scan of `range` over batches whose time ranges (min, max, inclusive) are
    /// `zones`, fed to [`Scan::add`] by index. `bucket_starts` (sorted, the first at or
    /// before `range.from_us`) are the time buckets of a `time:*` dimension.
    pub fn new(plan: &'p Plan, range: TimeRange, bucket_starts: Option<Vec<i64>>, zones: Vec<(i64, i64)>) -> Scan<'p> {
        let mut interners: Vec<Interner> = plan.sources.iter().map(|_| Interner::default()).collect();
        assert_eq!(interners[NAME].intern("pageview"), PAGEVIEW);
        assert_eq!(interners[NAME].intern("engagement"), ENGAGEMENT);
        Scan {
            plan,
            range,
            bucket_starts,
            zones,
            interners,
            memos: plan.leaves.iter().map(|_| Vec::new()).collect(),
            gathered: Batch::empty(plan),
            states: plan.views.iter().map(|_| ViewState::default()).collect(),
            funnel: FunnelState::new(plan.funnel.len()),
        }
    }

    /// Scans the batch `index` of the zones given to [`Scan::new`].
    pub fn add(&mut self, index: usize, reader: &SegmentReader<'_>) -> Result<(), SegmentError> {
        let mut batch = Batch::decode(reader, self.plan, &mut self.interners)?;
        batch.restrict(self.range.from_us, self.range.to_us);
        self.process(&batch, &Window::of(index, &self.zones));
        Ok(())
    }

    fn process(&mut self, batch: &Batch, window: &Window) {
        let plan = self.plan;
        for (leaf, memo) in plan.leaves.iter().zip(&mut self.memos) {
            let interner = &self.interners[plan.operands[leaf.operand].source];
            for code in memo.len()..interner.len() {
                memo.push(leaf.test.matches(interner.value(code as u32)));
            }
        }
        let derived = Derived::new(plan, batch, window, self.bucket_starts.as_deref());
        // The query view's rows (view 0): the qualifying events a funnel walks.
        let mut qualifying = Vec::new();
        for (index, (view, state)) in plan.views.iter().zip(&mut self.states).enumerate() {
            let (mask, per_visit) = match &view.filter {
                Some(expr) => (derived.eval(plan, expr, &self.memos), derived.per_visit_expr(plan, expr)),
                None => (vec![true; batch.rows()], true),
            };
            if view.keys.contains(&Key::Goal) {
                for (goal, expr) in plan.goal_exprs.iter().enumerate() {
                    let completes = derived.eval(plan, expr, &self.memos);
                    let both: Vec<bool> = mask.iter().zip(completes).map(|(&a, b)| a && b).collect();
                    let per_visit = per_visit && derived.per_visit_expr(plan, expr);
                    derived.accumulate(plan, view, state, &both, goal as u32, per_visit);
                }
            } else {
                derived.accumulate(plan, view, state, &mask, 0, per_visit);
            }
            if index == 0 {
                qualifying = mask;
            }
        }
        if !plan.funnel.is_empty() {
            let steps: Vec<Vec<bool>> = plan.funnel.iter().map(|&g| derived.eval(plan, &plan.goal_exprs[g], &self.memos)).collect();
            self.funnel.add(&derived, &qualifying, &steps);
        }
        for (visit, rows) in derived.open_visits() {
            self.gathered.append(batch, visit, rows);
        }
    }

    /// Ends this thread's share of the work: partitions the distinct-visitor pairs
    /// here, on the thread that recorded them, rather than on the one that merges.
    fn seal(&mut self) {
        self.states.iter_mut().for_each(ViewState::seal);
        self.funnel.seal();
    }

    /// Takes in a scan of the same plan, range and zones over other batches (another
    /// thread's share): its strings are interned here, its groups and visitors added,
    /// and its open visits gathered with this scan's, to be aggregated whole by
    /// [`Scan::finish`] like any visit seen in several batches.
    pub fn merge(&mut self, mut other: Scan<'p>) {
        let plan = self.plan;
        // Per source, the code here of each of `other`'s codes (NULL stays NULL).
        let tables: Vec<Vec<u32>> = self
            .interners
            .iter_mut()
            .zip(&other.interners)
            .map(|(mine, theirs)| {
                (0..theirs.len() as u32).map(|code| theirs.value(code).map_or(crate::codec::dict::NULL_CODE, |v| mine.intern(v))).collect()
            })
            .collect();
        for (source, table) in tables.iter().enumerate() {
            other.gathered.recode(source, table);
        }
        for (visit, rows) in other.gathered.visits() {
            self.gathered.append(&other.gathered, visit, rows);
        }
        for ((view, mine), theirs) in plan.views.iter().zip(&mut self.states).zip(other.states) {
            mine.merge(theirs, |key| {
                view.keys.iter().enumerate().fold(0u128, |out, (i, k)| {
                    let part = (key >> (32 * i)) as u32;
                    let part = match k {
                        Key::Operand(o) => tables[plan.operands[*o].source][part as usize],
                        Key::Bucket | Key::Goal => part,
                    };
                    out | (u128::from(part) << (32 * i))
                })
            });
        }
        self.funnel.merge(other.funnel);
    }

    /// Aggregates the gathered visits and returns every view's groups; distinct
    /// visitors are counted on up to `threads` threads (see [`scan_all`]).
    pub fn finish(mut self, threads: usize, on_thread: fn()) -> Answer {
        let mut gathered = std::mem::replace(&mut self.gathered, Batch::empty(self.plan));
        gathered.sort_visits();
        self.process(&gathered, &Window::everything());
        let plan = self.plan;
        let views = plan
            .views
            .iter()
            .zip(&mut self.states)
            .map(|(view, state)| {
                let visitors = state.distinct_visitors(threads, on_thread);
                state
                    .keys()
                    .iter()
                    .zip(&state.accs)
                    .zip(visitors)
                    .map(|((&key, &acc), visitors)| {
                        let key = view
                            .keys
                            .iter()
                            .enumerate()
                            .map(|(i, k)| {
                                let part = (key >> (32 * i)) as u32;
                                match k {
                                    Key::Operand(o) => {
                                        KeyValue::Text(self.interners[plan.operands[*o].source].value(part).map(str::to_owned))
                                    }
                                    Key::Bucket => KeyValue::Bucket(part),
                                    Key::Goal => KeyValue::Goal(part),
                                }
                            })
                            .collect();
                        Group { key, acc, visitors }
                    })
                    .collect()
            })
            .collect();
        Answer { views, funnel: std::mem::take(&mut self.funnel).finish(threads, on_thread) }
    }
}

/// Scans `batches` (the encoded batches of `zones`, by index) on up to `threads`
/// threads, each taking a run of consecutive batches of about equal size, then merges
/// their scans. `on_thread` runs first on every spawned thread (Postgres blocks signals
/// there). A batch that cannot be decoded is returned with its index.
pub fn scan_all(
    plan: &Plan,
    range: TimeRange,
    bucket_starts: Option<Vec<i64>>,
    zones: Vec<(i64, i64)>,
    batches: &[&[u8]],
    threads: usize,
    on_thread: fn(),
) -> Result<Answer, (usize, SegmentError)> {
    let scan_run = |run: std::ops::Range<usize>| -> Result<Scan<'_>, (usize, SegmentError)> {
        let mut scan = Scan::new(plan, range, bucket_starts.clone(), zones.clone());
        for i in run {
            SegmentReader::open(batches[i]).and_then(|reader| scan.add(i, &reader)).map_err(|e| (i, e))?;
        }
        scan.seal();
        Ok(scan)
    };
    let sizes: Vec<usize> = batches.iter().map(|b| b.len()).collect();
    let mut scans = run_shares(&split_runs(&sizes, threads), on_thread, scan_run).into_iter();
    let mut first = scans.next().expect("at least one run")?;
    for scan in scans {
        first.merge(scan?);
    }
    Ok(first.finish(threads, on_thread))
}
