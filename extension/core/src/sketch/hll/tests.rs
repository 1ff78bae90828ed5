//! Properties of the HLL: exact while explicit, merges associative and commutative,
//! union of sketches equal to the sketch of the union, bytes round-trip, malformed
//! bytes refused without panicking, error near 1.04 / sqrt(m).

use super::*;
use crate::sketch::hash::hash_bigint;
use proptest::prelude::*;

fn build(params: Params, values: impl IntoIterator<Item = i64>) -> Hll {
    let mut h = Hll::new(params);
    for v in values {
        h.add(hash_bigint(v, 0));
    }
    h
}

fn small_params() -> impl Strategy<Value = Params> {
    (4i64..=12, 1i64..=7, prop_oneof![Just(-1i64), Just(0), Just(1), Just(16), Just(256)], 0i64..=1)
        .prop_map(|(l, r, e, s)| Params::new(l, r, e, s).unwrap())
}

fn value_sets() -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(0i64..5_000, 0..3_000)
}

#[test]
fn counts_small_sets_exactly() {
    let h = build(Params::default(), (0..100).chain(0..100));
    assert!(matches!(h.repr(), Repr::Explicit(l) if l.len() == 100));
    assert_eq!(h.cardinality().unwrap(), Some(100.0));
    assert_eq!(Hll::new(Params::default()).cardinality().unwrap(), Some(0.0));
}

#[test]
fn promotes_to_registers_past_the_explicit_limit() {
    let p = Params::default();
    assert!(matches!(build(p, 0..160).repr(), Repr::Explicit(_)));
    assert!(matches!(build(p, 0..161).repr(), Repr::Full(_)));
    let never_explicit = Params::new(11, 5, 0, 1).unwrap();
    assert!(matches!(build(never_explicit, 0..1).repr(), Repr::Full(_)));
}

#[test]
fn stores_registers_sparse_until_full_is_smaller() {
    let p = Params::new(11, 5, 0, 1).unwrap();
    assert_eq!(build(p, 0..10).to_bytes()[0], 0x13);
    assert_eq!(build(p, 0..100_000).to_bytes()[0], 0x14);
    let no_sparse = Params::new(11, 5, 0, 0).unwrap();
    assert_eq!(build(no_sparse, 0..10).to_bytes()[0], 0x14);
}

#[test]
fn error_is_near_the_theoretical_bound() {
    let p = Params::default();
    let sigma = 1.04 / (p.registers() as f64).sqrt();
    for n in [1_000i64, 10_000, 100_000, 1_000_000] {
        let est = build(p, 0..n).cardinality().unwrap().unwrap();
        let err = (est - n as f64).abs() / n as f64;
        assert!(err < 4.0 * sigma, "n={n} estimate={est} error={err}");
    }
}

#[test]
fn the_improved_estimate_has_no_bias_where_the_classic_one_switches() {
    // Rollup sketches' parameters: 2^14 registers, the classic switch at 2.5 m = 40,960.
    let p = Params::new(14, 5, -1, 1).unwrap();
    let sigma = 1.04 / (p.registers() as f64).sqrt();
    for n in [30_000i64, 41_000, 45_000, 55_000, 80_000, 300_000] {
        let (mut improved, mut classic) = (0.0, 0.0);
        for seed in 0..6 {
            let h = build(p, seed * 10_000_000..seed * 10_000_000 + n);
            improved += (h.estimate().unwrap().unwrap() / n as f64 - 1.0) / 6.0;
            classic += (h.cardinality().unwrap().unwrap() / n as f64 - 1.0) / 6.0;
        }
        // The mean of 6 estimates errs by sigma / sqrt(6) at random; allow 3 of those.
        assert!(improved.abs() < 3.0 * sigma / 6f64.sqrt(), "n={n}: improved mean error {improved:.4}, classic {classic:.4}");
    }
    // Explicit sets stay exact.
    assert_eq!(build(p, 0..1000).estimate().unwrap(), Some(1000.0));
}

#[test]
fn refuses_malformed_bytes_naming_the_problem() {
    assert_eq!(Hll::from_bytes(&[0x11, 0x8b]), Err(HllError::TooShort(2)));
    assert_eq!(Hll::from_bytes(&[0x21, 0x8b, 0x7f]), Err(HllError::Version(2)));
    assert_eq!(Hll::from_bytes(&[0x17, 0x8b, 0x7f]), Err(HllError::Type(7)));
    assert!(matches!(Hll::from_bytes(&[0x12, 0x8b, 0x7f, 1, 2]), Err(HllError::Size { kind: "explicit", .. })));
    assert!(matches!(Hll::from_bytes(&[0x14, 0x8b, 0x7f, 0]), Err(HllError::Size { kind: "full", .. })));
    let unsorted = [vec![0x12, 0x8b, 0x7f], 5i64.to_be_bytes().to_vec(), 3i64.to_be_bytes().to_vec()].concat();
    assert_eq!(Hll::from_bytes(&unsorted), Err(HllError::Unsorted(1)));
    // A sparse body whose length leaves a whole byte unused.
    assert!(matches!(Hll::from_bytes(&[0x13, 0x8b, 0x7f, 0, 0, 0]), Err(HllError::Size { kind: "sparse", .. })));
}

#[test]
fn union_checks_parameters() {
    let mut a = Hll::new(Params::default());
    let b = Hll::new(Params::new(12, 5, -1, 1).unwrap());
    assert_eq!(a.union(&b), Err(HllError::Mismatch { what: "log2m", left: 11, right: 12 }));
}

#[test]
fn explicit_lists_merge_in_order_without_duplicates() {
    assert_eq!(merge_ascending(&[], &[]), Vec::<i64>::new());
    assert_eq!(merge_ascending(&[-5, 3], &[]), [-5, 3]);
    assert_eq!(merge_ascending(&[], &[i64::MIN, 0]), [i64::MIN, 0]);
    assert_eq!(merge_ascending(&[-9, -1, 4, 8], &[-1, 2, 8, i64::MAX]), [-9, -1, 2, 4, 8, i64::MAX]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn adding_in_batches_equals_adding_one_by_one(params in small_params(), values in value_sets(), chunk in 1usize..40) {
        let one_by_one = build(params, values.iter().copied());
        let mut batched = Hll::new(params);
        for part in values.chunks(chunk) {
            let mut hashes: Vec<i64> = part.iter().map(|&v| hash_bigint(v, 0)).collect();
            batched.add_all(&mut hashes);
            prop_assert!(hashes.is_empty());
        }
        prop_assert_eq!(batched, one_by_one);
    }

    #[test]
    fn merging_explicit_lists_equals_sorting_their_union(a in proptest::collection::btree_set(any::<i64>(), 0..50),
                                                         b in proptest::collection::btree_set(any::<i64>(), 0..50)) {
        let (a, b): (Vec<i64>, Vec<i64>) = (a.into_iter().collect(), b.into_iter().collect());
        let mut expected: Vec<i64> = a.iter().chain(&b).copied().collect();
        expected.sort_unstable();
        expected.dedup();
        prop_assert_eq!(merge_ascending(&a, &b), expected);
    }

    #[test]
    fn bytes_round_trip(p in small_params(), values in value_sets()) {
        let h = build(p, values);
        prop_assert_eq!(Hll::from_bytes(&h.to_bytes()).unwrap(), h);
    }

    #[test]
    fn union_of_sketches_is_sketch_of_union(p in small_params(), a in value_sets(), b in value_sets()) {
        let mut merged = build(p, a.clone());
        merged.union(&build(p, b.clone())).unwrap();
        let whole = build(p, a.into_iter().chain(b));
        prop_assert_eq!(merged.to_bytes(), whole.to_bytes());
    }

    #[test]
    fn union_is_commutative_and_associative(p in small_params(), a in value_sets(), b in value_sets(), c in value_sets()) {
        let (ha, hb, hc) = (build(p, a), build(p, b), build(p, c));
        let mut ab = ha.clone();
        ab.union(&hb).unwrap();
        let mut ba = hb.clone();
        ba.union(&ha).unwrap();
        prop_assert_eq!(&ab, &ba);
        let mut ab_c = ab;
        ab_c.union(&hc).unwrap();
        let mut bc = hb;
        bc.union(&hc).unwrap();
        let mut a_bc = ha;
        a_bc.union(&bc).unwrap();
        prop_assert_eq!(ab_c, a_bc);
    }

    #[test]
    fn extend_equals_adding_one_by_one(p in small_params(), values in value_sets()) {
        let hashes: Vec<i64> = values.iter().map(|&v| hash_bigint(v, 0)).collect();
        let mut h = Hll::new(p);
        h.extend(&hashes);
        prop_assert_eq!(h, build(p, values));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(h) = Hll::from_bytes(&bytes) {
            // Whatever decodes estimates without panicking and re-encodes to a value
            // that decodes to the same set.
            let _ = h.cardinality();
            prop_assert_eq!(Hll::from_bytes(&h.to_bytes()).unwrap(), h);
        }
    }

    #[test]
    fn decoding_mutated_valid_bytes_never_panics(p in small_params(), values in value_sets(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = build(p, values).to_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = Hll::from_bytes(&bytes).map(|h| h.cardinality());
    }
}
