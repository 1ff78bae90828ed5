//! Funnels: how many visitors went through ordered steps (goals) within one visit.
//!
//! A visit reaches step k when it has qualifying events e1 < e2 < ... < ek in time
//! order, each completing its step's goal; one event completes at most one step. Taking
//! the earliest event for each step in turn finds the deepest step reachable, so one
//! walk over a visit's rows decides it. A visitor counts for step k when any of their
//! visits in the range reached it.

use super::kernel::Derived;

/// Visitors seen at each step so far (one list per step, deduplicated at the end).
#[derive(Debug, Default)]
pub(crate) struct FunnelState {
    reached: Vec<Vec<i64>>,
}

impl FunnelState {
    pub fn new(steps: usize) -> FunnelState {
        FunnelState { reached: vec![Vec::new(); steps] }
    }

    /// Walks the complete visits of `derived`: `qualifies` masks the rows passing the
    /// query's filters, `steps[k]` the rows completing step k's goal.
    pub fn add(&mut self, derived: &Derived<'_>, qualifies: &[bool], steps: &[Vec<bool>]) {
        let visitor = &derived.batch().visitor;
        for rows in derived.complete_visits() {
            let mut depth = 0;
            for r in rows.clone() {
                if depth == steps.len() {
                    break;
                }
                if qualifies[r] && steps[depth][r] {
                    depth += 1;
                }
            }
            for reached in &mut self.reached[..depth] {
                if reached.last() != Some(&visitor[rows.start]) {
                    reached.push(visitor[rows.start]);
                }
            }
        }
    }

    /// Adds the visitors another scan of the same funnel saw.
    pub fn merge(&mut self, other: FunnelState) {
        for (mine, theirs) in self.reached.iter_mut().zip(other.reached) {
            mine.extend(theirs);
        }
    }

    /// Distinct visitors per step, exact.
    pub fn finish(self) -> Vec<u64> {
        self.reached
            .into_iter()
            .map(|mut visitors| {
                visitors.sort_unstable();
                visitors.dedup();
                visitors.len() as u64
            })
            .collect()
    }
}
