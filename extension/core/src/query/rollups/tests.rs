//! The rollup path against the full scan on generated traffic: rollups stored as
//! compaction leaves them (recomputed a day at a time), the last 40 minutes and one
//! late event of an old hour still hot; every eligible metric × dimension gives the
//! full scan's exact figures, and visitors within 2%.

use serde_json::{json, Value};

use crate::datagen::{Config, DataGen};
use crate::event::Event;
use crate::query::{
    answer_from_rollups, parse, render, scan_all, Answer, EdgeCache, Group, Period, Plan, RollupPlan, RollupReads, TimeRange,
};
use crate::rollup::periods::{Period as RollupPeriod, Split};
use crate::rollup::{Builder, Hours, Row, RowSums, HOUR_US, VISITOR_PARAMS};
use crate::segment;
use crate::sketch::hll::Hll;

const DAY: i64 = 24 * HOUR_US;
const START: i64 = 1_711_238_400_000_000; // 2024-03-24 00:00 UTC
const MINUTE: i64 = 60_000_000;

struct Site {
    events: Vec<Event>,
    /// Rows as compaction stored them, from the events no longer hot.
    stored: Vec<Row>,
    hot_ts: Vec<i64>,
}

/// Four days of traffic; "now" is 40 minutes before the end of the last day.
fn site() -> Site {
    let events: Vec<Event> = DataGen::new(Config { seed: 5, sites: 1, days: 4, events: 40_000, start_ts: START }).collect();
    let now = START + 4 * DAY - 40 * MINUTE;
    let events: Vec<Event> = events.into_iter().filter(|e| e.ts < now).collect();
    let late = events.len() / 3;
    let hot = |i: usize, e: &Event| e.ts >= now - 40 * MINUTE || i == late;
    let compacted: Vec<Event> = events.iter().enumerate().filter(|&(i, e)| !hot(i, e)).map(|(_, e)| e.clone()).collect();
    let mut stored = Vec::new();
    for day in 0..4 {
        let mut builder = Builder::new(Hours { lo: START + day * DAY, hi: START + (day + 1) * DAY });
        builder.add_events(&compacted);
        stored.extend(builder.finish());
    }
    let hot_ts = events.iter().enumerate().filter(|&(i, e)| hot(i, e)).map(|(_, e)| e.ts).collect();
    Site { events, stored, hot_ts }
}

fn full_scan(plan: &Plan, range: TimeRange, buckets: Option<&[i64]>, events: &[Event]) -> Answer {
    let seg = segment::build(events).unwrap();
    let zones = vec![(seg.zone.ts_min, seg.zone.ts_max)];
    scan_all(plan, range, buckets.map(<[i64]>::to_vec), zones, &[&seg.bytes], 1, || {}).unwrap()
}

/// The rollup path's answer ([`answer_from_rollups`], whatever the cost), with the rows
/// read from memory as `tally.query` reads them from its tables.
fn from_rollups(plan: &Plan, range: TimeRange, buckets: Option<&[i64]>, site: &Site) -> Option<Answer> {
    from_rollups_costing(plan, range, buckets, site, 0)
}

/// [`from_rollups`] taking the rollups only with `min_events_per_row` events a row.
fn from_rollups_costing(plan: &Plan, range: TimeRange, buckets: Option<&[i64]>, site: &Site, min_events_per_row: i64) -> Option<Answer> {
    // The events as compaction stores them, a segment per day, the hot ones apart.
    let (hot, stored): (Vec<Event>, Vec<Event>) = site.events.iter().cloned().partition(|e| site.hot_ts.contains(&e.ts));
    let segments: Vec<_> = stored.chunk_by(|a, b| a.ts / DAY == b.ts / DAY).map(|day| segment::build(day).unwrap()).collect();
    let mut reads = MemoryReads { site, segments: segments.iter().map(|s| s.bytes.as_slice()).collect(), hot, stored_events: stored.len() };
    answer_from_rollups(&mut reads, &mut EdgeCache::default(), min_events_per_row, plan, range, buckets).unwrap()
}

/// A site's rollup rows, segments and hot rows held in memory. Every day and week has
/// rows: the sums of its hourly rows, as the daily build stores them.
struct MemoryReads<'s> {
    site: &'s Site,
    segments: Vec<&'s [u8]>,
    hot: Vec<Event>,
    stored_events: usize,
}

impl MemoryReads<'_> {
    /// The rows [`RollupReads::rows`] passes on, with their visitors.
    fn split_rows(&self, dimension: &str, split: &Split, values: Option<&[Option<String>]>) -> Vec<Row> {
        let of =
            |lo: i64, hi: i64| self.site.stored.iter().filter(move |r| r.dimension == dimension && (lo..hi).contains(&r.hour)).cloned();
        let mut rows: Vec<Row> = split.hours.iter().flat_map(|&(lo, hi)| of(lo, hi)).collect();
        let periods = split.days.iter().map(|&d| (d, DAY)).chain(split.weeks.iter().map(|&w| (w, 7 * DAY)));
        for (start, length) in periods {
            let mut sums = RowSums::new(false);
            of(start, start + length).try_for_each(|r| sums.add(r)).unwrap();
            rows.extend(sums.finish().into_iter().map(|r| Row { hour: start, ..r }));
        }
        rows.retain(|r| values.is_none_or(|values| values.contains(&r.value)));
        rows
    }
}

impl<'s> RollupReads<'s> for MemoryReads<'s> {
    fn site_id(&self) -> i32 {
        1
    }

    fn hot_times(&mut self, from_us: i64, to_us: i64) -> Vec<i64> {
        self.site.hot_ts.iter().copied().filter(|t| (from_us..to_us).contains(t)).collect()
    }

    fn open_hours(&mut self, from_us: i64, to_us: i64) -> Vec<i64> {
        let open = |r: &&Row| r.dimension == "total" && r.open_visits > 0 && (from_us..to_us).contains(&r.hour);
        self.site.stored.iter().filter(open).map(|r| r.hour).collect()
    }

    fn settled_until(&mut self) -> Option<i64> {
        Some(i64::MAX)
    }

    fn built(&mut self, _: RollupPeriod, starts: &[i64]) -> Vec<i64> {
        starts.to_vec()
    }

    fn segment_events(&mut self, _: i64, _: i64) -> i64 {
        self.stored_events as i64
    }

    fn count_rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, limit: i64) -> i64 {
        (self.split_rows(dimension, split, values).len() as i64).min(limit)
    }

    fn rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, each: &mut dyn FnMut(Row)) {
        self.split_rows(dimension, split, values).into_iter().for_each(each);
    }

    fn value_counts(&mut self, dimension: &'static str, split: &Split) -> Vec<Row> {
        let mut sums = RowSums::new(false);
        for row in self.split_rows(dimension, split, None) {
            sums.add(Row { visitors: Hll::new(VISITOR_PARAMS), ..row }).unwrap();
        }
        sums.finish()
    }

    fn segments(&mut self, _: &[(i64, i64)]) -> Vec<(i64, &'s [u8])> {
        self.segments.iter().enumerate().map(|(i, &bytes)| (i as i64, bytes)).collect()
    }

    fn hot_events(&mut self, _: i64, _: i64) -> Vec<Event> {
        self.hot.clone()
    }
}

/// [`RollupPlan::answer`] over the stored rows of `plan`'s breakdown summed per value,
/// only the values `pick` chooses with their sketches: a top-N breakdown read with the
/// sketches of other values than [`RollupPlan::sketched`] would choose.
fn from_rollups_sketching(plan: &Plan, range: TimeRange, site: &Site, pick: Pick) -> Option<Answer> {
    let rp = RollupPlan::new(plan, range, None, &site.hot_ts, &[], i64::MAX)?;
    let covered = |dimension: &str| -> Vec<Row> {
        let covered = |r: &&Row| r.dimension == dimension && rp.covered().iter().any(|&(lo, hi)| (lo..hi).contains(&r.hour));
        site.stored.iter().filter(covered).cloned().collect()
    };
    let mut rows: Vec<Vec<Row>> = rp.dimensions().iter().map(|&(dimension, _)| covered(dimension)).collect();
    let mut sums = RowSums::new(false);
    rows[0].drain(..).try_for_each(|r| sums.add(r)).unwrap();
    rows[0] = sums.finish();
    let visits: Vec<(Option<String>, i64)> = rows[0].iter().map(|r| (r.value.clone(), r.acc.visits as i64)).collect();
    let sketched = pick(&visits);
    let mut unsketched = Vec::new();
    for row in &mut rows[0] {
        if !sketched.contains(&row.value) {
            row.visitors = Hll::new(VISITOR_PARAMS);
            unsketched.push(row.value.clone());
        }
    }
    let (hot, stored): (Vec<Event>, Vec<Event>) = site.events.iter().cloned().partition(|e| site.hot_ts.contains(&e.ts));
    let segments: Vec<_> = stored.chunk_by(|a, b| a.ts / DAY == b.ts / DAY).map(|day| segment::build(day).unwrap()).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| s.bytes.as_slice()).collect();
    let edges = rp.edge_visits(&bytes, hot).unwrap()?;
    rp.answer(plan, None, &rows, &[unsketched], &edges).unwrap()
}

/// Picks, from the values of a breakdown and their visits, those whose sketches to read.
type Pick<'a> = &'a dyn Fn(&[(Option<String>, i64)]) -> Vec<Option<String>>;

fn sorted(mut groups: Vec<Group>) -> Vec<Group> {
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    groups
}

/// Exact figures equal, visitors within 2% (exact below the sketch's explicit limit).
fn assert_same(query: &Value, got: &Answer, expected: &Answer) {
    for (got, expected) in got.views.iter().zip(&expected.views) {
        let (got, expected) = (sorted(got.clone()), sorted(expected.clone()));
        assert_eq!(got.len(), expected.len(), "{query}: groups");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!((&g.key, g.acc), (&e.key, e.acc), "{query}");
            let error = (g.visitors as f64 - e.visitors as f64).abs() / e.visitors as f64;
            assert!(error <= 0.02, "{query}: {:?} visitors {} vs {}", g.key, g.visitors, e.visitors);
        }
    }
}

const METRICS: [&str; 8] = ["visitors", "visits", "pageviews", "events", "views_per_visit", "bounce_rate", "visit_duration", "percentage"];

#[test]
fn every_eligible_metric_and_dimension_equals_the_full_scan() {
    let site = site();
    let aligned = TimeRange { from_us: START + DAY, to_us: START + 4 * DAY };
    let unaligned = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let daily: Vec<i64> = (1..4).map(|d| START + d * DAY).collect();
    let hourly: Vec<i64> = (24..96).map(|h| START + h * HOUR_US).collect();
    let cases: [(&str, TimeRange, Option<&[i64]>); 9] = [
        ("", aligned, None),
        ("event:page", aligned, None),
        ("event:name", aligned, None),
        ("visit:country", aligned, None),
        ("visit:device", unaligned, None),
        ("time:day", aligned, Some(&daily)),
        ("time:hour", aligned, Some(&hourly)),
        ("", unaligned, None),
        ("event:page", unaligned, None),
    ];
    for (dimension, range, buckets) in cases {
        let dimensions: Vec<&str> = [dimension].into_iter().filter(|d| !d.is_empty()).collect();
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": METRICS, "dimensions": dimensions, "include": {"totals": true}});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        let got = from_rollups(&plan, range, buckets, &site).unwrap_or_else(|| panic!("{query}: not answered from rollups"));
        assert_same(&query, &got, &full_scan(&plan, range, buckets, &site.events));
    }
}

#[test]
fn the_coverage_leaves_out_hours_near_hot_rows_open_visits_and_unsettled_hours() {
    let query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"]});
    let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
    let range = TimeRange { from_us: START, to_us: START + DAY };
    let hot = [START + 10 * HOUR_US + 5 * MINUTE];
    let open = [START + 2 * HOUR_US];
    let rp = RollupPlan::new(&plan, range, None, &hot, &open, i64::MAX).unwrap();
    // A hot row at 10:05 keeps 07:00-10:59 uncovered (its compaction recomputes the
    // hours from 3 hours before it, where its visit may have started); an open visit
    // 02:00.
    let hours = |h: i64| START + h * HOUR_US;
    assert_eq!(rp.covered(), [(hours(0), hours(2)), (hours(3), hours(7)), (hours(11), hours(24))]);
    // Hours from the settle point on have no rows yet.
    let rp = RollupPlan::new(&plan, range, None, &hot, &open, hours(20)).unwrap();
    assert_eq!(rp.covered(), [(hours(0), hours(2)), (hours(3), hours(7)), (hours(11), hours(20))]);
    let filtered = json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"], "filters": [["is", "event:page", ["/"]]]});
    let plan = Plan::new(parse(&filtered).unwrap(), Vec::new()).unwrap();
    assert!(RollupPlan::new(&plan, range, None, &[], &[], i64::MAX).is_none(), "filters need the scan");
    for (dimension, metrics) in [("visit:source", json!(["visitors", "pageviews"])), ("visit:entry_page", json!(["visits", "events"]))] {
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": metrics, "dimensions": [dimension]});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        assert!(RollupPlan::new(&plan, range, None, &[], &[], i64::MAX).is_none(), "{query} needs the scan");
    }
}

#[test]
fn a_filter_on_the_breakdown_dimension_drops_groups_as_the_scan_does() {
    let site = site();
    let range = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let metrics = ["visitors", "visits", "pageviews", "events", "views_per_visit", "bounce_rate", "visit_duration"];
    let cases = [
        ("event:name", json!([["is_not", "event:name", ["pageview", "engagement"]]])),
        ("event:page", json!([["matches", "event:page", ["^/[a-m]"]]])),
        ("visit:country", json!([["is", "visit:country", ["US", "DE"]]])),
        ("visit:country", json!([["not", ["is", "visit:country", ["US"]]]])),
    ];
    for (dimension, filters) in cases {
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": metrics, "dimensions": [dimension], "filters": filters});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        let got = from_rollups(&plan, range, None, &site).unwrap_or_else(|| panic!("{query}: not answered from rollups"));
        let expected = full_scan(&plan, range, None, &site.events);
        assert!(!expected.views[0].is_empty(), "{query}: the case keeps some groups");
        assert_same(&query, &got, &expected);
    }
    // A filter on another dimension, or totals beside the groups: the scan.
    for query in [
        json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"], "dimensions": ["event:page"], "filters": [["is", "visit:country", ["US"]]]}),
        json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors", "percentage"], "dimensions": ["event:name"], "filters": [["is", "event:name", ["Signup"]]]}),
    ] {
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        assert!(RollupPlan::new(&plan, range, None, &[], &[], i64::MAX).is_none(), "{query} needs the scan");
    }
}

#[test]
fn totals_and_time_buckets_filtered_by_a_visit_attribute_equal_the_full_scan() {
    let site = site();
    let aligned = TimeRange { from_us: START + DAY, to_us: START + 4 * DAY };
    let unaligned = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let daily: Vec<i64> = (1..4).map(|d| START + d * DAY).collect();
    let hourly: Vec<i64> = (24..96).map(|h| START + h * HOUR_US).collect();
    let filters = [
        json!([["is", "visit:country", ["US"]]]),
        json!([["is", "visit:country", ["US", "DE"]]]),
        json!([["is_not", "visit:device", ["mobile"]]]),
        json!([["or", [["is", "visit:browser", ["Chrome"]], ["contains", "visit:browser", ["fox"]]]]]),
    ];
    for filter in &filters {
        let cases: [(&str, TimeRange, Option<&[i64]>); 4] =
            [("", aligned, None), ("", unaligned, None), ("time:day", aligned, Some(&daily)), ("time:hour", aligned, Some(&hourly))];
        for (dimension, range, buckets) in cases {
            let dimensions: Vec<&str> = [dimension].into_iter().filter(|d| !d.is_empty()).collect();
            let query = json!({"site_id": 1, "date_range": "30d", "metrics": METRICS, "dimensions": dimensions,
                               "filters": filter, "include": {"totals": true}});
            let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
            let got = from_rollups(&plan, range, buckets, &site).unwrap_or_else(|| panic!("{query}: not answered from rollups"));
            let expected = full_scan(&plan, range, buckets, &site.events);
            assert!(expected.views[0].iter().any(|g| g.visitors > 0), "{query}: the filter keeps visitors");
            assert_same(&query, &got, &expected);
        }
    }
    // A filter on two attributes, or on an event's own value, keeps the scan.
    for filter in [json!([["is", "visit:country", ["US"]], ["is", "visit:device", ["mobile"]]]), json!([["is", "event:page", ["/"]]])] {
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"], "filters": filter});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        assert!(RollupPlan::new(&plan, aligned, None, &[], &[], i64::MAX).is_none(), "{query} needs the scan");
    }
}

#[test]
fn sources_utm_tags_and_entry_pages_with_visit_metrics_equal_the_full_scan() {
    let site = site();
    let aligned = TimeRange { from_us: START + DAY, to_us: START + 4 * DAY };
    let unaligned = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let metrics = ["visitors", "visits", "views_per_visit", "bounce_rate", "visit_duration", "percentage"];
    let dimensions = [
        "visit:source",
        "visit:utm_source",
        "visit:utm_medium",
        "visit:utm_campaign",
        "visit:utm_term",
        "visit:utm_content",
        "visit:entry_page",
    ];
    for dimension in dimensions {
        for range in [aligned, unaligned] {
            let query =
                json!({"site_id": 1, "date_range": "30d", "metrics": metrics, "dimensions": [dimension], "include": {"totals": true}});
            let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
            let got = from_rollups(&plan, range, None, &site).unwrap_or_else(|| panic!("{query}: not answered from rollups"));
            // Acquisition and entry groups leave out the event figures the query did not ask for.
            let mut expected = full_scan(&plan, range, None, &site.events);
            for group in &mut expected.views[0] {
                (group.acc.pageviews, group.acc.events) = (0, 0);
            }
            assert_same(&query, &got, &expected);
        }
    }
}

#[test]
fn an_edge_visit_longer_than_the_margin_falls_back_to_the_scan() {
    let query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visits"]});
    let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
    let range = TimeRange { from_us: START + DAY, to_us: START + 2 * DAY };
    // One visit with an event every 20 minutes from 18:00 the day before to 06:00.
    let events: Vec<Event> = (0..37)
        .map(|i| Event {
            site_id: 1,
            ts: START + 18 * HOUR_US + i * 20 * MINUTE,
            name: "pageview".into(),
            session_id: 7,
            ..Event::default()
        })
        .collect();
    let rp = RollupPlan::new(&plan, range, None, &[], &[], i64::MAX).unwrap();
    assert!(matches!(rp.edge_visits(&[], events), Ok(None)), "the edge visit was not read whole");
}

#[test]
fn a_visit_with_two_countries_keeps_visit_country_on_the_scan() {
    let query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visits"], "dimensions": ["visit:country"]});
    let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
    let range = TimeRange { from_us: START, to_us: START + DAY };
    let at = |minute: i64, country: &str| Event {
        site_id: 1,
        ts: START + 12 * HOUR_US + minute * MINUTE,
        name: "pageview".into(),
        session_id: 7,
        country: Some(country.into()),
        ..Event::default()
    };
    for (events, answered) in [([at(0, "DE"), at(5, "DE")], true), ([at(0, "DE"), at(5, "FR")], false)] {
        let mut builder = Builder::new(Hours { lo: START, hi: START + DAY });
        builder.add_events(&events);
        let site = Site { events: events.to_vec(), stored: builder.finish(), hot_ts: Vec::new() };
        assert_eq!(from_rollups(&plan, range, None, &site).is_some(), answered, "{events:?}");
    }
}

#[test]
fn short_ranges_and_hourly_visit_figures_read_too_much_raw() {
    let plan_of = |query: Value| Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
    let aggregate = plan_of(json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"]}));
    let days = |n: i64| TimeRange { from_us: START, to_us: START + n * DAY };
    let reads_little = |plan: &Plan, range: TimeRange, buckets: Option<&[i64]>| {
        RollupPlan::new(plan, range, buckets, &[], &[], i64::MAX).unwrap().reads_little()
    };
    assert!(reads_little(&aggregate, days(7), None), "a week's ends are read raw, little of it");
    assert!(!reads_little(&aggregate, days(1), None), "a day scans as fast as the rollup path");
    let hourly = plan_of(json!({"site_id": 1, "date_range": "7d", "metrics": ["visits"], "dimensions": ["time:hour"]}));
    let hours: Vec<i64> = (0..7 * 24).map(|h| START + h * HOUR_US).collect();
    assert!(!reads_little(&hourly, days(7), Some(&hours)), "every hour's start is an edge read raw");
    let daily = plan_of(json!({"site_id": 1, "date_range": "7d", "metrics": ["visits"], "dimensions": ["time:day"]}));
    let starts: Vec<i64> = (0..7).map(|d| START + d * DAY).collect();
    assert!(reads_little(&daily, days(7), Some(&starts)), "a day's start is an edge of 8 hours in 24");
}

#[test]
fn the_cost_sample_takes_every_fifth_day_of_the_covered_hours() {
    let day = 24 * HOUR_US;
    let start = 1_704_067_200_000_000;
    let plan = Plan::new(
        parse(&json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"], "dimensions": ["visit:country"]})).unwrap(),
        vec![],
    )
    .unwrap();
    let rollup =
        RollupPlan::new(&plan, TimeRange { from_us: start, to_us: start + 30 * day + 5 * HOUR_US }, None, &[], &[], i64::MAX).unwrap();
    let (sample, share) = rollup.cost_sample();
    let starts: Vec<i64> = sample.iter().map(|&(lo, _)| (lo - start) / day).collect();
    assert_eq!(starts, [0, 5, 10, 15, 20, 25, 30]);
    assert_eq!(sample.last(), Some(&(start + 30 * day, start + 30 * day + 5 * HOUR_US)));
    assert!((share - (6.0 * 24.0 + 5.0) / (30.0 * 24.0 + 5.0)).abs() < 1e-9, "{share}");
    // Less than a day: the whole of it.
    let short = RollupPlan::new(&plan, TimeRange { from_us: start, to_us: start + 7 * HOUR_US }, None, &[], &[], i64::MAX).unwrap();
    assert_eq!(short.cost_sample(), (vec![(start, start + 7 * HOUR_US)], 1.0));
}

#[test]
fn a_top_breakdown_needs_the_sketches_of_its_most_visited_values_only() {
    let site = site();
    let range = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let rendered = |plan: &Plan, answer: Answer| {
        let period = Period { answer, from_label: "from".into(), to_label: "to".into(), bucket_labels: Vec::new(), from_rollups: true };
        render(plan, &period, None)
    };
    for (dimension, metrics) in [
        ("event:page", json!(["visitors", "pageviews", "bounce_rate"])),
        ("visit:country", json!(["visitors", "visits", "percentage"])),
        ("visit:entry_page", json!(["visitors", "visits", "visit_duration"])),
    ] {
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": metrics, "dimensions": [dimension], "pagination": {"limit": 3}});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        let shown = RollupPlan::top(&plan).unwrap();
        assert_eq!(shown, 3);
        let every_value = |visits: &[(Option<String>, i64)]| visits.iter().map(|v| v.0.clone()).collect();
        let whole = from_rollups_sketching(&plan, range, &site, &every_value).unwrap();
        assert!(whole.views[0].len() > 2 * shown + 16, "{dimension}: some values go unsketched");
        // The driver reads the sketches of the most visited values alone.
        let top = from_rollups(&plan, range, None, &site).unwrap();
        assert_eq!(top.views[0].len(), whole.views[0].len(), "{dimension}: every group counts in total_rows");
        assert_eq!(rendered(&plan, top), rendered(&plan, whole), "{dimension}");
        // Sketches of the least visited values alone cannot tell the top: read them all.
        let least_visited = |visits: &[(Option<String>, i64)]| {
            let mut order = visits.to_vec();
            order.sort_by_key(|v| v.1);
            order.into_iter().take(2 * shown + 16).map(|v| v.0).collect()
        };
        assert_eq!(from_rollups_sketching(&plan, range, &site, &least_visited), None, "{dimension}");
    }
    // Only a breakdown ordered by visitors, compared with nothing, shows its top alone.
    for other in [
        json!({"dimensions": ["event:page"], "order_by": [["visits", "desc"]]}),
        json!({"dimensions": ["event:page"], "include": {"comparisons": {"mode": "previous_period"}}}),
        json!({"dimensions": ["time:day"]}),
        json!({"dimensions": ["event:goal"]}),
        json!({}),
    ] {
        let mut query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors", "visits"]});
        query.as_object_mut().unwrap().extend(other.as_object().unwrap().clone());
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        assert_eq!(RollupPlan::top(&plan), None, "{query}");
    }
}

#[test]
fn rollups_are_read_only_where_each_row_stands_for_enough_events() {
    let site = site();
    let range = TimeRange { from_us: START + DAY - 30 * MINUTE, to_us: START + 3 * DAY + 90 * MINUTE };
    let plan_of = |dimensions: Value| {
        let query = json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors", "visits"], "dimensions": dimensions});
        Plan::new(parse(&query).unwrap(), Vec::new()).unwrap()
    };
    let (totals, pages) = (plan_of(json!([])), plan_of(json!(["event:page"])));
    // 40,000 events: three days of `total` rows are 3 a day (daily rows, hourly ones at
    // the ends), of page rows some thousands.
    assert!(from_rollups_costing(&totals, range, None, &site, 100).is_some(), "totals pay");
    assert!(from_rollups_costing(&pages, range, None, &site, 100).is_none(), "pages cost more than the scan");
    assert!(from_rollups_costing(&pages, range, None, &site, 1).is_some(), "a row per event is allowed");
}

#[test]
fn channel_breakdowns_and_filters_keep_the_scan() {
    // Rollups keep no channel rows: every query that reads a visit's channel is a scan.
    let aligned = TimeRange { from_us: START + DAY, to_us: START + 4 * DAY };
    let channel = json!([["is", "visit:channel", ["Organic Search"]]]);
    for (dimensions, filters) in [
        (json!(["visit:channel"]), json!([])),
        (json!(["visit:channel"]), channel.clone()),
        (json!([]), channel.clone()),
        (json!(["visit:country"]), channel),
    ] {
        let query =
            json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors", "visits"], "dimensions": dimensions, "filters": filters});
        let plan = Plan::new(parse(&query).unwrap(), Vec::new()).unwrap();
        assert!(RollupPlan::new(&plan, aligned, None, &[], &[], i64::MAX).is_none(), "{query} needs the scan");
    }
}
