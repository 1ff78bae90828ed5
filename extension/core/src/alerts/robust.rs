//! A robust z-score: how far a value lies from the median of its history, in robust
//! standard deviations (MAD scaled to a normal's sigma). One outlier week (a holiday,
//! a past incident) moves neither the median nor the MAD much, unlike mean and
//! standard deviation.

/// MAD × 1.4826 estimates the standard deviation of normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `values` (the mean of the middle two for an even count); `None` when
/// empty. NaNs sort last and should not be passed.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 })
}

/// A value scored against its history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustScore {
    /// The median of the history: the expected value.
    pub baseline: f64,
    /// The spread used: the larger of the scaled MAD and the noise floor, combined.
    pub sigma: f64,
    /// `(value - baseline) / sigma`: positive above the baseline.
    pub score: f64,
}

/// Scores `value` against `history`. `noise_floor` is the standard deviation the value
/// has by chance alone even when every week looked the same (for counts, Poisson
/// noise: the square root of the baseline); it keeps identical weeks (MAD 0) from
/// making every small wobble infinitely anomalous. The two are added as variances:
/// the week-to-week spread of the level and the counting noise of this window.
pub fn robust_score(value: f64, history: &[f64], noise_floor: f64) -> Option<RobustScore> {
    let baseline = median(history)?;
    let deviations: Vec<f64> = history.iter().map(|x| (x - baseline).abs()).collect();
    let spread = MAD_TO_SIGMA * median(&deviations)?;
    let sigma = (spread * spread + noise_floor * noise_floor).sqrt().max(f64::MIN_POSITIVE);
    Some(RobustScore { baseline, sigma, score: (value - baseline) / sigma })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn one_outlier_week_does_not_move_the_baseline() {
        let history = [100.0, 104.0, 96.0, 1000.0];
        let s = robust_score(100.0, &history, 0.0).unwrap();
        assert_eq!(s.baseline, 102.0);
        assert!(s.score.abs() < 1.0, "{s:?}");
        let spike = robust_score(300.0, &history, 0.0).unwrap();
        assert!(spike.score > 10.0, "{spike:?}");
    }

    #[test]
    fn identical_weeks_fall_back_on_the_noise_floor() {
        let s = robust_score(130.0, &[100.0; 4], 10.0).unwrap();
        assert_eq!((s.baseline, s.sigma, s.score), (100.0, 10.0, 3.0));
        assert_eq!(robust_score(5.0, &[5.0; 3], 0.0).unwrap().score, 0.0, "no spread and no change is no NaN");
    }

    proptest! {
        #[test]
        fn the_median_lies_within_the_values(values in prop::collection::vec(-1e9f64..1e9, 1..50)) {
            let m = median(&values).unwrap();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(lo <= m && m <= hi);
        }

        #[test]
        fn scores_are_shift_invariant_and_ordered(
            values in prop::collection::vec(0f64..1e6, 2..12), x in 0f64..1e6, y in 0f64..1e6, shift in -1e5f64..1e5, floor in 0.1f64..100.0,
        ) {
            let a = robust_score(x, &values, floor).unwrap();
            let shifted: Vec<f64> = values.iter().map(|v| v + shift).collect();
            let b = robust_score(x + shift, &shifted, floor).unwrap();
            prop_assert!((a.score - b.score).abs() < 1e-6 * (1.0 + a.score.abs()));
            let c = robust_score(y, &values, floor).unwrap();
            if x < y {
                prop_assert!(a.score < c.score);
            }
        }

        #[test]
        fn one_replaced_value_moves_the_median_at_most_one_rank(
            values in prop::collection::vec(0f64..1e3, 5..20), i in 0usize..20, wild in 1e6f64..1e9,
        ) {
            let mut outlier = values.clone();
            let i = i % outlier.len();
            outlier[i] = wild;
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let m = median(&outlier).unwrap();
            let mid = sorted.len() / 2;
            prop_assert!(m >= sorted[mid.saturating_sub(1)] && m <= sorted[(mid + 1).min(sorted.len() - 1)]);
        }
    }
}
