//! Measures per-(site, day) rollup blocks (`tally_core::rollup::block`) on generated
//! traffic: computes each site's hourly rollup rows day by day (`rollup::Builder`, as
//! compaction does), writes every dimension but `total` as one block per site and day,
//! checks that the block gives the rows back, and prints bytes per event, by dimension,
//! for three grains: every dimension per hour, the high-cardinality ones per day, and
//! every dimension per day; beside the number of heap rows the same figures take today,
//! and how long reading the largest site's month of one dimension from its blocks takes.
//!
//! ```text
//! cargo run --release --example rollup_block_size --features datagen -- [events] [shape]
//! ```
//! Defaults: 1,000,000 events of the `datagen` default config (20 sites, 30 days),
//! shape `default`. Shape `hicard` redraws pathnames from ~50,000 values per event and
//! referrer sources from ~2,000 per visit, log-uniform, as `benches/storage.sh hicard`.
//! With `TALLY_BLOCKS_COPY=PREFIX`, each grain's blocks are also written to
//! `PREFIX-N.copy` as `COPY t (site_id, day_us, data) FROM` text, to measure what a
//! table of them costs in Postgres.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tally_core::datagen::{Config, DataGen};
use tally_core::event::Event;
use tally_core::rollup::block::{self, Block, Filter};
use tally_core::rollup::periods::DAY_US;
use tally_core::rollup::{Builder, Hours, Row, RowSums, DIMENSIONS};

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
    /// The blocks of site 1, the largest.
    largest: Vec<Vec<u8>>,
    /// Where every block goes as a line of `COPY ... FROM` text, when asked.
    copy: Option<BufWriter<File>>,
}

impl Grain {
    fn add(&mut self, site: i32, day: i64, rows: &[Row], daily: &[&str]) {
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
        if let Some(copy) = &mut self.copy {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(copy, "{site}\t{day}\t\\\\x{hex}").expect("writing the COPY file");
        }
        if site == 1 {
            self.largest.push(bytes);
        }
    }
}

/// Reads every entry of `dimension` in `blocks` as the rollup answer reads a range's
/// rows: summed per value, with the union of their visitors when `visitors` (else the
/// counts alone, what a top-N breakdown reads first). The fastest of three runs, and
/// the entries and values read.
fn read_all(blocks: &[Vec<u8>], dimension: &str, visitors: bool) -> (Duration, usize, usize) {
    let mut best = (Duration::MAX, 0, 0);
    for _ in 0..3 {
        let started = Instant::now();
        let (mut sums, mut entries) = (RowSums::new(false), 0);
        let filter = Filter { values: None, from_us: i64::MIN, to_us: i64::MAX, visitors };
        for bytes in blocks {
            let block = Block::open(bytes).expect("own block opens");
            block
                .rows(dimension, &filter, &mut |row| {
                    entries += 1;
                    sums.add(row).expect("one set of parameters");
                })
                .expect("own block decodes");
        }
        let values = sums.finish().len();
        best = best.min((started.elapsed(), entries, values));
    }
    best
}

/// Every day's rows and blocks so far.
#[derive(Default)]
struct Days {
    grains: Vec<Grain>,
    hourly_rows: BTreeMap<&'static str, usize>,
    blocks: usize,
    build: Duration,
    largest_events: usize,
}

impl Days {
    /// Computes the rows of `day` of every site from `window` (sorted by time), adds
    /// their blocks, and drops the events the next day's window no longer holds.
    fn add(&mut self, day: i64, window: &mut BTreeMap<i32, Vec<Event>>, grains: &[(&str, Vec<&str>)]) {
        let hours = Hours { lo: day, hi: day + DAY_US };
        let (from, to) = hours.window();
        for (&site, events) in window.iter_mut() {
            let lo = events.partition_point(|e| e.ts < from);
            let hi = events.partition_point(|e| e.ts < to);
            if lo < hi {
                let started = Instant::now();
                let mut builder = Builder::new(hours);
                builder.add_events(&events[lo..hi]);
                let rows: Vec<Row> = builder.finish();
                self.build += started.elapsed();
                for row in &rows {
                    *self.hourly_rows.entry(row.dimension).or_default() += 1;
                }
                let per_value: Vec<Row> = rows.into_iter().filter(|r| r.dimension != "total").collect();
                for ((_, daily), total) in grains.iter().zip(&mut self.grains) {
                    total.add(site, day, &per_value, daily);
                }
                self.blocks += 1;
                if site == 1 {
                    self.largest_events += events[lo..hi].iter().filter(|e| (day..day + DAY_US).contains(&e.ts)).count();
                }
            }
            let next_from = Hours { lo: day + DAY_US, hi: day + 2 * DAY_US }.window().0;
            events.drain(..events.partition_point(|e| e.ts < next_from));
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("events: a number"));
    let shape = args.next().unwrap_or_else(|| "default".into());
    let config = Config { events, ..Config::default() };
    let mut rng = StdRng::seed_from_u64(7);
    let grains: [(&str, Vec<&str>); 3] = [
        ("every dimension per hour", Vec::new()),
        ("pages, entry pages, sources, UTM per day; the rest per hour", HIGH_CARDINALITY.to_vec()),
        ("every dimension per day", DIMENSIONS.to_vec()),
    ];
    let copy = std::env::var("TALLY_BLOCKS_COPY").ok();
    let grain = |i: usize| Grain {
        copy: copy.as_ref().map(|prefix| BufWriter::new(File::create(format!("{prefix}-{i}.copy")).expect("creating the COPY file"))),
        ..Grain::default()
    };
    let mut days = Days { grains: (0..grains.len()).map(grain).collect(), ..Days::default() };
    // The events of each site's current day and its window, in time order: the stream
    // is held a day at a time, so 10M events fit in memory.
    let mut window: BTreeMap<i32, Vec<Event>> = BTreeMap::new();
    let mut day = config.start_ts.div_euclid(DAY_US) * DAY_US;
    for mut event in DataGen::new(config) {
        if shape == "hicard" {
            tally_core::datagen::redraw_hicard(&mut event, &mut rng);
        }
        while event.ts >= (Hours { lo: day, hi: day + DAY_US }).window().1 {
            days.add(day, &mut window, &grains);
            day += DAY_US;
        }
        window.entry(event.site_id).or_default().push(event);
    }
    while window.values().any(|events| !events.is_empty()) {
        days.add(day, &mut window, &grains);
        day += DAY_US;
    }
    let Days { grains: totals, hourly_rows, blocks, build, largest_events } = days;

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
        println!("\nsite 1 ({largest_events} events), every block of it read per dimension, summed per value:\n");
        println!("| dimension | entries | values | with visitors, ms | counts alone, ms |");
        println!("|---|---:|---:|---:|---:|");
        for dimension in &DIMENSIONS[1..] {
            let (with, entries, values) = read_all(&total.largest, dimension, true);
            let (alone, _, _) = read_all(&total.largest, dimension, false);
            println!("| {dimension} | {entries} | {values} | {:.1} | {:.1} |", with.as_secs_f64() * 1e3, alone.as_secs_f64() * 1e3);
        }
    }
}
