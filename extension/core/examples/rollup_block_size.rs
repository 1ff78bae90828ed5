//! Measures per-(site, day) rollup blocks (`tally_core::rollup::block`) on generated
//! traffic: computes each site's hourly rollup rows day by day (`rollup::Builder`, as
//! compaction does), writes every dimension but `total` as one block per site and day,
//! checks that the block gives the rows back, and prints bytes per event, by dimension,
//! for three grains: every dimension per hour, the high-cardinality ones per day, and
//! every dimension per day; beside the number of heap rows the same figures take today.
//!
//! ```text
//! cargo run --release --example rollup_block_size --features datagen -- [events] [shape]
//! ```
//! Defaults: 1,000,000 events of the `datagen` default config (20 sites, 30 days),
//! shape `default`. Shape `hicard` redraws pathnames from ~50,000 values per event and
//! referrer sources from ~2,000 per visit, log-uniform, as `benches/storage.sh hicard`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally_core::datagen::{Config, DataGen};
use tally_core::event::Event;
use tally_core::rollup::block::{self, Block, Filter};
use tally_core::rollup::periods::DAY_US;
use tally_core::rollup::{Builder, Hours, Row, DIMENSIONS};

/// Dimensions with a value per page or referrer: the ones whose hourly rows cost the
/// most (rollup/FOOTPRINT.md).
const HIGH_CARDINALITY: [&str; 8] = ["page", "entry_page", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/// Totals of one grain over every block.
#[derive(Default)]
struct Grain {
    bytes: usize,
    visitors: usize,
    per_dimension: BTreeMap<&'static str, usize>,
    encode: Duration,
    decode: Duration,
}

impl Grain {
    fn add(&mut self, day: i64, rows: &[Row], daily: &[&str]) {
        let started = Instant::now();
        let bytes = block::encode(day, rows, daily).expect("rows of one day");
        self.encode += started.elapsed();
        let started = Instant::now();
        let opened = Block::open(&bytes).expect("own block opens");
        let everything = Filter { values: None, from_us: day, to_us: day + DAY_US, visitors: true };
        let mut decoded = 0;
        for dimension in DIMENSIONS {
            opened.rows(dimension, &everything, &mut |_| decoded += 1).expect("own block decodes");
        }
        self.decode += started.elapsed();
        if daily.is_empty() {
            assert_eq!(decoded, rows.len(), "a row per hourly entry");
        }
        self.bytes += bytes.len();
        let (sections, visitors) = opened.sizes();
        self.visitors += visitors;
        for (dimension, size) in sections {
            *self.per_dimension.entry(dimension).or_default() += size;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("events: a number"));
    let shape = args.next().unwrap_or_else(|| "default".into());
    let config = Config { events, ..Config::default() };
    let mut rng = StdRng::seed_from_u64(7);
    let mut by_site: BTreeMap<i32, Vec<Event>> = BTreeMap::new();
    for mut event in DataGen::new(config) {
        if shape == "hicard" {
            redraw(&mut event, &mut rng);
        }
        by_site.entry(event.site_id).or_default().push(event);
    }

    let grains: [(&str, Vec<&str>); 3] = [
        ("every dimension per hour", Vec::new()),
        ("pages, entry pages, sources, UTM per day; the rest per hour", HIGH_CARDINALITY.to_vec()),
        ("every dimension per day", DIMENSIONS.to_vec()),
    ];
    let mut totals: Vec<Grain> = grains.iter().map(|_| Grain::default()).collect();
    let mut hourly_rows: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut blocks, mut build) = (0, Duration::ZERO);
    for site_events in by_site.values() {
        let first = site_events.first().map_or(0, |e| e.ts.div_euclid(DAY_US) * DAY_US);
        let last = site_events.last().map_or(0, |e| e.ts);
        for day in (first..=last).step_by(DAY_US as usize) {
            let hours = Hours { lo: day, hi: day + DAY_US };
            let (from, to) = hours.window();
            let lo = site_events.partition_point(|e| e.ts < from);
            let hi = site_events.partition_point(|e| e.ts < to);
            let started = Instant::now();
            let mut builder = Builder::new(hours);
            builder.add_events(&site_events[lo..hi]);
            let rows: Vec<Row> = builder.finish();
            build += started.elapsed();
            for row in &rows {
                *hourly_rows.entry(row.dimension).or_default() += 1;
            }
            let per_value: Vec<Row> = rows
                .into_iter()
                .filter(|r| r.dimension != "total")
                .map(|r| Row { visit_durations: None, engagement_times: None, ..r })
                .collect();
            for ((_, daily), total) in grains.iter().zip(&mut totals) {
                total.add(day, &per_value, daily);
            }
            blocks += 1;
        }
    }

    let per_event = |bytes: usize| bytes as f64 / events as f64;
    println!("## {events} events, shape {shape}: {blocks} blocks (site × day)\n");
    println!("hourly rows computed at {:.2} M events/s (one core)\n", events as f64 / build.as_secs_f64() / 1e6);
    println!("| hourly heap rows today | rows | rows/event |");
    println!("|---|---:|---:|");
    for (dimension, rows) in &hourly_rows {
        println!("| {dimension} | {rows} | {:.3} |", *rows as f64 / events as f64);
    }
    for ((title, _), total) in grains.iter().zip(&totals) {
        println!("\n### {title}\n");
        println!(
            "blocks: **{:.2} bytes/event** ({} bytes); encode {:.2} M events/s, decode every row with its visitors {:.2} M events/s",
            per_event(total.bytes),
            total.bytes,
            events as f64 / total.encode.as_secs_f64() / 1e6,
            events as f64 / total.decode.as_secs_f64() / 1e6,
        );
        println!("\n| part | bytes/event |");
        println!("|---|---:|");
        println!("| visitor hashes (each distinct visitor of a day once) | {:.2} |", per_event(total.visitors));
        let mut parts: Vec<_> = total.per_dimension.iter().collect();
        parts.sort_by(|a, b| b.1.cmp(a.1));
        for (dimension, bytes) in parts {
            println!("| {dimension} | {:.2} |", per_event(*bytes));
        }
    }
}

/// The `hicard` shape: a pathname per event and a source per visit, drawn log-uniform
/// (weight ~1/k, as Zipf(1)) from 50,000 and 2,000 values.
fn redraw(event: &mut Event, rng: &mut StdRng) {
    let log_uniform = |u: f64, n: f64| (u * n.ln()).exp().floor() as i64;
    event.pathname = format!("/p/{}", log_uniform(rng.random::<f64>(), 50_000.0));
    if event.referrer_source.is_some() {
        // A fixed fraction of the session id: every event of a visit has the same source.
        let u = (event.session_id.unsigned_abs() % 1_000_000) as f64 / 1e6;
        event.referrer_source = Some(format!("source{}", log_uniform(u, 2_000.0)));
    }
}
