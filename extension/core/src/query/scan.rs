//! One pass over the batches of a time range: decode what the plan needs, filter on
//! codes, aggregate complete visits in place, gather the rest and aggregate them last.

use crate::segment::{SegmentError, SegmentReader};

use super::batch::Batch;
use super::funnel::FunnelState;
use super::intern::Interner;
use super::kernel::{Acc, Derived, ViewState, ENGAGEMENT, PAGEVIEW};
use super::plan::{Key, Plan, NAME};
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
        for (view, state) in plan.views.iter().zip(&mut self.states) {
            let mask = match &view.filter {
                Some(expr) => derived.eval(plan, expr, &self.memos),
                None => vec![true; batch.rows()],
            };
            if view.keys.contains(&Key::Goal) {
                for (goal, expr) in plan.goal_exprs.iter().enumerate() {
                    let completes = derived.eval(plan, expr, &self.memos);
                    let both: Vec<bool> = mask.iter().zip(completes).map(|(&a, b)| a && b).collect();
                    derived.accumulate(view, state, &both, goal as u32);
                }
            } else {
                derived.accumulate(view, state, &mask, 0);
            }
        }
        if !plan.funnel.is_empty() {
            let qualifies = match &plan.views[0].filter {
                Some(expr) => derived.eval(plan, expr, &self.memos),
                None => vec![true; batch.rows()],
            };
            let steps: Vec<Vec<bool>> = plan.funnel.iter().map(|&g| derived.eval(plan, &plan.goal_exprs[g], &self.memos)).collect();
            self.funnel.add(&derived, &qualifies, &steps);
        }
        for rows in derived.open_visits() {
            self.gathered.append(batch, rows);
        }
    }

    /// Aggregates the gathered visits and returns every view's groups.
    pub fn finish(mut self) -> Answer {
        let mut gathered = std::mem::replace(&mut self.gathered, Batch::empty(self.plan));
        gathered.sort_visits();
        self.process(&gathered, &Window::everything());
        let plan = self.plan;
        let views = plan
            .views
            .iter()
            .zip(&mut self.states)
            .map(|(view, state)| {
                let visitors = state.distinct_visitors();
                state
                    .keys
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
        Answer { views, funnel: std::mem::take(&mut self.funnel).finish() }
    }
}
