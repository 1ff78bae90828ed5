//! Stats query scans over a month of one large site, one segment per UTC day: the
//! dashboard questions of benches/query.sh without Postgres, in events per second.
//!
//! `cargo bench --bench query --features datagen`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use tally_core::datagen::{Config, DataGen};
use tally_core::event::Event;
use tally_core::query::{parse, scan_all, Goal, Plan, SharedPlan, TimeRange};
use tally_core::segment::{build, Segment};

const DAY_US: i64 = 86_400_000_000;

fn query_benches(c: &mut Criterion) {
    // Site 1 of a 3M-event month: about a million events, as in the 10M-event end-to-end bench.
    let config = Config { events: 3_000_000, ..Config::default() };
    let mut days: Vec<Vec<Event>> = vec![Vec::new(); 31];
    for e in DataGen::new(config).filter(|e| e.site_id == 1) {
        days[(((e.ts - config.start_ts) / DAY_US) as usize).min(30)].push(e);
    }
    let segments: Vec<Segment> = days.iter().filter(|d| !d.is_empty()).map(|d| build(d).unwrap()).collect();
    let events: usize = segments.iter().map(|s| s.zone.rows).sum();
    let range = TimeRange { from_us: config.start_ts, to_us: config.start_ts + 31 * DAY_US };
    let goals = vec![Goal { name: "Signup".into(), event_name: Some("Signup".into()), page_pattern: None }];
    let questions: [(&str, Value); 5] = [
        ("aggregate", json!({"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]})),
        ("top_pages", json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]})),
        ("sources_of_us", json!({"metrics": ["visitors"], "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["US"]]]})),
        ("entry_pages", json!({"metrics": ["visits", "bounce_rate", "visit_duration"], "dimensions": ["visit:entry_page"]})),
        ("goals", json!({"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"]})),
    ];
    let mut group = c.benchmark_group("query");
    group.throughput(Throughput::Elements(events as u64));
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, mut question) in questions {
        question["site_id"] = json!(1);
        question["date_range"] = json!("30d");
        let plan = Plan::new(parse(&question).unwrap(), goals.clone()).unwrap();
        let zones: Vec<(i64, i64)> = segments.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
        let bytes: Vec<&[u8]> = segments.iter().map(|s| s.bytes.as_slice()).collect();
        // One thread (the baseline) and two, as tally.query_threads = 1 and 2.
        for threads in [1, 2] {
            group.bench_function(format!("{name}/{threads}"), |b| {
                b.iter(|| black_box(scan_all(&plan, range, None, zones.clone(), black_box(&bytes), threads, || {}).unwrap()))
            });
        }
    }
    // The dashboard filtered by a country: its five panels that scan, one shared scan
    // (`tally.query_batch`).
    let filter = json!([["is", "visit:country", ["US"]]]);
    let panels: Vec<Plan> = [
        json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}),
        json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"]}),
        json!({"metrics": ["visitors"], "dimensions": ["visit:device"]}),
        json!({"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}),
        json!({"metrics": ["visitors", "events"], "dimensions": ["event:name"],
               "filters": [["is", "visit:country", ["US"]], ["is_not", "event:name", ["pageview", "engagement"]]]}),
    ]
    .into_iter()
    .map(|mut q| {
        q["site_id"] = json!(1);
        q["date_range"] = json!("30d");
        if q.get("filters").is_none() {
            q["filters"] = filter.clone();
        }
        Plan::new(parse(&q).unwrap(), goals.clone()).unwrap()
    })
    .collect();
    let shared = SharedPlan::new(&panels.iter().collect::<Vec<_>>());
    let zones: Vec<(i64, i64)> = segments.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| s.bytes.as_slice()).collect();
    for threads in [1, 2] {
        group.bench_function(format!("dashboard_filtered/{threads}"), |b| {
            b.iter(|| black_box(scan_all(&shared.plan, range, None, zones.clone(), black_box(&bytes), threads, || {}).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, query_benches);
criterion_main!(benches);
