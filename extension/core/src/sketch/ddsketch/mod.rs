//! DDSketch (Masson, Rim, Lee, VLDB 2019): quantiles with a guaranteed relative error.
//! A value x > 0 goes to bucket ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a);
//! every value of a bucket is within a relative `a` of the bucket's representative,
//! so every quantile is too. Merging adds bucket counts, which is exact, associative
//! and commutative: the sketch of a union equals the union of the sketches. That is
//! why Tally uses it for visit duration and engagement time in rollups and parallel
//! aggregates, rather than a t-digest, whose merges depend on order.

mod format;
mod store;

pub use format::DDSketchError;
use store::Store;
pub use store::MAX_BUCKETS;

/// Relative accuracy of every quantile: 1%, a good fit for durations shown rounded
/// to the second, at about 460 buckets from 1 ms to 100 000 s.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// Magnitudes below this count as zero (they have no useful bucket).
const MIN_MAGNITUDE: f64 = 1e-9;

/// A quantile sketch of finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct DDSketch {
    positive: Store,
    /// Magnitudes of negative values.
    negative: Store,
    zeros: u64,
    min: f64,
    max: f64,
}

impl Default for DDSketch {
    fn default() -> Self {
        DDSketch { positive: Store::default(), negative: Store::default(), zeros: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

fn ln_gamma() -> f64 {
    ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln()
}

fn index_of(magnitude: f64) -> i32 {
    (magnitude.ln() / ln_gamma()).ceil() as i32
}

/// The representative of bucket `i`: 2 gamma^i / (gamma + 1), within a relative
/// accuracy of every value in (gamma^(i-1), gamma^i].
fn value_of(index: i32) -> f64 {
    let gamma = ln_gamma().exp();
    2.0 * (f64::from(index) * ln_gamma()).exp() / (gamma + 1.0)
}

impl DDSketch {
    pub fn new() -> DDSketch {
        DDSketch::default()
    }

    /// Adds a value. Non-finite values have no quantile and are ignored; the SQL
    /// layer refuses them before they get here.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        if x.abs() < MIN_MAGNITUDE {
            self.zeros += 1;
        } else if x > 0.0 {
            self.positive.add(index_of(x), 1);
        } else {
            self.negative.add(index_of(-x), 1);
        }
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &DDSketch) {
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zeros += other.zeros;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.zeros + self.positive.total() + self.negative.total()
    }

    /// The q-quantile (0 <= q <= 1) within the relative accuracy, clamped to the
    /// exact minimum and maximum; `None` for an empty sketch or q outside [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * (count - 1) as f64;
        let mut seen = 0u64;
        let negatives = self.negative.buckets().rev().map(|(i, c)| (-value_of(i), c));
        let zeros = std::iter::once((0.0, self.zeros));
        let positives = self.positive.buckets().map(|(i, c)| (value_of(i), c));
        for (value, c) in negatives.chain(zeros).chain(positives) {
            seen += c;
            if seen as f64 > rank {
                return Some(value.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DDSketch, DDSketchError> {
        format::decode(bytes)
    }
}

#[cfg(test)]
mod tests;
