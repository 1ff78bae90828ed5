//! The full-scan aggregates of benches/sql.sh without Postgres: each segment decoded
//! (`scan::decode`) and aggregated (`scan::agg::Aggregation`), measured apart because
//! TallyAgg decodes on one thread while the backend aggregates on another, so a
//! query takes about the slower of the two. A month of 1M events in segments of one
//! site and UTC day (as compaction writes them), in the generator's shape and in the
//! high-cardinality one (`datagen::redraw_hicard`); throughput in events per second.
//!
//! `cargo bench --bench scan --features datagen`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tally_core::datagen::{redraw_hicard, Config, DataGen};
use tally_core::event::{Event, COLUMNS};
use tally_core::interrupt::never;
use tally_core::scan::agg::{Aggregation, Filter, Func, Key, Spec, Unit};
use tally_core::scan::{decode, Bounds, CodeFilter, CodeTest, Decoded};
use tally_core::segment::{build, Segment, SegmentReader};

const DAY_US: i64 = 86_400_000_000;

fn at(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).expect("an event column")
}

/// The generator's month in segments of one site and day.
fn segments(hicard: bool) -> Vec<Segment> {
    let events = std::env::var("TALLY_SCAN_EVENTS").map_or(1_000_000, |n| n.parse().expect("TALLY_SCAN_EVENTS is a number"));
    let config = Config { events, ..Config::default() };
    let mut rng = StdRng::seed_from_u64(7);
    let mut parts: BTreeMap<(i32, i64), Vec<Event>> = BTreeMap::new();
    for mut event in DataGen::new(config) {
        if hicard {
            redraw_hicard(&mut event, &mut rng);
        }
        parts.entry((event.site_id, event.ts.div_euclid(DAY_US))).or_default().push(event);
    }
    parts.values().map(|events| build(events).expect("generated events build")).collect()
}

/// A reader of a segment's bytes, verified when built: the scan reads them from a
/// cache of verified bytes, whose checksum is not computed again.
fn open(segment: &Segment) -> SegmentReader<'_> {
    SegmentReader::open_verified(&segment.bytes).expect("a built segment")
}

/// A query: name, keys, functions with their filters, row filters.
type Query = (&'static str, Vec<Key>, Vec<(Func, Filter)>, Vec<CodeFilter>);

/// The full-scan aggregates of benches/sql.sh.
fn queries() -> Vec<Query> {
    let pageviews = CodeFilter::new(at("name"), CodeTest::In(vec!["pageview".into()])).expect("a string column");
    vec![
        ("per_site_name", vec![Key::Column(at("site_id")), Key::Column(at("name"))], vec![(Func::CountRows, Filter::All)], vec![]),
        ("visitors_per_site", vec![Key::Column(at("site_id"))], vec![(Func::CountDistinct(at("visitor_id")), Filter::All)], vec![]),
        (
            "revenue_browser_device",
            vec![Key::Column(at("browser")), Key::Column(at("device"))],
            vec![(Func::Sum(at("revenue_micros")), Filter::All), (Func::Count(at("revenue_micros")), Filter::All)],
            vec![],
        ),
        ("daily_pageviews", vec![Key::Trunc(Unit::Day)], vec![(Func::CountRows, Filter::All)], vec![pageviews]),
    ]
}

fn scan_benches(c: &mut Criterion) {
    let only = std::env::var("TALLY_SCAN_SHAPE").ok();
    for (shape, hicard) in [("default", false), ("hicard", true)] {
        if only.as_deref().is_some_and(|only| only != shape) {
            continue;
        }
        // Generated on a thread of its own, whose malloc arena keeps the millions of
        // freed event strings: in the measuring thread's they cost more than decoding.
        let segments = std::thread::spawn(move || segments(hicard)).join().expect("generated");
        let events: usize = segments.iter().map(|s| s.zone.rows).sum();
        let mut group = c.benchmark_group(format!("scan_{shape}"));
        group.throughput(Throughput::Elements(events as u64));
        group.sample_size(10).measurement_time(Duration::from_secs(4));
        // What each column costs to decode alone.
        for (column, name) in COLUMNS.iter().enumerate() {
            group.bench_function(format!("column/{name}"), |b| {
                b.iter(|| {
                    for s in &segments {
                        black_box(decode(&open(s), &[column], &[], &Bounds::default()).expect("decodes"));
                    }
                })
            });
        }
        for (name, keys, funcs, filters) in queries() {
            let (funcs, func_filters): (Vec<Func>, Vec<Filter>) = funcs.into_iter().unzip();
            let spec = Spec { keys, funcs, props: Vec::new() };
            let columns = Aggregation::new(spec.clone(), func_filters.clone()).columns();
            let bounds = Bounds::default();
            let decode_all =
                || -> Vec<Decoded> { segments.iter().map(|s| decode(&open(s), &columns, &filters, &bounds).expect("decodes")).collect() };
            // Each segment's columns dropped before the next is decoded, as the scan does.
            group.bench_function(format!("{name}/decode"), |b| {
                b.iter(|| {
                    for s in &segments {
                        black_box(decode(&open(s), &columns, &filters, &bounds).expect("decodes"));
                    }
                })
            });
            let decoded = decode_all();
            let mut trunc = |_: usize, ts: i64| ts.div_euclid(DAY_US) * DAY_US;
            group.bench_function(format!("{name}/aggregate"), |b| {
                b.iter(|| {
                    let mut aggregation = Aggregation::new(spec.clone(), func_filters.clone());
                    for d in &decoded {
                        aggregation.add(d, &mut trunc, &never).expect("not interrupted");
                    }
                    aggregation.finish();
                    black_box(aggregation.len())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, scan_benches);
criterion_main!(benches);
