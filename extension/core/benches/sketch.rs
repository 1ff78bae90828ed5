//! Sketch speed on one core: HLL add (hashed values, and hashing included), HLL union,
//! DDSketch add and merge.
//!
//! `cargo bench --bench sketch` (from extension/core, with CARGO_TARGET_DIR set).
//! The target for HLL add is 50M values/s per core (issue 6).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_core::sketch::ddsketch::DDSketch;
use tally_core::sketch::hash::hash_bigint;
use tally_core::sketch::hll::{Hll, Params};

/// One million values per iteration.
const N: usize = 1 << 20;

fn hashes(n: usize, seed: i32) -> Vec<i64> {
    (0..n as i64).map(|v| hash_bigint(v, seed)).collect()
}

fn hll_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("hll");
    group.throughput(Throughput::Elements(N as u64));
    let hashed = hashes(N, 0);
    // A sketch already past its explicit phase: the steady state of any large count.
    let warm = {
        let mut h = Hll::new(Params::default());
        h.extend(&hashes(10_000, 1));
        h
    };
    group.bench_function("add_hashed", |b| {
        b.iter(|| {
            let mut h = warm.clone();
            h.extend(black_box(&hashed));
            h
        })
    });
    group.bench_function("add_one_by_one", |b| {
        b.iter(|| {
            let mut h = warm.clone();
            for &x in black_box(&hashed) {
                h.add(x);
            }
            h
        })
    });
    let ids: Vec<i64> = (0..N as i64).collect();
    group.bench_function("hash_bigint_and_add", |b| {
        b.iter(|| {
            let mut h = warm.clone();
            for &v in black_box(&ids) {
                h.add(hash_bigint(v, 0));
            }
            h
        })
    });
    group.finish();

    // Union of two full 2048-register sketches, counted in sketches per second: a
    // 30-day query over hourly rollups unions 720 of them.
    let mut group = c.benchmark_group("hll_union");
    group.throughput(Throughput::Elements(1));
    let mut a = Hll::new(Params::default());
    a.extend(&hashes(100_000, 2));
    let mut b = Hll::new(Params::default());
    b.extend(&hashes(100_000, 3));
    group.bench_function("full_2048_registers", |bench| {
        bench.iter(|| {
            let mut x = a.clone();
            x.union(black_box(&b)).unwrap();
            x
        })
    });
    let b_bytes = b.to_bytes();
    group.bench_function("decode_and_union_full_2048", |bench| {
        bench.iter(|| {
            let mut x = a.clone();
            x.union(&Hll::from_bytes(black_box(&b_bytes)).unwrap()).unwrap();
            x
        })
    });
    group.finish();
}

fn ddsketch_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("ddsketch");
    group.throughput(Throughput::Elements(N as u64));
    let values: Vec<f64> = hashes(N, 4).iter().map(|&h| (h as u64 % 3_600_000) as f64).collect();
    group.bench_function("add", |b| {
        b.iter(|| {
            let mut s = DDSketch::new();
            for &v in black_box(&values) {
                s.add(v);
            }
            s
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = hll_benches, ddsketch_benches
}
criterion_main!(benches);
