//! DDSketch properties: quantiles within the relative accuracy of the exact ones,
//! merge exact, associative and commutative, bytes round-trip, bad bytes refused.

use super::*;
use proptest::prelude::*;

fn sketch_of(values: &[f64]) -> DDSketch {
    let mut s = DDSketch::new();
    for &v in values {
        s.add(v);
    }
    s
}

/// The exact lower quantile the sketch approximates: the value of rank floor(q (n-1)).
fn exact(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

fn durations() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(prop_oneof![Just(0.0), 1.0f64..10.0, 10.0f64..1e7, -1e4f64..-1.0], 1..500)
}

#[test]
fn empty_sketch_has_no_quantiles() {
    assert_eq!(DDSketch::new().quantile(0.5), None);
    assert_eq!(sketch_of(&[5.0]).quantile(1.5), None);
}

#[test]
fn single_value_is_exact_through_clamping() {
    let s = sketch_of(&[1234.5]);
    for q in [0.0, 0.5, 1.0] {
        assert_eq!(s.quantile(q), Some(1234.5));
    }
}

#[test]
fn folds_the_lowest_buckets_past_the_bucket_limit() {
    // Values spanning e^-20 .. e^40: more than MAX_BUCKETS buckets apart.
    let values: Vec<f64> = (-20..=40).map(|e| f64::from(e).exp()).collect();
    let s = sketch_of(&values);
    assert_eq!(s.count(), values.len() as u64);
    let (lowest, highest) = (s.positive.buckets().next().unwrap().0, s.positive.buckets().next_back().unwrap().0);
    assert!(((highest - lowest) as usize) < MAX_BUCKETS);
    // High quantiles keep their accuracy; only the smallest values were folded.
    let top = values[values.len() - 1];
    assert!((s.quantile(1.0).unwrap() - top).abs() <= RELATIVE_ACCURACY * top);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn quantiles_are_within_the_relative_accuracy(values in durations(), q in 0.0f64..=1.0) {
        let s = sketch_of(&values);
        let got = s.quantile(q).unwrap();
        let want = exact(&values, q);
        prop_assert!((got - want).abs() <= RELATIVE_ACCURACY * want.abs() + 1e-9, "q={} got={} want={}", q, got, want);
    }

    #[test]
    fn merge_equals_sketch_of_the_union(a in durations(), b in durations()) {
        let mut merged = sketch_of(&a);
        merged.merge(&sketch_of(&b));
        let whole = sketch_of(&[a, b].concat());
        prop_assert_eq!(merged.to_bytes(), whole.to_bytes());
    }

    #[test]
    fn merge_is_commutative_and_associative(a in durations(), b in durations(), c in durations()) {
        let (sa, sb, sc) = (sketch_of(&a), sketch_of(&b), sketch_of(&c));
        let mut ab = sa.clone();
        ab.merge(&sb);
        let mut ba = sb.clone();
        ba.merge(&sa);
        prop_assert_eq!(&ab, &ba);
        let mut ab_c = ab;
        ab_c.merge(&sc);
        let mut bc = sb;
        bc.merge(&sc);
        let mut a_bc = sa;
        a_bc.merge(&bc);
        prop_assert_eq!(ab_c, a_bc);
    }

    #[test]
    fn bytes_round_trip(values in durations()) {
        let s = sketch_of(&values);
        prop_assert_eq!(DDSketch::from_bytes(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = DDSketch::from_bytes(&bytes) {
            let _ = s.quantile(0.5);
        }
    }

    #[test]
    fn decoding_mutated_bytes_never_panics(values in durations(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = sketch_of(&values).to_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(s) = DDSketch::from_bytes(&bytes) {
            let _ = s.quantile(0.9);
        }
    }
}

#[test]
fn refuses_bytes_of_another_version_or_accuracy() {
    let mut bytes = DDSketch::new().to_bytes();
    bytes[0] = 3;
    assert_eq!(DDSketch::from_bytes(&bytes), Err(DDSketchError::Version(3)));
    let mut bytes = DDSketch::new().to_bytes();
    bytes[1..9].copy_from_slice(&0.05f64.to_le_bytes());
    assert_eq!(DDSketch::from_bytes(&bytes), Err(DDSketchError::Accuracy(0.05)));
    assert!(matches!(DDSketch::from_bytes(&[1]), Err(DDSketchError::Decode(_))));
}

/// Version 1 bytes (every bucket from the offset), as sketches were stored before the
/// sparse encoding: `[1, accuracy, zeros 0, positive offset zigzag(100) len 3 counts
/// 2 0 1, negative offset 0 len 0, min 1.5, max 2.5]`.
#[test]
fn reads_the_dense_version_1_encoding() {
    let mut bytes = vec![1];
    bytes.extend(super::RELATIVE_ACCURACY.to_le_bytes());
    bytes.extend([0, 200, 1, 3, 2, 0, 1, 0, 0]);
    bytes.extend(1.5f64.to_le_bytes());
    bytes.extend(2.5f64.to_le_bytes());
    let s = DDSketch::from_bytes(&bytes).unwrap();
    assert_eq!(s.count(), 3);
    assert_eq!(s.positive.buckets().collect::<Vec<_>>(), [(100, 2), (102, 1)]);
    assert_eq!(DDSketch::from_bytes(&s.to_bytes()).unwrap(), s);
}

/// A few values far apart cost a few bytes each, not one byte per 1%-wide bucket
/// between them (a visit-duration sketch of a rollup row: 5 s, 1 min, 5 min).
#[test]
fn stores_only_the_non_empty_buckets() {
    let s = sketch_of(&[5_000.0, 60_000.0, 300_000.0]);
    let bytes = s.to_bytes();
    // Version and accuracy 9, zero count 1, two bucket counts 2, three (gap, count)
    // pairs of at most 4 bytes, min and max 16.
    assert!(bytes.len() <= 9 + 1 + 2 + 3 * 4 + 16, "{} bytes", bytes.len());
    assert_eq!(DDSketch::from_bytes(&bytes).unwrap(), s);
}
