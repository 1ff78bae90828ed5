//! Which visits of a batch are complete within it.
//!
//! A visit ends after [`VISIT_GAP_US`] without events (the gateway's rule), so two
//! consecutive events of one visit are never further apart. A visit whose events in
//! batch A span [f, l] can therefore have events in batch B only if B's time range comes
//! within the gap of [f, l]. Visits far from every other batch are complete and are
//! aggregated where they are; the rest (around day boundaries, today's small segments,
//! hot rows) are gathered from all batches and aggregated once, whole.

/// Inactivity that ends a visit: 30 minutes, as in the gateway's session tracker.
pub const VISIT_GAP_US: i64 = 30 * 60 * 1_000_000;

/// The parts of one batch's time range no other batch comes near.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    free: Vec<(i64, i64)>,
}

impl Window {
    /// The window of batch `index` among batches with time ranges `zones` (inclusive).
    pub fn of(index: usize, zones: &[(i64, i64)]) -> Window {
        let (lo, hi) = zones[index];
        let mut taken: Vec<(i64, i64)> = zones
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != index)
            .map(|(_, &(min, max))| (min.saturating_sub(VISIT_GAP_US), max.saturating_add(VISIT_GAP_US)))
            .filter(|&(a, b)| b >= lo && a <= hi)
            .collect();
        taken.sort_unstable();
        let mut free = Vec::new();
        let mut start = lo;
        for (a, b) in taken {
            if a > start {
                free.push((start, a - 1));
            }
            start = start.max(b.saturating_add(1));
        }
        if start <= hi {
            free.push((start, hi));
        }
        Window { free }
    }

    /// Whether a visit spanning [first, last] in this batch has no events elsewhere.
    pub fn complete(&self, first: i64, last: i64) -> bool {
        self.free.iter().any(|&(a, b)| a <= first && last <= b)
    }

    /// Every visit complete: the gathered batch of visits from everywhere.
    pub fn everything() -> Window {
        Window { free: vec![(i64::MIN, i64::MAX)] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    #[test]
    fn visits_near_other_batches_are_open() {
        // Two days, and a small batch late on day 2.
        let zones = [(0, 24 * H - 1), (24 * H, 48 * H - 1), (47 * H, 47 * H + 10)];
        let day1 = Window::of(0, &zones);
        assert!(day1.complete(0, 23 * H));
        assert!(!day1.complete(23 * H, 23 * H + 40 * 60_000_000), "within 30 minutes of day 2");
        let day2 = Window::of(1, &zones);
        assert!(!day2.complete(24 * H, 24 * H + 1));
        assert!(day2.complete(25 * H, 46 * H));
        assert!(!day2.complete(46 * H, 47 * H - 1), "near the small batch");
        assert!(Window::of(2, &zones).free.is_empty());
        assert!(Window::everything().complete(i64::MIN, i64::MAX));
    }
}
