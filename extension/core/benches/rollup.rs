//! Rollup rows of one busy day, and of one hour settling, computed from the day's
//! segment: the CPU side of keeping `tally.rollups` current, in events per second (of
//! the day, of the hour).
//!
//! `cargo bench --bench rollup --features datagen`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_core::datagen::{Config, DataGen};
use tally_core::event::Event;
use tally_core::rollup::{Builder, Hours};
use tally_core::segment::{build, SegmentReader};

const DAY_US: i64 = 86_400_000_000;

fn rollup_benches(c: &mut Criterion) {
    // One day of site 1 of a 3M-event month (about 30k events, as the 10M bench's largest site).
    let config = Config { events: 3_000_000, ..Config::default() };
    let day_start = config.start_ts + 10 * DAY_US;
    let day: Vec<Event> = DataGen::new(config).filter(|e| e.site_id == 1 && (day_start..day_start + DAY_US).contains(&e.ts)).collect();
    let segment = build(&day).unwrap();
    let hours = Hours::overlapping(day_start, day_start + DAY_US);
    let mut group = c.benchmark_group("rollup");
    group.throughput(Throughput::Elements(day.len() as u64));
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("day_of_site_1", |b| {
        b.iter(|| {
            let mut builder = Builder::new(hours);
            builder.add_segment(&SegmentReader::open(&segment.bytes).unwrap()).unwrap();
            black_box(builder.finish())
        })
    });
    // One hour settling (what compaction does once per hour and site): 12:00 to 13:00
    // read from the day's segment with its window (11:30 to 15:00), per event of the hour.
    let noon = Hours::overlapping(day_start + 12 * 3_600_000_000, day_start + 13 * 3_600_000_000);
    let hour_events = day.iter().filter(|e| (noon.lo..noon.hi).contains(&e.ts)).count();
    group.throughput(Throughput::Elements(hour_events as u64));
    group.bench_function("hour_of_site_1", |b| {
        b.iter(|| {
            let mut builder = Builder::new(noon);
            builder.add_segment(&SegmentReader::open(&segment.bytes).unwrap()).unwrap();
            black_box(builder.finish())
        })
    });
    group.finish();
}

criterion_group!(benches, rollup_benches);
criterion_main!(benches);
