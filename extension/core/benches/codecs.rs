//! Decode speed of every codec, in values per second on one core.
//!
//! `cargo bench --bench codecs` (from extension/core, with CARGO_TARGET_DIR set).
//! Inputs are synthetic but shaped like segment columns: small dictionary codes,
//! timestamps seconds apart, run-heavy per-visit values.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tally_core::codec::dict::DictColumn;
use tally_core::codec::props::PropsColumn;
use tally_core::codec::{bitpack, block, delta, dict, frame, ints, props, rle};

/// One million values: large enough to leave the L2 cache, like a big segment column.
const N: usize = 1 << 20;

/// xorshift: cheap deterministic noise without a rand dependency in benches.
fn noise(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

fn bitpack_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("bitpack");
    group.throughput(Throughput::Elements(N as u64));
    for width in [1u32, 10, 20, 32] {
        let values: Vec<u32> = noise(N, 1).iter().map(|v| (*v as u32) >> (32 - width)).collect();
        let bytes = bitpack::encode_u32(&values);
        group.bench_with_input(BenchmarkId::new("decode_u32", width), &bytes, |b, bytes| {
            b.iter(|| bitpack::decode_u32(black_box(bytes)).unwrap())
        });
    }
    let wide: Vec<u64> = noise(N, 2).iter().map(|v| v >> 24).collect();
    let bytes = bitpack::encode(&wide);
    group.bench_function("decode_u64/40", |b| b.iter(|| bitpack::decode(black_box(&bytes)).unwrap()));
    group.finish();
}

fn integer_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("integers");
    group.throughput(Throughput::Elements(N as u64));
    let gaps = noise(N, 3);
    let mut t = 1_700_000_000_000_000i64;
    let ts: Vec<i64> = gaps
        .iter()
        .map(|g| {
            t += (g % 60_000_000) as i64;
            t
        })
        .collect();
    let small: Vec<i64> = noise(N, 4).iter().map(|v| 1000 + (v % 1000) as i64).collect();
    let runs: Vec<i64> = noise(N / 4, 5).iter().flat_map(|v| std::iter::repeat_n((v % 300) as i64, 4)).collect();

    let bytes = frame::encode(&small);
    group.bench_function("frame_decode", |b| b.iter(|| frame::decode(black_box(&bytes)).unwrap()));
    let bytes = delta::encode(&ts);
    group.bench_function("delta_decode", |b| b.iter(|| delta::decode(black_box(&bytes)).unwrap()));
    let bytes = delta::encode_dod(&ts);
    group.bench_function("delta_of_delta_decode", |b| b.iter(|| delta::decode_dod(black_box(&bytes)).unwrap()));
    let bytes = rle::encode(&runs);
    group.bench_function("rle_decode", |b| b.iter(|| rle::decode(black_box(&bytes)).unwrap()));
    let bytes = ints::encode(&small);
    group.bench_function("ints_adaptive_decode", |b| b.iter(|| ints::decode(black_box(&bytes)).unwrap()));
    group.finish();
}

fn string_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("strings");
    group.throughput(Throughput::Elements(N as u64));
    let pages: Vec<String> = (0..500).map(|i| format!("/blog/post-{i}")).collect();
    // Zipf-ish skew: rank r drawn with probability ~1/r via squaring uniform noise.
    let rows: Vec<Option<&str>> = noise(N, 6)
        .iter()
        .map(|v| {
            let u = (*v >> 11) as f64 / (1u64 << 53) as f64;
            Some(pages[((u * u) * pages.len() as f64) as usize].as_str())
        })
        .collect();
    let bytes = dict::encode(&DictColumn::from_values(&rows));
    group.bench_function("dict_decode", |b| b.iter(|| dict::decode(black_box(&bytes)).unwrap()));

    let tagged = vec![("plan".to_owned(), "pro".to_owned())];
    let prop_rows: Vec<&[(String, String)]> = noise(N, 7).iter().map(|v| if v % 10 == 0 { tagged.as_slice() } else { &[][..] }).collect();
    let bytes = props::encode(&PropsColumn::from_rows(&prop_rows));
    group.bench_function("props_decode", |b| b.iter(|| props::decode(black_box(&bytes)).unwrap()));
    group.finish();

    let mut group = c.benchmark_group("block");
    let text: Vec<u8> = pages.join("\n").into_bytes().repeat(64);
    group.throughput(Throughput::Bytes(text.len() as u64));
    let bytes = block::compress(&text);
    group.bench_function("zstd_decompress_bytes", |b| b.iter(|| block::decompress(black_box(&bytes)).unwrap()));
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the shared 2-core machine, and decode times are stable.
    Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bitpack_benches, integer_benches, string_benches
}
criterion_main!(benches);
