//! Funnels: how many visitors went through ordered steps (goals) within one visit.
//!
//! A visit reaches step k when it has qualifying events e1 < e2 < ... < ek in time
//! order, each completing its step's goal; one event completes at most one step. Taking
//! the earliest event for each step in turn finds the deepest step reachable, so one
//! walk over a visit's rows decides it. A visitor counts for step k when any of their
//! visits in the range reached it.

use super::distinct::DistinctVisitors;
use super::kernel::Derived;

/// Visitors seen at each step so far (each step a group of their pairs).
#[derive(Debug, Default)]
pub(crate) struct FunnelState {
    steps: usize,
    reached: DistinctVisitors,
}

impl FunnelState {
    pub fn new(steps: usize) -> FunnelState {
        FunnelState { steps, reached: DistinctVisitors::default() }
    }

    /// Walks the complete visits of `derived`: `qualifies` masks the rows passing the
    /// query's filters, `steps[k]` the rows completing step k's goal.
    pub fn add(&mut self, derived: &Derived<'_>, qualifies: &[bool], steps: &[Vec<bool>]) {
        let visitor = &derived.batch().visitor;
        for (visit, rows) in derived.complete_visits() {
            let mut depth = 0;
            for r in rows.clone() {
                if depth == steps.len() {
                    break;
                }
                if qualifies[r] && steps[depth][r] {
                    depth += 1;
                }
            }
            for step in 0..depth {
                self.reached.add(step as u32, visitor[visit]);
            }
        }
    }

    /// Partitions the visitors recorded so far (see [`DistinctVisitors::seal`]).
    pub fn seal(&mut self) {
        self.reached.seal();
    }

    /// Adds the visitors another scan of the same funnel saw.
    pub fn merge(&mut self, other: FunnelState) {
        self.reached.merge(other.reached, |step| step);
    }

    /// Distinct visitors per step, exact, counted on up to `threads` threads.
    pub fn finish(self, threads: usize, on_thread: fn()) -> Vec<u64> {
        self.reached.counts(self.steps, threads, on_thread)
    }
}
