//! Daily and weekly rollups (`tally.rollups_daily`, `tally.rollups_weekly`): per UTC
//! day, the sums of the day's hourly rows, and per week (Monday to Sunday, UTC) the
//! sums of its seven days. They exist to be read in place of many hourly rows per
//! value: a 30-day breakdown by page of the bench's 3.1M-event site reads about 470k
//! hourly rows, 44k daily ones or some 15k mostly weekly ones. A period's rows stand
//! for its hourly rows only while they are the sum of them, so every rewrite of an
//! hour drops the rows of its day and week ([`Period::overlapping`] names them), and a
//! reader takes them only for periods whose every hour it would read
//! ([`Split::new`]): its answers are the same either way.

use super::HOUR_US;

pub const DAY_US: i64 = 24 * HOUR_US;

/// A span of whole hours rollups are also summed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A UTC day.
    Day,
    /// Seven UTC days from a Monday.
    Week,
}

impl Period {
    pub fn length(self) -> i64 {
        match self {
            Period::Day => DAY_US,
            Period::Week => 7 * DAY_US,
        }
    }

    /// A start of a period: the epoch for days, Monday 1970-01-05 for weeks.
    fn origin(self) -> i64 {
        match self {
            Period::Day => 0,
            Period::Week => 4 * DAY_US,
        }
    }

    /// The start of the period holding `ts` (µs since the epoch).
    pub fn start_of(self, ts: i64) -> i64 {
        let (origin, length) = (self.origin(), self.length());
        origin + (ts - origin).div_euclid(length) * length
    }

    /// The periods (starts) overlapping [lo, hi): those whose rows a rewrite of the
    /// hours makes stale.
    pub fn overlapping(self, lo: i64, hi: i64) -> Vec<i64> {
        (self.start_of(lo)..hi).step_by(self.length() as usize).collect()
    }

    /// The periods lying wholly inside one of `spans`: those a split can read whole.
    pub fn whole(self, spans: &[(i64, i64)]) -> Vec<i64> {
        let length = self.length();
        spans.iter().flat_map(|&(lo, hi)| (self.start_of(lo + length - 1)..hi - length + 1).step_by(length as usize)).collect()
    }

    /// Takes from `spans` the whole periods present in `built` (sorted): returns them
    /// and what is left of the spans.
    fn take(self, spans: &[(i64, i64)], built: &[i64]) -> (Vec<i64>, Vec<(i64, i64)>) {
        let (mut taken, mut rest) = (Vec::new(), Vec::new());
        let keep = |lo: i64, hi: i64, rest: &mut Vec<(i64, i64)>| {
            if lo < hi {
                rest.push((lo, hi));
            }
        };
        for &(lo, hi) in spans {
            let mut from = lo;
            for start in self.whole(&[(lo, hi)]) {
                if built.binary_search(&start).is_ok() {
                    keep(from, start, &mut rest);
                    taken.push(start);
                    from = start + self.length();
                }
            }
            keep(from, hi, &mut rest);
        }
        (taken, rest)
    }
}

/// Hour spans to read, split into whole weeks read from weekly rows, whole days read
/// from daily rows and the hours left to read from hourly rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Starts of the weeks to read from weekly rows, ascending.
    pub weeks: Vec<i64>,
    /// Starts of the days to read from daily rows, ascending.
    pub days: Vec<i64>,
    /// The rest of the spans, sorted and disjoint half-open intervals of µs.
    pub hours: Vec<(i64, i64)>,
}

impl Split {
    /// Every span read hourly.
    pub fn hourly(spans: &[(i64, i64)]) -> Split {
        Split { hours: spans.to_vec(), ..Split::default() }
    }

    /// Splits `spans` (sorted, disjoint, [lo, hi) on whole hours): a week, else a day,
    /// lying wholly inside one span and present in `weeks` or `days` (those that have
    /// rows, any order) is read whole; everything else stays hourly.
    pub fn new(spans: &[(i64, i64)], weeks: &[i64], days: &[i64]) -> Split {
        let sorted = |starts: &[i64]| {
            let mut starts = starts.to_vec();
            starts.sort_unstable();
            starts
        };
        let (weeks, rest) = Period::Week.take(spans, &sorted(weeks));
        let (days, hours) = Period::Day.take(&rest, &sorted(days));
        Split { weeks, days, hours }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_US;
    const D: i64 = DAY_US;
    /// Monday 1970-01-05 plus 7 weeks: a Monday.
    const MONDAY: i64 = 4 * D + 7 * 7 * D;

    #[test]
    fn periods_overlapping_hours_are_every_one_they_touch() {
        assert_eq!(Period::Day.overlapping(10 * D + 23 * H, 11 * D + 2 * H), vec![10 * D, 11 * D]);
        assert_eq!(Period::Day.overlapping(10 * D, 11 * D), vec![10 * D]);
        assert_eq!(Period::Day.overlapping(10 * D, 10 * D), Vec::<i64>::new());
        assert_eq!(Period::Day.overlapping(-2 * H, H), vec![-D, 0]);
        assert_eq!(Period::Week.overlapping(MONDAY - H, MONDAY + H), vec![MONDAY - 7 * D, MONDAY]);
    }

    #[test]
    fn weeks_start_on_mondays() {
        // 2024-03-25 was a Monday, 2024-03-31 a Sunday.
        let monday = 1_711_324_800_000_000;
        assert_eq!(Period::Week.start_of(monday), monday);
        assert_eq!(Period::Week.start_of(monday + 7 * D - 1), monday);
        assert_eq!(Period::Week.start_of(monday - 1), monday - 7 * D);
        assert_eq!(Period::Week.start_of(-D), -3 * D);
    }

    #[test]
    fn only_whole_built_days_are_read_from_daily_rows() {
        // Hours 5 of day 10 to 7 of day 14; days 11, 12 and 13 are whole, 12 is not built.
        let spans = [(10 * D + 5 * H, 14 * D + 7 * H)];
        let split = Split::new(&spans, &[], &[13 * D, 11 * D, 10 * D, 14 * D]);
        assert_eq!(split.days, vec![11 * D, 13 * D]);
        assert_eq!(split.hours, vec![(10 * D + 5 * H, 11 * D), (12 * D, 13 * D), (14 * D, 14 * D + 7 * H)]);
    }

    #[test]
    fn a_day_split_across_spans_stays_hourly() {
        // Hour 3 of day 2 is missing (not covered): day 2 cannot be read whole.
        let spans = [(D, 2 * D + 3 * H), (2 * D + 4 * H, 4 * D)];
        let split = Split::new(&spans, &[], &[D, 2 * D, 3 * D]);
        assert_eq!(split.days, vec![D, 3 * D]);
        assert_eq!(split.hours, vec![(2 * D, 2 * D + 3 * H), (2 * D + 4 * H, 3 * D)]);
    }

    #[test]
    fn weeks_first_then_days_then_hours() {
        // From the Sunday before MONDAY, 6 pm, to the second Wednesday after it, noon.
        let spans = [(MONDAY - 6 * H, MONDAY + 16 * D + 12 * H)];
        let days: Vec<i64> = (-1..17).map(|d| MONDAY + d * D).collect();
        let split = Split::new(&spans, &[MONDAY, MONDAY + 7 * D, MONDAY + 14 * D], &days);
        assert_eq!(split.weeks, vec![MONDAY, MONDAY + 7 * D]);
        assert_eq!(split.days, vec![MONDAY + 14 * D, MONDAY + 15 * D]);
        assert_eq!(split.hours, vec![(MONDAY - 6 * H, MONDAY), (MONDAY + 16 * D, MONDAY + 16 * D + 12 * H)]);
        // The second week not built: its days are read instead.
        let split = Split::new(&spans, &[MONDAY], &days);
        assert_eq!(split.weeks, vec![MONDAY]);
        assert_eq!(split.days, (7..16).map(|d| MONDAY + d * D).collect::<Vec<_>>());
    }

    #[test]
    fn whole_periods_lie_inside_one_span() {
        let spans = [(10 * D + 5 * H, 12 * D), (12 * D + H, 13 * D + H), (20 * D, 21 * D)];
        assert_eq!(Period::Day.whole(&spans), vec![11 * D, 20 * D]);
        assert_eq!(Period::Day.whole(&[(D, D + 23 * H)]), Vec::<i64>::new());
        assert_eq!(Period::Week.whole(&[(MONDAY + H, MONDAY + 14 * D)]), vec![MONDAY + 7 * D]);
    }

    #[test]
    fn nothing_built_leaves_the_spans_as_they_were() {
        let spans = [(D, 3 * D), (5 * D, 5 * D + H)];
        assert_eq!(Split::new(&spans, &[], &[]), Split::hourly(&spans));
    }
}
