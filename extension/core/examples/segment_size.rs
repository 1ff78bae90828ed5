//! Measures segment size on realistic traffic: generates events with `datagen`, cuts
//! them into segments per site × hour and per site × day, and prints bytes per event
//! for each column and in total.
//!
//! ```text
//! cargo run --release --example segment_size --features datagen -- [events] [sites] [days]
//! ```
//! Defaults: 1,000,000 events, 20 sites, 30 days (the `datagen` default config).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tally_core::datagen::{Config, DataGen};
use tally_core::event::{Event, COLUMNS};
use tally_core::segment::{build, SegmentReader};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

/// Totals over all segments of one slicing.
#[derive(Default)]
struct Tally {
    segments: usize,
    events: usize,
    bytes: usize,
    per_column: BTreeMap<&'static str, usize>,
    build: Duration,
    decode: Duration,
}

impl Tally {
    fn add(&mut self, events: &[Event]) {
        let started = Instant::now();
        let segment = build(events).expect("segment within row limit");
        self.build += started.elapsed();

        let started = Instant::now();
        let reader = SegmentReader::open(&segment.bytes).expect("own segment opens");
        let columns = reader.columns(COLUMNS).expect("own segment decodes");
        self.decode += started.elapsed();
        assert_eq!(columns.len(), COLUMNS.len());
        // Spot-check full materialization on every 64th segment.
        if self.segments.is_multiple_of(64) {
            let mut expected = events.to_vec();
            expected.sort_by_key(|e| (e.visitor_id, e.session_id, e.ts));
            assert_eq!(reader.events().expect("materializes"), expected);
        }

        self.segments += 1;
        self.events += events.len();
        self.bytes += segment.bytes.len();
        for (column, size) in reader.column_sizes() {
            *self.per_column.entry(column).or_default() += size;
        }
    }

    fn report(&self, title: &str) {
        let per_event = |bytes: usize| bytes as f64 / self.events.max(1) as f64;
        println!("\n## {title}");
        println!(
            "{} segments, {} events ({:.0} events/segment), {} bytes",
            self.segments,
            self.events,
            self.events as f64 / self.segments.max(1) as f64,
            self.bytes
        );
        println!("total: {:.2} bytes/event", per_event(self.bytes));
        println!(
            "build {:.2} M events/s, decode all columns {:.2} M events/s (one core)",
            self.events as f64 / self.build.as_secs_f64() / 1e6,
            self.events as f64 / self.decode.as_secs_f64() / 1e6
        );
        let mut columns: Vec<_> = self.per_column.iter().collect();
        columns.sort_by(|a, b| b.1.cmp(a.1));
        println!("| column | bytes/event | share |");
        println!("|---|---:|---:|");
        for (column, bytes) in columns {
            println!("| {column} | {:.3} | {:.1}% |", per_event(*bytes), 100.0 * *bytes as f64 / self.bytes.max(1) as f64);
        }
    }
}

/// Buffers events per (site, slice) and seals a slice's segments once the stream,
/// which is sorted by ts, has moved past it.
struct Slicer {
    width_us: i64,
    current: i64,
    open: BTreeMap<i32, Vec<Event>>,
    tally: Tally,
}

impl Slicer {
    fn new(width_us: i64) -> Self {
        Self { width_us, current: i64::MIN, open: BTreeMap::new(), tally: Tally::default() }
    }

    fn push(&mut self, event: &Event) {
        let slice = event.ts.div_euclid(self.width_us);
        if slice != self.current {
            self.flush();
            self.current = slice;
        }
        self.open.entry(event.site_id).or_default().push(event.clone());
    }

    fn flush(&mut self) {
        for events in std::mem::take(&mut self.open).into_values() {
            self.tally.add(&events);
        }
    }
}

fn main() {
    let arg = |i: usize, default: u64| std::env::args().nth(i).map_or(default, |a| a.parse().expect("numeric argument"));
    let defaults = Config::default();
    let config = Config {
        events: arg(1, defaults.events),
        sites: arg(2, defaults.sites.into()) as u32,
        days: arg(3, defaults.days.into()) as u32,
        ..defaults
    };
    println!("# Segment size: {} events, {} sites, {} days, seed {}", config.events, config.sites, config.days, config.seed);
    let started = Instant::now();
    let mut hourly = Slicer::new(HOUR_US);
    let mut daily = Slicer::new(DAY_US);
    for event in DataGen::new(config) {
        hourly.push(&event);
        daily.push(&event);
    }
    hourly.flush();
    daily.flush();
    hourly.tally.report("site × 1-hour segments");
    daily.tally.report("site × 1-day segments");
    println!("\n(ran in {:.1} s)", started.elapsed().as_secs_f64());
}
