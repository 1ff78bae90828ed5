//! The rollup path of `tally.query`: reads what `tally_core::query::RollupPlan` asks
//! for (hot row times, the settle point, rollup rows of the covered hours, weekly and daily rows for
//! their whole weeks and days that have them, raw events around the edges) and lets it answer. Everything it decides is in tally-core.

use std::collections::{HashMap, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::query::{Answer, EdgeVisits, Plan, RollupPlan, TimeRange};
use tally_core::rollup::periods::{Period, Split};
use tally_core::rollup::{Row, RowSums, DIMENSIONS, VISITOR_PARAMS};
use tally_core::segment::SegmentError;
use tally_core::sketch::hll::Hll;

use crate::gucs;
use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};
use crate::storage::hot_scan::hot_events;

fn fail(what: &str, e: pgrx::spi::SpiError) -> ! {
    error!("tally.query from rollups: {what}: {e}")
}

/// Edge visits found for the queries of one statement, by site and
/// [`RollupPlan::edge_key`], with the ids of the segments they were read from (to name
/// one that cannot be decoded): a dashboard's panels over one range read and decode the
/// segments around its edges once, not once per panel (a third of a rollup answer).
/// The segments' bytes stay valid until the SPI connection `'c` ends.
#[derive(Default)]
pub(crate) struct EdgeCache<'c> {
    found: HashMap<(i32, EdgeKey), Option<Found<'c>>>,
}

type EdgeKey = (Vec<(i64, i64)>, Vec<(i64, i64)>);

/// Edge visits and the ids of the segments (by index) they were read from.
struct Found<'c> {
    ids: Vec<i64>,
    visits: EdgeVisits<'c>,
}

/// The answer from rollups, or `None` when the query is not eligible, no hour of it
/// is covered, or an edge visit was not read whole (the caller scans).
pub(crate) fn answer<'c>(
    client: &'c SpiClient<'_>,
    plan: &Plan,
    site_id: i32,
    range: TimeRange,
    buckets: Option<&[i64]>,
    edges: &mut EdgeCache<'c>,
) -> Option<Answer> {
    if !gucs::QUERY_ROLLUPS.get() || !RollupPlan::eligible(plan, buckets) {
        return None;
    }
    let (hot_from, hot_to) = RollupPlan::hot_window(range);
    let hot: Vec<i64> = client
        .select(
            "SELECT ts FROM tally.events_hot WHERE site_id = $1 AND ts >= $2 AND ts < $3",
            None,
            &[site_id.into(), from_unix_us(hot_from).into(), from_unix_us(hot_to).into()],
        )
        .unwrap_or_else(|e| fail("reading hot row times", e))
        .filter_map(|r| r.value::<TimestampWithTimeZone>(1).map(to_unix_us))
        .collect();
    let open: Vec<i64> = client
        .select(
            "SELECT hour FROM tally.rollups WHERE site_id = $1 AND dimension = 'total' AND hour >= $2 AND hour < $3 \
             AND open_visits > 0",
            None,
            &[site_id.into(), from_unix_us(range.from_us).into(), from_unix_us(range.to_us).into()],
        )
        .unwrap_or_else(|e| fail("reading open hours", e))
        .filter_map(|r| r.value::<TimestampWithTimeZone>(1).map(to_unix_us))
        .collect();
    let settled_until: i64 = client
        .select("SELECT settled_until FROM tally.rollups_settled WHERE site_id = $1", None, &[site_id.into()])
        .unwrap_or_else(|e| fail("reading the settled hours", e))
        .next()
        .and_then(|r| r.value::<TimestampWithTimeZone>(1))
        .map_or(i64::MIN, to_unix_us);
    let rollup = RollupPlan::new(plan, range, buckets, &hot, &open, settled_until)?;
    let built = Built::read(client, site_id, rollup.covered());
    if !worth_it(client, plan, site_id, range, &rollup, &built) {
        return None;
    }
    // The first view's rows, when only its top groups are shown, with the sketches of
    // its most visited values alone (RollupPlan::top).
    let read = |top: Option<usize>| -> (Vec<Vec<Row>>, Vec<Vec<Option<String>>>) {
        rollup
            .dimensions()
            .into_iter()
            .enumerate()
            .map(|(v, (dim, hourly))| {
                let split = built.split(rollup.covered(), hourly);
                let values = rollup.values(plan, v);
                match top.filter(|_| v == 0 && !hourly && values.is_none()) {
                    Some(shown) => top_rows(client, site_id, &split, dim, shown),
                    None => (rows(client, site_id, &split, dim, hourly, values.as_deref()), Vec::new()),
                }
            })
            .unzip()
    };
    let (rows, unsketched) = read(RollupPlan::top(plan));
    let key = (site_id, rollup.edge_key());
    if !edges.found.contains_key(&key) {
        let (ids, segments) = segments(client, site_id, rollup.reads());
        let hot = match (rollup.reads().first(), rollup.reads().last()) {
            (Some(first), Some(last)) => hot_events(client, site_id, from_unix_us(first.0), from_unix_us(last.1)),
            _ => Vec::new(),
        };
        let found = rollup.edge_visits(&segments, hot).unwrap_or_else(|(i, e)| undecodable(ids[i], e));
        edges.found.insert(key.clone(), found.map(|visits| Found { ids, visits }));
    }
    let found = edges.found[&key].as_ref()?;
    let answer = |rows: &[Vec<Row>], unsketched: &[Vec<Option<String>>]| {
        rollup.answer(plan, buckets, rows, unsketched, &found.visits).unwrap_or_else(|(i, e)| undecodable(found.ids[i], e))
    };
    match answer(&rows, &unsketched) {
        // A value read without its sketch might be shown: read them all.
        None if unsketched.iter().any(|u| !u.is_empty()) => answer(&read(None).0, &[]),
        answered => answered,
    }
}

fn undecodable(segment_id: i64, e: SegmentError) -> ! {
    error!("segment {segment_id} of tally.segments cannot be decoded: {e}")
}

/// The relation `r(hour, value, events, ...)` of the rollup rows of the dimensions
/// `$2` (text[]) of site `$1` over a [`Split`]: hourly rows of the hours between `$3`
/// and `$4` (timestamptz[] of starts and ends), daily rows of the days `$5` and weekly
/// rows of the weeks `$6` (timestamptz[]), which start their `hour`.
const SPLIT_ROWS: &str = "(SELECT r.hour, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us, \
         r.visit_pageviews, r.mixed_visits, r.visitors \
     FROM tally.rollups r JOIN unnest($3::timestamptz[], $4::timestamptz[]) AS u(lo, hi) ON r.hour >= u.lo AND r.hour < u.hi \
     WHERE r.site_id = $1 AND r.dimension = ANY($2) \
     UNION ALL \
     SELECT d.day, d.value, d.events, d.pageviews, d.visits, d.bounces, d.visit_duration_us, d.visit_pageviews, \
         d.mixed_visits, d.visitors \
     FROM tally.rollups_daily d WHERE d.site_id = $1 AND d.day = ANY($5::timestamptz[]) AND d.dimension = ANY($2) \
     UNION ALL \
     SELECT w.week, w.value, w.events, w.pageviews, w.visits, w.bounces, w.visit_duration_us, w.visit_pageviews, \
         w.mixed_visits, w.visitors \
     FROM tally.rollups_weekly w WHERE w.site_id = $1 AND w.week = ANY($6::timestamptz[]) AND w.dimension = ANY($2)) r";

/// The arguments `$1` to `$6` of [`SPLIT_ROWS`].
fn split_args(site_id: i32, dimensions: Vec<&str>, split: &Split) -> Vec<DatumWithOid<'static>> {
    let starts = |s: &[i64]| s.iter().map(|&t| from_unix_us(t)).collect::<Vec<_>>();
    vec![
        site_id.into(),
        dimensions.into(),
        timestamps(&split.hours, |s| s.0).into(),
        timestamps(&split.hours, |s| s.1).into(),
        starts(&split.days).into(),
        starts(&split.weeks).into(),
    ]
}

/// The whole weeks and days of the covered hours that have weekly and daily rows.
struct Built {
    weeks: Vec<i64>,
    days: Vec<i64>,
}

impl Built {
    fn read(client: &SpiClient<'_>, site_id: i32, covered: &[(i64, i64)]) -> Built {
        Built {
            weeks: built(client, site_id, Period::Week.whole(covered), "tally.rollups_weekly", "week"),
            days: built(client, site_id, Period::Day.whole(covered), "tally.rollups_daily", "day"),
        }
    }

    /// How to read `spans`: per hour when `hourly`, else from the built periods where
    /// they lie wholly inside.
    fn split(&self, spans: &[(i64, i64)], hourly: bool) -> Split {
        if hourly {
            Split::hourly(spans)
        } else {
            Split::new(spans, &self.weeks, &self.days)
        }
    }
}

/// Of `starts`, those with rows in `table` (its `total` row says so).
fn built(client: &SpiClient<'_>, site_id: i32, starts: Vec<i64>, table: &str, column: &str) -> Vec<i64> {
    if starts.is_empty() {
        return Vec::new();
    }
    let starts: Vec<TimestampWithTimeZone> = starts.into_iter().map(from_unix_us).collect();
    client
        .select(
            &format!("SELECT {column} FROM {table} WHERE site_id = $1 AND {column} = ANY($2) AND dimension = 'total'"),
            None,
            &[site_id.into(), starts.into()],
        )
        .unwrap_or_else(|e| fail("reading which periods have rollup rows", e))
        .filter_map(|r| r.value::<TimestampWithTimeZone>(1).map(to_unix_us))
        .collect()
}

/// Whether the rollups save work: the plan reads little raw ([`RollupPlan::reads_little`])
/// and the range has `tally.query_rollup_min_events_per_row` events per rollup row to
/// read (rows counted in the index over [`RollupPlan::cost_sample`], weekly and daily
/// rows for the `built` periods, events from the segments' row counts). A setting of
/// 0 takes the rollups whenever they can answer.
fn worth_it(client: &SpiClient<'_>, plan: &Plan, site_id: i32, range: TimeRange, rollup: &RollupPlan, built: &Built) -> bool {
    let per_row = i64::from(gucs::QUERY_ROLLUP_MIN_EVENTS_PER_ROW.get());
    if per_row == 0 {
        return true;
    }
    if !rollup.reads_little() {
        return false;
    }
    let count = |sql: &str, args: &[pgrx::datum::DatumWithOid]| -> i64 {
        client
            .select(sql, Some(1), args)
            .unwrap_or_else(|e| fail("estimating the cost", e))
            .first()
            .get_one::<i64>()
            .ok()
            .flatten()
            .unwrap_or(0)
    };
    let events = count(
        "SELECT coalesce(sum(row_count), 0)::int8 FROM tally.segments WHERE site_id = $1 AND max_ts >= $2 AND min_ts < $3",
        &[site_id.into(), from_unix_us(range.from_us).into(), from_unix_us(range.to_us).into()],
    );
    // The rows of a sample of the covered days stand for all of them; counting stops
    // one row past the most the rule allows there: the answer is the same, and a site
    // with hundreds of thousands of page rows costs a short index read, not a count of
    // all of them (38 ms for the 3.1M-event bench site's pages).
    let (sample, share) = rollup.cost_sample();
    let allowed = (events as f64 * share) as i64 / per_row;
    let rows: i64 = rollup
        .dimensions()
        .into_iter()
        .enumerate()
        .map(|(v, (dim, hourly))| {
            let mut args = split_args(site_id, vec![dim], &built.split(&sample, hourly));
            let only = only_values(rollup.values(plan, v).as_deref(), &mut args);
            args.push((allowed + 1).into());
            count(&format!("SELECT count(*) FROM (SELECT FROM {SPLIT_ROWS}{only} LIMIT ${}) capped", args.len()), &args)
        })
        .sum();
    rows <= allowed
}

fn timestamps(spans: &[(i64, i64)], end: fn(&(i64, i64)) -> i64) -> Vec<TimestampWithTimeZone> {
    spans.iter().map(|s| from_unix_us(end(s))).collect()
}

/// The rows of `dimension` over `split` (the covered hours): per hour when `hourly`
/// (the split then reads no weeks or days), else summed per value ([`RowSums`]); only
/// those of `values` when given.
fn rows(client: &SpiClient<'_>, site_id: i32, split: &Split, dimension: &str, hourly: bool, values: Option<&[Option<String>]>) -> Vec<Row> {
    let dimension = rollup_dimension(dimension);
    let mut sql = format!(
        "SELECT r.hour, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us, r.visit_pageviews, \
                r.mixed_visits, r.visitors::bytea FROM {SPLIT_ROWS}"
    );
    let mut args = split_args(site_id, vec![dimension], split);
    sql.push_str(&only_values(values, &mut args));
    let mut sums = RowSums::new(hourly);
    for r in client.select(&sql, None, &args).unwrap_or_else(|e| fail("reading rollup rows", e)) {
        let bytes: &[u8] = r.value(10).unwrap_or_default();
        let visitors = Hll::from_bytes(bytes).unwrap_or_else(|e| error!("a visitors sketch of tally.rollups: {e}"));
        sums.add(row_of(&r, dimension, visitors)).unwrap_or_else(|e| error!("a visitors sketch of tally.rollups: {e}"));
    }
    sums.finish()
}

/// The `WHERE` clause keeping the rows of [`SPLIT_ROWS`] of `values` (none without),
/// its arguments pushed onto `args`.
fn only_values(values: Option<&[Option<String>]>, args: &mut Vec<DatumWithOid<'static>>) -> String {
    let Some(values) = values else { return String::new() };
    let (list, null) = (args.len() + 1, args.len() + 2);
    args.push(values.iter().flatten().cloned().collect::<Vec<String>>().into());
    args.push(values.contains(&None).into());
    format!(" WHERE r.value = ANY(${list}) OR (${null} AND r.value IS NULL)")
}

/// The rows of `dimension` over `split` summed per value for an answer showing its
/// `shown` groups with the most visitors: every value's counts summed by SQL, without
/// a sketch, then the sketches of the most visited ([`RollupPlan::sketched`]). The
/// values left without are returned beside the rows. A 30-day top 10 of the bench's
/// large site reads 20,000 page rows' counts and 36 pages' sketches (the whole
/// question: 70 -> 35 ms).
fn top_rows(client: &SpiClient<'_>, site_id: i32, split: &Split, dimension: &str, shown: usize) -> (Vec<Row>, Vec<Option<String>>) {
    let dimension = rollup_dimension(dimension);
    let sql = format!(
        "SELECT min(r.hour), r.value, sum(r.events)::int8, sum(r.pageviews)::int8, sum(r.visits)::int8, sum(r.bounces)::int8, \
                sum(r.visit_duration_us)::int8, sum(r.visit_pageviews)::int8, sum(r.mixed_visits)::int8 \
         FROM {SPLIT_ROWS} GROUP BY r.value"
    );
    let counts: Vec<Row> = client
        .select(&sql, None, &split_args(site_id, vec![dimension], split))
        .unwrap_or_else(|e| fail("reading rollup counts", e))
        .map(|r| row_of(&r, dimension, Hll::new(VISITOR_PARAMS)))
        .collect();
    let visits: Vec<(Option<String>, i64)> = counts.iter().map(|r| (r.value.clone(), r.visits)).collect();
    let sketched = RollupPlan::sketched(shown, &visits);
    if sketched.len() == counts.len() {
        return (rows(client, site_id, split, dimension, false, None), Vec::new());
    }
    let mut out = rows(client, site_id, split, dimension, false, Some(&sketched));
    let sketched: HashSet<&Option<String>> = sketched.iter().collect();
    let unsketched: Vec<Row> = counts.into_iter().filter(|r| !sketched.contains(&r.value)).collect();
    let values = unsketched.iter().map(|r| r.value.clone()).collect();
    out.extend(unsketched);
    (out, values)
}

/// The row of `dimension` in `r`, a result row whose columns 1 to 9 are hour, value,
/// events, pageviews, visits, bounces, visit_duration_us, visit_pageviews and
/// mixed_visits, with `visitors`.
fn row_of(r: &impl SpiValue, dimension: &'static str, visitors: Hll) -> Row {
    let int = |i: usize| r.value::<i64>(i).unwrap_or_default();
    Row {
        hour: r.value::<TimestampWithTimeZone>(1).map(to_unix_us).unwrap_or_default(),
        dimension,
        value: r.value(2),
        events: int(3),
        pageviews: int(4),
        visits: int(5),
        bounces: int(6),
        visit_duration_us: int(7),
        visit_pageviews: int(8),
        open_visits: 0,
        mixed_visits: int(9),
        engagement_ms: 0,
        visitors,
        visit_durations: None,
        engagement_times: None,
    }
}

/// `dimension` as the `'static` name [`Row`] holds.
fn rollup_dimension(dimension: &str) -> &'static str {
    DIMENSIONS.iter().find(|d| **d == dimension).copied().unwrap_or_else(|| error!("no rollup dimension {dimension}"))
}

/// The ids and bytes of the site's segments overlapping `spans` (detoasted by this
/// thread; valid until SPI ends).
fn segments<'c>(client: &'c SpiClient<'_>, site_id: i32, spans: &[(i64, i64)]) -> (Vec<i64>, Vec<&'c [u8]>) {
    client
        .select(
            "SELECT s.segment_id, s.data FROM tally.segments s WHERE s.site_id = $1 AND EXISTS \
             (SELECT FROM unnest($2::timestamptz[], $3::timestamptz[]) AS u(lo, hi) WHERE s.max_ts >= u.lo AND s.min_ts < u.hi)",
            None,
            &[site_id.into(), timestamps(spans, |s| s.0).into(), timestamps(spans, |s| s.1).into()],
        )
        .unwrap_or_else(|e| fail("reading segments", e))
        .map(|row| {
            let id: i64 = row.value(1).unwrap_or_default();
            let data: &[u8] = row.value(2).unwrap_or_else(|| error!("segment {id} has no data"));
            (id, data)
        })
        .unzip()
}
