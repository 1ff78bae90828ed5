//! Zone-map pruning: the sites and the time range a query's `site_id` and `ts`
//! predicates leave open, tested against a segment's catalog row.

/// What a scan's predicates on `site_id` and `ts` allow; `None` leaves a side open.
/// Predicates intersect: `site_id IN (1, 2) AND site_id = 2` allows site 2 only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    /// The sites allowed, sorted and without repeats.
    sites: Option<Vec<i32>>,
    /// Smallest `ts` allowed (µs since the Unix epoch, inclusive).
    ts_from: Option<i64>,
    /// Largest `ts` allowed (inclusive).
    ts_to: Option<i64>,
}

impl Bounds {
    /// Allows only the sites of `sites` (an `=` or `IN` on `site_id`). NULL elements
    /// match no row, so the caller leaves them out.
    pub fn restrict_sites(&mut self, sites: impl IntoIterator<Item = i32>) {
        let mut new: Vec<i32> = sites.into_iter().collect();
        new.sort_unstable();
        new.dedup();
        if let Some(old) = &self.sites {
            new.retain(|s| old.binary_search(s).is_ok());
        }
        self.sites = Some(new);
    }

    /// `ts >= from`.
    pub fn ts_at_least(&mut self, from: i64) {
        self.ts_from = Some(self.ts_from.map_or(from, |f| f.max(from)));
    }

    /// `ts > after`.
    pub fn ts_after(&mut self, after: i64) {
        match after.checked_add(1) {
            Some(from) => self.ts_at_least(from),
            None => self.nothing(),
        }
    }

    /// `ts <= to`.
    pub fn ts_at_most(&mut self, to: i64) {
        self.ts_to = Some(self.ts_to.map_or(to, |t| t.min(to)));
    }

    /// `ts < before`.
    pub fn ts_before(&mut self, before: i64) {
        match before.checked_sub(1) {
            Some(to) => self.ts_at_most(to),
            None => self.nothing(),
        }
    }

    /// A predicate no row passes (a comparison with NULL, an empty `IN` list).
    pub fn nothing(&mut self) {
        self.sites = Some(Vec::new());
    }

    /// The sites allowed, `None` for every site.
    pub fn sites(&self) -> Option<&[i32]> {
        self.sites.as_deref()
    }

    /// The inclusive time range allowed, each side `None` when open.
    pub fn ts_range(&self) -> (Option<i64>, Option<i64>) {
        (self.ts_from, self.ts_to)
    }

    /// True when no row can pass.
    pub fn is_empty(&self) -> bool {
        self.sites.as_ref().is_some_and(Vec::is_empty) || matches!((self.ts_from, self.ts_to), (Some(from), Some(to)) if from > to)
    }

    /// Whether a segment of `site` with rows in `[ts_min, ts_max]` may hold a row
    /// these bounds allow.
    pub fn admits(&self, site: i32, ts_min: i64, ts_max: i64) -> bool {
        !self.is_empty()
            && self.sites.as_ref().is_none_or(|s| s.binary_search(&site).is_ok())
            && self.ts_from.is_none_or(|from| ts_max >= from)
            && self.ts_to.is_none_or(|to| ts_min <= to)
    }

    /// Whether a row at `ts` is inside the time range.
    pub fn admits_ts(&self, ts: i64) -> bool {
        self.ts_from.is_none_or(|from| ts >= from) && self.ts_to.is_none_or(|to| ts <= to)
    }

    /// True when the time range is bounded on some side, so rows are worth testing.
    pub fn cuts_time(&self) -> bool {
        self.ts_from.is_some() || self.ts_to.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_bounds_admit_everything() {
        let b = Bounds::default();
        assert!(b.admits(7, i64::MIN, i64::MAX));
        assert!(!b.is_empty());
        assert!(!b.cuts_time());
    }

    #[test]
    fn sites_intersect() {
        let mut b = Bounds::default();
        b.restrict_sites([3, 1, 2, 3]);
        assert_eq!(b.sites(), Some(&[1, 2, 3][..]));
        b.restrict_sites([2, 9]);
        assert_eq!(b.sites(), Some(&[2][..]));
        assert!(b.admits(2, 0, 10));
        assert!(!b.admits(1, 0, 10));
        b.restrict_sites([1]);
        assert!(b.is_empty());
        assert!(!b.admits(1, 0, 10));
    }

    #[test]
    fn time_bounds_cut_segments_at_their_edges() {
        let mut b = Bounds::default();
        b.ts_at_least(100);
        b.ts_before(200);
        assert_eq!(b.ts_range(), (Some(100), Some(199)));
        assert!(b.admits(1, 50, 100), "a segment ending at the lower bound holds a row at it");
        assert!(!b.admits(1, 50, 99));
        assert!(b.admits(1, 199, 300));
        assert!(!b.admits(1, 200, 300), "ts < 200 excludes a segment starting at 200");
        b.ts_after(150);
        b.ts_at_most(180);
        assert_eq!(b.ts_range(), (Some(151), Some(180)));
        assert!(b.admits_ts(151) && b.admits_ts(180) && !b.admits_ts(150) && !b.admits_ts(181));
        b.ts_at_least(181);
        assert!(b.is_empty());
    }

    #[test]
    fn overflowing_strict_bounds_allow_nothing() {
        let mut b = Bounds::default();
        b.ts_after(i64::MAX);
        assert!(b.is_empty());
        let mut b = Bounds::default();
        b.ts_before(i64::MIN);
        assert!(b.is_empty());
    }
}
