//! [`Aggregation`] against the same aggregation computed naively over the events.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::event::{Event, COLUMNS};
use crate::interrupt::never;
use crate::scan::{decode, Bounds, CodeFilter, CodeTest};
use crate::segment::{build, SegmentReader};

fn at(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap()
}

const HOUR: i64 = 3_600_000_000;

/// Events with NULLs in every nullable column, repeats, and values of both signs.
fn events(seed: u64, n: usize, site: i32) -> Vec<Event> {
    let mut x = seed;
    let mut next = move |m: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    (0..n)
        .map(|_| Event {
            site_id: site,
            ts: 1_700_000_000_000_000 + next(50) as i64 * 1_234_567_891,
            name: ["pageview", "engagement", "Signup"][next(3) as usize].into(),
            visitor_id: next(40) as i64 - 5,
            session_id: next(80) as i64,
            hostname: "h.test".into(),
            pathname: format!("/p{}", next(9)),
            referrer: (next(3) == 0).then(|| format!("https://r{}.test/", next(4))),
            country: (next(4) != 0).then(|| ["US", "DE", "FR"][next(3) as usize].into()),
            screen_width: (next(5) != 0).then(|| next(4) as i32 * 400),
            engagement_ms: (next(2) == 0).then(|| next(30_000) as i32),
            revenue_micros: (next(7) == 0).then(|| next(1 << 40) as i64 - (1 << 39)),
            props: match next(3) {
                0 => Vec::new(),
                1 => vec![("plan".into(), ["free", "pro"][next(2) as usize].into())],
                _ => vec![("method".into(), "pro".into()), ("plan".into(), "team".into())],
            },
            ..Event::default()
        })
        .collect()
}

/// Truncation to local hours two and a half hours east of UTC (split UTC hours).
fn trunc(_key: usize, ts: i64) -> i64 {
    let offset = 150 * 60_000_000;
    (ts + offset).div_euclid(HOUR) * HOUR - offset
}

fn key_of(e: &Event, key: Key) -> String {
    match key {
        Key::Trunc(_) => format!("{}", trunc(0, e.ts)),
        Key::Column(c) => match COLUMNS[c] {
            "site_id" => e.site_id.to_string(),
            "visitor_id" => e.visitor_id.to_string(),
            "session_id" => e.session_id.to_string(),
            "pathname" => e.pathname.clone(),
            "country" => format!("{:?}", e.country),
            "screen_width" => format!("{:?}", e.screen_width),
            other => unreachable!("{other}"),
        },
        // The one property the key lists of these tests name.
        Key::Prop(_) => format!("{:?}", e.props.iter().rev().find(|(k, _)| k == "plan").map(|(_, v)| v)),
    }
}

fn value_of(e: &Event, column: usize) -> Option<String> {
    match COLUMNS[column] {
        "visitor_id" => Some(e.visitor_id.to_string()),
        "pathname" => Some(e.pathname.clone()),
        "referrer" => e.referrer.clone(),
        "country" => e.country.clone(),
        "ts" => Some(e.ts.to_string()),
        "screen_width" => e.screen_width.map(|v| v.to_string()),
        "engagement_ms" => e.engagement_ms.map(|v| v.to_string()),
        "revenue_micros" => e.revenue_micros.map(|v| v.to_string()),
        other => unreachable!("{other}"),
    }
}

/// The naive answer: per group (rendered keys), each function's value rendered.
fn naive(events: &[&Event], spec: &Spec, filters: &[Filter]) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut groups: BTreeMap<Vec<String>, Vec<&Event>> = BTreeMap::new();
    if spec.keys.is_empty() {
        groups.insert(Vec::new(), Vec::new());
    }
    for e in events {
        groups.entry(spec.keys.iter().map(|&k| key_of(e, k)).collect()).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|(key, rows)| {
            let values = spec
                .funcs
                .iter()
                .zip(filters)
                .map(|(&func, filter)| {
                    let all = rows.len();
                    let rows: Vec<&Event> = rows
                        .iter()
                        .copied()
                        .filter(|e| match filter {
                            Filter::All => true,
                            Filter::Nothing => false,
                            Filter::Codes(_) => e.name == "pageview",
                        })
                        .collect();
                    let ints = |c: usize| -> Vec<i128> { rows.iter().filter_map(|e| value_of(e, c)).map(|v| v.parse().unwrap()).collect() };
                    match func {
                        Func::CountRows => rows.len().to_string(),
                        Func::Count(c) => rows.iter().filter(|e| value_of(e, c).is_some()).count().to_string(),
                        Func::CountDistinct(c) => rows.iter().filter_map(|e| value_of(e, c)).collect::<BTreeSet<_>>().len().to_string(),
                        Func::Sum(c) => ints(c).into_iter().reduce(|a, b| a + b).map_or("NULL".into(), |s| s.to_string()),
                        Func::Avg(c) => {
                            let v = ints(c);
                            if v.is_empty() {
                                "NULL".into()
                            } else {
                                format!("{}/{}", v.iter().sum::<i128>(), v.len())
                            }
                        }
                        Func::Min(c) => ints(c).into_iter().min().map_or("NULL".into(), |s| s.to_string()),
                        Func::Max(c) => ints(c).into_iter().max().map_or("NULL".into(), |s| s.to_string()),
                        // Rows failing the filter add a 0.
                        Func::SumOrZero(c) => {
                            let v = ints(c);
                            if v.is_empty() && all == rows.len() {
                                "NULL".into()
                            } else {
                                v.iter().sum::<i128>().to_string()
                            }
                        }
                        Func::SumConst(k) | Func::SumConstOrZero(k) => {
                            let zeros = matches!(func, Func::SumConstOrZero(_)) && all > rows.len();
                            if rows.is_empty() && !zeros {
                                "NULL".into()
                            } else {
                                (i128::from(k) * rows.len() as i128).to_string()
                            }
                        }
                    }
                })
                .collect();
            (key, values)
        })
        .collect()
}

fn render(value: Value<'_>) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Int(v) => v.to_string(),
        Value::Wide(v) => v.to_string(),
        Value::Avg { sum, count } => format!("{sum}/{count}"),
        Value::Str(s) => s.to_owned(),
    }
}

/// The keys rendered as [`key_of`] does.
fn render_key(value: Value<'_>, key: Key) -> String {
    let nullable = matches!(key, Key::Prop(_)) || matches!(key, Key::Column(c) if ["country", "screen_width"].contains(&COLUMNS[c]));
    match (value, nullable) {
        (Value::Null, _) => "None".into(),
        (Value::Str(s), true) => format!("Some({s:?})"),
        (Value::Int(v), true) => format!("Some({v})"),
        (v, _) => render(v),
    }
}

fn run(spec: Spec, filters: Vec<Filter>, bounds: &Bounds, scan_filters: &[CodeFilter]) {
    run_joined(spec, filters, bounds, scan_filters, None);
}

/// The sites each site joins (for [`Aggregation::regroup`]): site 1 one, site 2 two
/// (one shared with site 1), site 3 none.
fn joined(site: Option<i64>) -> Vec<i64> {
    match site {
        Some(1) => vec![70],
        Some(2) => vec![70, 90],
        _ => vec![],
    }
}

/// Aggregates three segments (sites 1, 2, 2 and 3) and checks the answer against
/// [`naive`]'s; with `join` (the position of the `site_id` key), regrouped by
/// [`joined`] sites and checked against the naive answer over the joined events.
fn run_joined(spec: Spec, filters: Vec<Filter>, bounds: &Bounds, scan_filters: &[CodeFilter], join: Option<usize>) {
    let segments = [events(1, 3_000, 1), events(2, 1, 2), events(3, 2_000, 2), events(5, 300, 3)];
    let mut agg = Aggregation::new(spec.clone(), filters.clone());
    let mut selected: Vec<Event> = Vec::new();
    let built: Vec<_> = segments.iter().map(|s| build(s).unwrap()).collect();
    let stored: Vec<Vec<Event>> = built.iter().map(|b| SegmentReader::open(&b.bytes).unwrap().events().unwrap()).collect();
    for (segment, all) in built.iter().zip(&stored) {
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        let decoded = decode(&reader, &agg.columns(), scan_filters, bounds).unwrap();
        selected.extend(decoded.rows.indices().iter().map(|&r| all[r as usize].clone()));
        agg.add(&decoded, &mut trunc, &never).unwrap();
    }
    if let Some(by) = join {
        assert_eq!(spec.keys[by], Key::Column(at("site_id")));
        agg = agg.regroup(by, joined);
        selected = selected
            .iter()
            .flat_map(|e| joined(Some(i64::from(e.site_id))).into_iter().map(|site| Event { site_id: site as i32, ..e.clone() }))
            .collect();
    }
    agg.finish();
    let got: BTreeMap<Vec<String>, Vec<String>> = (0..agg.len())
        .map(|g| {
            let key = spec.keys.iter().enumerate().map(|(p, &k)| render_key(agg.key(g, p), k)).collect();
            let values = (0..spec.funcs.len()).map(|f| render(agg.value(g, f))).collect();
            (key, values)
        })
        .collect();
    assert_eq!(got, naive(&selected.iter().collect::<Vec<_>>(), &spec, &filters), "{spec:?}");
}

#[test]
fn regrouped_by_joined_sites_as_over_the_joined_rows() {
    let site = Key::Column(at("site_id"));
    let pageviews = || Filter::Codes(vec![CodeFilter::new(at("name"), CodeTest::In(vec!["pageview".into()])).unwrap()]);
    let funcs = all_funcs();
    let filters: Vec<Filter> = funcs.iter().enumerate().map(|(i, _)| [Filter::All, pageviews(), Filter::Nothing][i % 3].clone()).collect();
    for (keys, by) in [
        (vec![site], 0),
        (vec![Key::Column(at("pathname")), site], 1),
        (vec![site, Key::Column(at("country")), Key::Trunc(Unit::Day)], 0),
        (vec![Key::Column(at("visitor_id")), Key::Column(at("session_id")), site], 2),
    ] {
        let spec = Spec { keys, funcs: funcs.clone(), props: Vec::new() };
        run_joined(spec.clone(), filters.clone(), &Bounds::default(), &[], Some(by));
        run_joined(spec, vec![Filter::All; funcs.len()], &Bounds::default(), &[], Some(by));
    }
}

fn all_funcs() -> Vec<Func> {
    vec![
        Func::CountRows,
        Func::Count(at("referrer")),
        Func::Count(at("screen_width")),
        Func::CountDistinct(at("visitor_id")),
        Func::CountDistinct(at("pathname")),
        Func::CountDistinct(at("country")),
        Func::Sum(at("engagement_ms")),
        Func::Sum(at("revenue_micros")),
        Func::Avg(at("revenue_micros")),
        Func::Min(at("ts")),
        Func::Max(at("screen_width")),
        Func::Min(at("revenue_micros")),
        Func::SumConst(1),
        Func::SumOrZero(at("engagement_ms")),
        Func::SumConstOrZero(2),
        Func::SumOrZero(at("revenue_micros")),
        Func::SumConstOrZero(1),
    ]
}

#[test]
fn every_function_under_every_grouping() {
    let keys = [
        vec![],
        vec![Key::Column(at("pathname"))],
        vec![Key::Column(at("country"))],
        vec![Key::Column(at("screen_width"))],
        vec![Key::Trunc(Unit::Hour)],
        vec![Key::Column(at("site_id")), Key::Column(at("country")), Key::Trunc(Unit::Day)],
        vec![Key::Column(at("pathname")), Key::Column(at("country")), Key::Column(at("screen_width")), Key::Column(at("site_id"))],
        // More combinations than a segment's dense table takes: packed keys, hashed.
        vec![Key::Column(at("visitor_id")), Key::Column(at("session_id")), Key::Column(at("pathname"))],
        // `props ->> 'plan'` (NULL on most events), alone and with a column.
        vec![Key::Prop(0)],
        vec![Key::Column(at("country")), Key::Prop(0)],
    ];
    let pageviews = || Filter::Codes(vec![CodeFilter::new(at("name"), CodeTest::In(vec!["pageview".into()])).unwrap()]);
    for keys in keys {
        let funcs = all_funcs();
        let filters = funcs.iter().enumerate().map(|(i, _)| [Filter::All, pageviews(), Filter::Nothing][i % 3].clone()).collect();
        run(Spec { keys: keys.clone(), funcs: funcs.clone(), props: vec!["plan".into()] }, filters, &Bounds::default(), &[]);
        run(
            Spec { keys: keys.clone(), funcs: funcs.clone(), props: vec!["plan".into()] },
            vec![Filter::All; funcs.len()],
            &Bounds::default(),
            &[],
        );
        // Groups alone (the aggregates of a grouped subquery nobody reads), and
        // `count(*)` alone, which needs no group per row when there is no key.
        run(Spec { keys: keys.clone(), funcs: Vec::new(), props: vec!["plan".into()] }, Vec::new(), &Bounds::default(), &[]);
        run(Spec { keys, funcs: vec![Func::CountRows], props: vec!["plan".into()] }, vec![Filter::All], &Bounds::default(), &[]);
    }
}

#[test]
fn scan_filters_and_empty_answers() {
    let funcs = all_funcs();
    let filters = vec![Filter::All; funcs.len()];
    let mut bounds = Bounds::default();
    bounds.ts_before(1_700_000_000_000_000 + 20 * 1_234_567_891);
    let us = CodeFilter::new(at("country"), CodeTest::In(vec!["US".into()])).unwrap();
    run(Spec { keys: vec![Key::Column(at("pathname"))], funcs: funcs.clone(), props: Vec::new() }, filters.clone(), &bounds, &[us]);
    // Nothing selected: one row without keys (count 0, the rest NULL), none with keys.
    let none = CodeFilter::new(at("country"), CodeTest::In(vec!["XX".into()])).unwrap();
    run(Spec { keys: vec![], funcs: funcs.clone(), props: Vec::new() }, filters.clone(), &Bounds::default(), std::slice::from_ref(&none));
    run(Spec { keys: vec![Key::Column(at("pathname"))], funcs, props: Vec::new() }, filters, &Bounds::default(), &[none]);
}

#[test]
fn cancelling_stops_between_chunks() {
    let segment = build(&events(4, 100, 1)).unwrap();
    let reader = SegmentReader::open(&segment.bytes).unwrap();
    let mut agg = Aggregation::new(Spec { keys: vec![], funcs: vec![Func::CountRows], props: Vec::new() }, vec![Filter::All]);
    let decoded = decode(&reader, &agg.columns(), &[], &Bounds::default()).unwrap();
    let cancel = || Err(crate::interrupt::Cancelled);
    assert!(agg.add(&decoded, &mut trunc, &cancel).is_err());
}

#[test]
fn a_segment_over_several_chunks_adds_up() {
    // Over 2^16 rows: chunks of every row, and of listed rows under a filter.
    let all = events(9, 70_000, 1);
    let segment = build(&all).unwrap();
    let reader = SegmentReader::open(&segment.bytes).unwrap();
    let stored = reader.events().unwrap();
    let funcs = all_funcs();
    let us = CodeFilter::new(at("country"), CodeTest::In(vec!["US".into()])).unwrap();
    for (keys, scan_filters) in [
        (vec![Key::Column(at("pathname")), Key::Trunc(Unit::Hour)], vec![]),
        (vec![Key::Column(at("site_id"))], vec![us.clone()]),
        (vec![], vec![us]),
    ] {
        let spec = Spec { keys, funcs: funcs.clone(), props: Vec::new() };
        let mut agg = Aggregation::new(spec.clone(), vec![Filter::All; funcs.len()]);
        let decoded = decode(&reader, &agg.columns(), &scan_filters, &Bounds::default()).unwrap();
        let selected: Vec<&Event> = decoded.rows.indices().iter().map(|&r| &stored[r as usize]).collect();
        agg.add(&decoded, &mut trunc, &never).unwrap();
        agg.finish();
        let got: BTreeMap<Vec<String>, Vec<String>> = (0..agg.len())
            .map(|g| {
                let key = spec.keys.iter().enumerate().map(|(p, &k)| render_key(agg.key(g, p), k)).collect();
                (key, (0..funcs.len()).map(|f| render(agg.value(g, f))).collect())
            })
            .collect();
        assert_eq!(got, naive(&selected, &spec, &vec![Filter::All; funcs.len()]), "{spec:?}");
    }
}
