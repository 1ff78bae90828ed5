//! Daily rollups (`tally.rollups_daily`): per UTC day, the sums of the day's hourly
//! rows. They exist to be read in place of 24 hourly rows per value: a 30-day
//! breakdown by page of the bench's 3.1M-event site reads about 470k hourly rows, a
//! tenth as many daily ones. A day's rows stand for its hourly rows only while they
//! are the sum of them, so every rewrite of an hour drops its day's rows
//! ([`days_of`] names the days), and a reader takes them only for days whose every
//! hour it would read ([`DaySplit::new`]): its answers are the same either way.

use super::{Hours, HOUR_US};

pub const DAY_US: i64 = 24 * HOUR_US;

/// The start of the UTC day of `ts` (µs since the epoch).
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_US) * DAY_US
}

/// The UTC days (starts) that `hours` overlap: those whose daily rows a rewrite of
/// the hours makes stale.
pub fn days_of(hours: Hours) -> Vec<i64> {
    if hours.is_empty() {
        return Vec::new();
    }
    (day_of(hours.lo)..hours.hi).step_by(DAY_US as usize).collect()
}

/// Hour spans to read split into whole days read from daily rows and the hours left
/// to read from hourly rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaySplit {
    /// Starts of the days to read from daily rows, ascending.
    pub days: Vec<i64>,
    /// The rest of the spans, sorted and disjoint half-open intervals of µs.
    pub hours: Vec<(i64, i64)>,
}

impl DaySplit {
    /// The UTC days lying wholly inside one of `spans`: those a split can read whole.
    pub fn whole_days(spans: &[(i64, i64)]) -> Vec<i64> {
        spans.iter().flat_map(|&(lo, hi)| (day_of(lo + DAY_US - 1)..hi - DAY_US + 1).step_by(DAY_US as usize)).collect()
    }

    /// Every span read hourly.
    pub fn hourly(spans: &[(i64, i64)]) -> DaySplit {
        DaySplit { days: Vec::new(), hours: spans.to_vec() }
    }

    /// Splits `spans` (sorted, disjoint, [lo, hi) on whole hours): a UTC day lying
    /// wholly inside one span and present in `built` (the days that have daily rows,
    /// any order) is read whole; everything else stays hourly.
    pub fn new(spans: &[(i64, i64)], built: &[i64]) -> DaySplit {
        let mut built = built.to_vec();
        built.sort_unstable();
        let mut split = DaySplit::default();
        let keep = |lo: i64, hi: i64, hours: &mut Vec<(i64, i64)>| {
            if lo < hi {
                hours.push((lo, hi));
            }
        };
        for &(lo, hi) in spans {
            let mut from = lo;
            for day in DaySplit::whole_days(&[(lo, hi)]) {
                if built.binary_search(&day).is_ok() {
                    keep(from, day, &mut split.hours);
                    split.days.push(day);
                    from = day + DAY_US;
                }
            }
            keep(from, hi, &mut split.hours);
        }
        split
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_US;
    const D: i64 = DAY_US;

    #[test]
    fn days_of_hours_name_every_day_they_touch() {
        assert_eq!(days_of(Hours { lo: 10 * D + 23 * H, hi: 11 * D + 2 * H }), vec![10 * D, 11 * D]);
        assert_eq!(days_of(Hours { lo: 10 * D, hi: 11 * D }), vec![10 * D]);
        assert_eq!(days_of(Hours { lo: 10 * D, hi: 10 * D }), Vec::<i64>::new());
        assert_eq!(days_of(Hours { lo: -2 * H, hi: H }), vec![-D, 0]);
    }

    #[test]
    fn only_whole_built_days_are_read_from_daily_rows() {
        // Hours 5 of day 10 to 7 of day 14; days 11, 12 and 13 are whole, 12 is not built.
        let spans = [(10 * D + 5 * H, 14 * D + 7 * H)];
        let split = DaySplit::new(&spans, &[13 * D, 11 * D, 10 * D, 14 * D]);
        assert_eq!(split.days, vec![11 * D, 13 * D]);
        assert_eq!(split.hours, vec![(10 * D + 5 * H, 11 * D), (12 * D, 13 * D), (14 * D, 14 * D + 7 * H)]);
    }

    #[test]
    fn a_day_split_across_spans_stays_hourly() {
        // Hour 3 of day 2 is missing (not covered): day 2 cannot be read whole.
        let spans = [(D, 2 * D + 3 * H), (2 * D + 4 * H, 4 * D)];
        let split = DaySplit::new(&spans, &[D, 2 * D, 3 * D]);
        assert_eq!(split.days, vec![D, 3 * D]);
        assert_eq!(split.hours, vec![(2 * D, 2 * D + 3 * H), (2 * D + 4 * H, 3 * D)]);
    }

    #[test]
    fn whole_days_lie_inside_one_span() {
        let spans = [(10 * D + 5 * H, 12 * D), (12 * D + H, 13 * D + H), (20 * D, 21 * D)];
        assert_eq!(DaySplit::whole_days(&spans), vec![11 * D, 20 * D]);
        assert_eq!(DaySplit::whole_days(&[(D, D + 23 * H)]), Vec::<i64>::new());
    }

    #[test]
    fn nothing_built_leaves_the_spans_as_they_were() {
        let spans = [(D, 3 * D), (5 * D, 5 * D + H)];
        assert_eq!(DaySplit::new(&spans, &[]), DaySplit::hourly(&spans));
    }
}
