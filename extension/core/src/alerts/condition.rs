//! What a rule tests: a fixed threshold, a change against the previous window, or an
//! anomaly against the same window of the last weeks; and the verdict on one value.

use super::robust::robust_score;
use crate::query::Metric;

/// Which deviations count: rises, drops or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Both,
}

impl Direction {
    pub const ALL: [Direction; 3] = [Direction::Up, Direction::Down, Direction::Both];

    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }

    pub fn from_name(name: &str) -> Option<Direction> {
        Direction::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether a deviation of `amount` (signed) at least `limit` (positive) counts.
    fn exceeded(self, amount: f64, limit: f64) -> bool {
        match self {
            Direction::Up => amount >= limit,
            Direction::Down => -amount >= limit,
            Direction::Both => amount.abs() >= limit,
        }
    }
}

/// A rule's condition. Each fires while it holds and resolves when it stops holding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// The window's value is above the threshold.
    Above(f64),
    /// The window's value is below the threshold.
    Below(f64),
    /// The value changed by at least `percent` percent against the window just before.
    ChangePct { percent: f64, direction: Direction },
    /// The value's robust score against the same window in each of the last `weeks`
    /// weeks is at least `sensitivity` (in robust standard deviations).
    Anomaly { weeks: u32, sensitivity: f64, direction: Direction },
}

/// Fewest past weeks an anomaly is judged against: the spread of one value is unknown.
pub const MIN_WEEKS_OF_HISTORY: usize = 2;

/// The judgement of one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub breached: bool,
    /// What the value was compared with: the threshold, the previous window's value,
    /// or the seasonal median.
    pub baseline: f64,
    /// The robust score (anomaly) or the change in percent (change_pct).
    pub score: Option<f64>,
}

impl Condition {
    /// Judges `value` of `metric`; `reference` holds the previous window's value
    /// (change_pct) or the same window's value in each past week with data (anomaly).
    /// `None` when there is nothing to judge against: no previous value, a previous
    /// value of 0 (any change is infinite), or fewer than [`MIN_WEEKS_OF_HISTORY`].
    pub fn judge(&self, metric: Metric, value: f64, reference: &[f64]) -> Option<Verdict> {
        match *self {
            Condition::Above(limit) => Some(Verdict { breached: value > limit, baseline: limit, score: None }),
            Condition::Below(limit) => Some(Verdict { breached: value < limit, baseline: limit, score: None }),
            Condition::ChangePct { percent, direction } => {
                let previous = *reference.first()?;
                if previous == 0.0 {
                    return None;
                }
                let change = (value - previous) / previous.abs() * 100.0;
                Some(Verdict { breached: direction.exceeded(change, percent), baseline: previous, score: Some(change) })
            }
            Condition::Anomaly { sensitivity, direction, .. } => {
                if reference.len() < MIN_WEEKS_OF_HISTORY {
                    return None;
                }
                let median = super::median(reference)?;
                let scored = robust_score(value, reference, noise_floor(metric, median, reference.len()))?;
                Some(Verdict {
                    breached: direction.exceeded(scored.score, sensitivity),
                    baseline: scored.baseline,
                    score: Some(scored.score),
                })
            }
        }
    }
}

/// The spread `value - baseline` has by chance even when nothing changed, with the
/// baseline the median of `weeks` past values. Counts in a window are close to
/// Poisson: variance the mean, and the median of n such values adds about π/(2n) of
/// it (the median's asymptotic variance), so a month of history adds 39%. Other
/// metrics (rates, durations, revenue) get 5% of their level, so a value that is the
/// same every week still needs a real change to be an anomaly.
pub fn noise_floor(metric: Metric, baseline: f64, weeks: usize) -> f64 {
    match metric {
        Metric::Visitors | Metric::Visits | Metric::Pageviews | Metric::Events => {
            let median_share = std::f64::consts::PI / (2.0 * weeks.max(1) as f64);
            (baseline.max(1.0) * (1.0 + median_share)).sqrt()
        }
        _ => (0.05 * baseline.abs()).max(0.01),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn thresholds_are_strict() {
        let above = Condition::Above(100.0);
        assert!(!above.judge(Metric::Visitors, 100.0, &[]).unwrap().breached);
        assert!(above.judge(Metric::Visitors, 101.0, &[]).unwrap().breached);
        let below = Condition::Below(10.0);
        assert!(below.judge(Metric::Visitors, 9.0, &[]).unwrap().breached);
        assert_eq!(below.judge(Metric::Visitors, 9.0, &[]).unwrap().baseline, 10.0);
    }

    #[test]
    fn change_is_against_the_previous_window() {
        let drop = Condition::ChangePct { percent: 50.0, direction: Direction::Down };
        let v = drop.judge(Metric::Pageviews, 40.0, &[100.0]).unwrap();
        assert_eq!((v.breached, v.baseline, v.score), (true, 100.0, Some(-60.0)));
        assert!(!drop.judge(Metric::Pageviews, 400.0, &[100.0]).unwrap().breached, "a rise is not a drop");
        let either = Condition::ChangePct { percent: 50.0, direction: Direction::Both };
        assert!(either.judge(Metric::Pageviews, 150.0, &[100.0]).unwrap().breached);
        assert_eq!(either.judge(Metric::Pageviews, 5.0, &[0.0]), None, "no change from zero");
        assert_eq!(either.judge(Metric::Pageviews, 5.0, &[]), None);
    }

    #[test]
    fn anomalies_need_history_and_respect_direction() {
        let spikes = Condition::Anomaly { weeks: 4, sensitivity: 5.0, direction: Direction::Up };
        let weeks = [200.0, 210.0, 190.0, 205.0];
        assert_eq!(spikes.judge(Metric::Visitors, 900.0, &weeks[..1]), None);
        let spike = spikes.judge(Metric::Visitors, 900.0, &weeks).unwrap();
        assert!(spike.breached && spike.baseline == 202.5, "{spike:?}");
        assert!(!spikes.judge(Metric::Visitors, 20.0, &weeks).unwrap().breached, "drops are not spikes");
        let both = Condition::Anomaly { weeks: 4, sensitivity: 5.0, direction: Direction::Both };
        assert!(both.judge(Metric::Visitors, 20.0, &weeks).unwrap().breached);
        assert!(!both.judge(Metric::Visitors, 230.0, &weeks).unwrap().breached, "within noise");
    }

    proptest! {
        /// A count within 4 Poisson standard deviations of identical weeks is not an
        /// anomaly at the default sensitivity: the floor alone keeps noise quiet.
        #[test]
        fn counting_noise_is_not_an_anomaly(mean in 5f64..5_000.0, k in -4.0f64..4.0) {
            let weeks = [mean; 4];
            let value = mean + k * mean.sqrt();
            let anomaly = Condition::Anomaly { weeks: 4, sensitivity: crate::alerts::DEFAULT_SENSITIVITY, direction: Direction::Both };
            prop_assert!(!anomaly.judge(Metric::Visits, value, &weeks).unwrap().breached);
        }

        #[test]
        fn a_higher_sensitivity_threshold_never_fires_more(value in 0f64..1e4, weeks in prop::collection::vec(0f64..1e4, 2..8), s in 0.5f64..10.0) {
            let loose = Condition::Anomaly { weeks: 8, sensitivity: s, direction: Direction::Both }.judge(Metric::Events, value, &weeks).unwrap();
            let strict = Condition::Anomaly { weeks: 8, sensitivity: s + 1.0, direction: Direction::Both }.judge(Metric::Events, value, &weeks).unwrap();
            prop_assert!(loose.breached || !strict.breached);
        }
    }
}
