//! Segment decode and build speed on realistic data, in events per second on one core.
//!
//! `cargo bench --bench segment --features datagen`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_core::datagen::{Config, DataGen};
use tally_core::event::{Event, COLUMNS};
use tally_core::segment::{build, merge, SegmentReader};

fn segment_benches(c: &mut Criterion) {
    // One day of the biggest site in a 300K-event month: a typical large segment.
    let events: Vec<Event> = DataGen::new(Config { events: 300_000, ..Config::default() })
        .filter(|e| e.site_id == 1)
        .take_while(|e| e.ts < Config::default().start_ts + 86_400_000_000)
        .collect();
    let segment = build(&events).unwrap();
    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("open", |b| b.iter(|| SegmentReader::open(black_box(&segment.bytes)).unwrap()));
    let reader = SegmentReader::open(&segment.bytes).unwrap();
    group.bench_function("decode_ts_pathname", |b| b.iter(|| reader.columns(black_box(&["ts", "pathname"])).unwrap()));
    group.bench_function("decode_all_columns", |b| b.iter(|| reader.columns(black_box(COLUMNS)).unwrap()));
    group.bench_function("materialize_events", |b| b.iter(|| reader.events().unwrap()));
    group.bench_function("build", |b| b.iter(|| build(black_box(&events)).unwrap()));
    group.finish();

    // Compaction's workload: every site × UTC-day segment of the first week of the
    // default 1M-event month (20 sites, Zipf sizes: ~40 to ~12K rows a segment).
    let slices = day_slices(7);
    let total: usize = slices.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("segment_build");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("site_day_week", |b| {
        b.iter(|| {
            for slice in &slices {
                black_box(build(black_box(slice)).unwrap());
            }
        })
    });
    group.finish();

    // Compaction's tier merge: eight segments of the big site's day (its events dealt
    // out in turn, as eight passes of live traffic would cut them) into one, by columns
    // (`merge`) against the rows decoded into events and built again (the baseline).
    let parts: Vec<Vec<Event>> = (0..8).map(|k| events.iter().skip(k).step_by(8).cloned().collect()).collect();
    let built: Vec<_> = parts.iter().map(|p| build(p).unwrap()).collect();
    let readers: Vec<SegmentReader<'_>> = built.iter().map(|s| SegmentReader::open(&s.bytes).unwrap()).collect();
    let mut group = c.benchmark_group("segment_merge");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("decode_and_build", |b| {
        b.iter(|| {
            let all: Vec<Event> = readers.iter().flat_map(|r| r.events().unwrap()).collect();
            build(black_box(&all)).unwrap()
        })
    });
    group.bench_function("merge", |b| b.iter(|| merge(black_box(&readers)).unwrap()));
    group.finish();
}

/// The events of the default config's first `days` days, one `Vec` per site × day.
fn day_slices(days: i64) -> Vec<Vec<Event>> {
    const DAY_US: i64 = 86_400_000_000;
    let config = Config::default();
    let mut slices: BTreeMap<(i64, i32), Vec<Event>> = BTreeMap::new();
    for event in DataGen::new(config).take_while(|e| e.ts < config.start_ts + days * DAY_US) {
        let day = (event.ts - config.start_ts).div_euclid(DAY_US);
        slices.entry((day, event.site_id)).or_default().push(event);
    }
    slices.into_values().collect()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = segment_benches
}
criterion_main!(benches);
