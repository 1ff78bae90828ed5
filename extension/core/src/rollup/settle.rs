//! Which hours a rollup refresh computes. An hour's rows are computed once, when
//! on-time events can no longer change them: an event of time `t` changes the hours
//! from `t - AFFECTS_BEFORE_US` on (the hour its visit may have started in), and
//! reaches compaction seconds after `t`, so the hours before [`settle_point`] of now
//! are final but for late events. Hours after it
//! get no rows until they settle (`tally.query` scans them). Recomputing them at
//! every compaction pass instead read their events again each time: at 300k events/s,
//! a billion events a pass.

use super::{hour_of, AFFECTS_AFTER_US, AFFECTS_BEFORE_US, HOUR_US};

/// How late an on-time event may reach compaction: the gateway's batches and the hot
/// partitions' slots hold events for seconds; minutes of slack keep those from
/// recomputing an hour that just settled.
pub const SETTLE_SLACK_US: i64 = 5 * 60_000_000;

/// The hour (start, µs since the epoch) before which rows are final at `now_us`.
pub fn settle_point(now_us: i64) -> i64 {
    hour_of(now_us - AFFECTS_BEFORE_US - SETTLE_SLACK_US)
}

/// The spans [from, to) whose hours a refresh recomputes for one site, given the hours
/// (starts) of the events it added or removed (`touched`), the hour up to which its
/// rows are settled (`settled_until`, `None` before its first refresh) and the new
/// settle point: the settled hours the events affect, and the hours that settled since.
/// The work is proportional to the hours touched, not to the time between them: a
/// late event years back and the newly settled hours are two short spans, not one
/// with the years between.
pub fn refresh_spans(touched: impl IntoIterator<Item = i64>, settled_until: Option<i64>, target: i64) -> Vec<(i64, i64)> {
    // An event of hour h is at most h + HOUR_US - 1.
    let late = touched.into_iter().map(|h| (h - AFFECTS_BEFORE_US, (h + HOUR_US - 1 + AFFECTS_AFTER_US).min(target)));
    let new = settled_until.map(|until| (until, target));
    merged(late.chain(new).collect())
}

/// Sorts and merges overlapping or touching intervals, dropping empty ones.
pub fn merged(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.retain(|(lo, hi)| lo < hi);
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::HOUR_US;

    const NOW: i64 = 1_711_843_200_000_000 + 20 * 60_000_000; // 2024-03-31 00:20 UTC

    #[test]
    fn hours_settle_once_on_time_events_cannot_reach_them() {
        let target = settle_point(NOW);
        // An event of 00:15 reaching compaction now may belong to a visit that started
        // at 21:15: the hour of 21:00 is not final yet, the ones before it are.
        assert_eq!(target, NOW - 20 * 60_000_000 - 3 * HOUR_US, "21:00, three hours and twenty minutes before");
        // At 01:05 the hour of 21:00 settles: events of 01:00 on reach back to 22:00.
        assert_eq!(settle_point(NOW + 45 * 60_000_000 - 1), target, "01:04:59");
        assert_eq!(settle_point(NOW + 45 * 60_000_000), target + HOUR_US, "01:05");
    }

    /// The hours of events at these times.
    fn hours(times: &[i64]) -> Vec<i64> {
        times.iter().map(|&t| hour_of(t)).collect()
    }

    #[test]
    fn on_time_events_leave_the_settled_hours_alone() {
        let target = settle_point(NOW);
        let on_time = hours(&[NOW - 5_000_000, NOW]);
        assert_eq!(refresh_spans(on_time.clone(), Some(target), target), Vec::<(i64, i64)>::new());
        // An hour later, the hour that settled meanwhile is computed, once.
        let later = settle_point(NOW + HOUR_US);
        assert_eq!(refresh_spans(on_time, Some(target), later), vec![(target, later)]);
        // A site's first refresh computes what its events reach of the settled hours.
        let first = hours(&(0..=10).map(|h| NOW - h * HOUR_US).collect::<Vec<_>>());
        assert_eq!(refresh_spans(first, None, target), vec![(hour_of(NOW - 10 * HOUR_US) - AFFECTS_BEFORE_US, target)]);
    }

    #[test]
    fn a_late_event_recomputes_its_hours_apart_from_the_newly_settled_ones() {
        let target = settle_point(NOW);
        let late = hour_of(NOW - 20 * 24 * HOUR_US);
        let spans = refresh_spans([late, hour_of(NOW)], Some(target - HOUR_US), target);
        let around_late = (late - AFFECTS_BEFORE_US, late + HOUR_US - 1 + AFFECTS_AFTER_US);
        assert_eq!(spans, vec![around_late, (target - HOUR_US, target)], "not the twenty days between");
        let years_back = hour_of(NOW - 26 * 365 * 24 * HOUR_US);
        let spans = refresh_spans([years_back, late, hour_of(NOW)], Some(target - HOUR_US), target);
        let covered: i64 = spans.iter().map(|(lo, hi)| hi - lo).sum();
        assert!(covered < 4 * 6 * HOUR_US, "three events touch a few hours each, whatever lies between: {spans:?}");
    }

    #[test]
    fn merged_joins_touching_spans_and_drops_empty_ones() {
        assert_eq!(merged(vec![(5, 9), (1, 3), (3, 4), (7, 7), (8, 12)]), vec![(1, 4), (5, 12)]);
    }
}
