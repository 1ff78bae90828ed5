//! The rollup path of `tally.query`: the SPI reads behind
//! `tally_core::query::RollupReads` (hot row times, open hours, the settle point, the
//! periods that have daily and weekly rows, rollup rows and their counts, segments and
//! hot rows around the edges). `total` rows are heap rows (`tally.rollups` and its
//! daily and weekly sums); every other dimension is read from the days' blocks
//! (`tally.rollup_blocks`), a week as its seven days. Everything the answer decides is
//! in tally-core (`answer_from_rollups`).

use std::collections::{HashMap, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::Event;
use tally_core::query::{answer_from_rollups, Acc, Answer, EdgeCache, Plan, RollupReads, TimeRange};
use tally_core::rollup::block::{Block, Filter};
use tally_core::rollup::periods::{Period, Split, DAY_US};
use tally_core::rollup::{Row, RowSums, VISITOR_PARAMS};
use tally_core::sketch::hll::Hll;

use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};
use crate::storage::hot_scan::hot_events;
use crate::{gucs, rollup};

fn fail(what: &str, e: pgrx::spi::SpiError) -> ! {
    error!("tally.query from rollups: {what}: {e}")
}

/// The answer from rollups, or `None` when they cannot or should not answer (the
/// caller scans); `edges` holds the edge visits found for the statement's queries.
pub(crate) fn answer<'c>(
    client: &'c SpiClient<'_>,
    plan: &Plan,
    site_id: i32,
    range: TimeRange,
    buckets: Option<&[i64]>,
    edges: &mut EdgeCache<'c>,
) -> Option<Answer> {
    if !gucs::QUERY_ROLLUPS.get() {
        return None;
    }
    let min_events_per_row = i64::from(gucs::QUERY_ROLLUP_MIN_EVENTS_PER_ROW.get());
    let in_blocks = rollup::blocks::stored(client);
    answer_from_rollups(
        &mut SpiReads { client, site_id, in_blocks, blocks: HashMap::new() },
        edges,
        min_events_per_row,
        plan,
        range,
        buckets,
    )
    .unwrap_or_else(|e| error!("{e}"))
}

/// The reads of one site's rollups, segments and hot rows over SPI (the segments'
/// bytes stay valid until the SPI connection `'c` ends).
struct SpiReads<'c, 'a> {
    client: &'c SpiClient<'a>,
    site_id: i32,
    /// Whether dimensions other than `total` are read from blocks, not rows
    /// ([`rollup::blocks::stored`]).
    in_blocks: bool,
    /// The blocks read so far, by day (`None`: the day has none).
    blocks: HashMap<i64, Option<&'c [u8]>>,
}

impl<'c> SpiReads<'c, '_> {
    /// The stored blocks of `days`, read once per answer.
    fn load(&mut self, days: &[i64]) {
        let missing: Vec<TimestampWithTimeZone> = days.iter().filter(|d| !self.blocks.contains_key(d)).map(|&d| from_unix_us(d)).collect();
        if missing.is_empty() {
            return;
        }
        days.iter().for_each(|&d| {
            self.blocks.entry(d).or_insert(None);
        });
        let found = self
            .client
            .select(
                "SELECT day, data FROM tally.rollup_blocks WHERE site_id = $1 AND day = ANY($2)",
                None,
                &[self.site_id.into(), missing.into()],
            )
            .unwrap_or_else(|e| fail("reading rollup blocks", e));
        for row in found {
            let day = row.value::<TimestampWithTimeZone>(1).map(to_unix_us).unwrap_or_default();
            self.blocks.insert(day, row.value::<&'c [u8]>(2));
        }
    }

    /// Each entry of `dimension` in the blocks over `split` that is of `values` (when
    /// given), with its visitors when `visitors`.
    fn block_rows(
        &mut self,
        dimension: &'static str,
        split: &Split,
        values: Option<&[Option<String>]>,
        visitors: bool,
        each: &mut dyn FnMut(Row),
    ) {
        let mut spans: Vec<(i64, i64, i64)> = Vec::new();
        for &(lo, hi) in &split.hours {
            spans.extend(Period::Day.overlapping(lo, hi).into_iter().map(|day| (day, lo.max(day), hi.min(day + DAY_US))));
        }
        let days = split.days.iter().copied().chain(split.weeks.iter().flat_map(|&week| (0..7).map(move |d| week + d * DAY_US)));
        spans.extend(days.map(|day| (day, day, day + DAY_US)));
        self.load(&spans.iter().map(|s| s.0).collect::<Vec<_>>());
        for (day, from_us, to_us) in spans {
            let Some(bytes) = self.blocks[&day] else { continue };
            let filter = Filter { values, from_us, to_us, visitors };
            Block::open(bytes)
                .and_then(|block| block.rows(dimension, &filter, &mut *each))
                .unwrap_or_else(|e| error!("tally.query from rollups: the block of site {} at {day} µs: {e}", self.site_id));
        }
    }

    /// The one `int8` of `sql`, 0 when NULL.
    fn count(&self, sql: &str, args: &[DatumWithOid]) -> i64 {
        self.client
            .select(sql, Some(1), args)
            .unwrap_or_else(|e| fail("estimating the cost", e))
            .first()
            .get_one::<i64>()
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// The `timestamptz` column of `sql`'s rows.
    fn times(&self, sql: &str, args: &[DatumWithOid], what: &str) -> Vec<i64> {
        self.client
            .select(sql, None, args)
            .unwrap_or_else(|e| fail(what, e))
            .filter_map(|r| r.value::<TimestampWithTimeZone>(1).map(to_unix_us))
            .collect()
    }
}

impl<'c> RollupReads<'c> for SpiReads<'c, '_> {
    fn site_id(&self) -> i32 {
        self.site_id
    }

    fn hot_times(&mut self, from_us: i64, to_us: i64) -> Vec<i64> {
        self.times(
            "SELECT ts FROM tally.events_hot WHERE site_id = $1 AND ts >= $2 AND ts < $3",
            &[self.site_id.into(), from_unix_us(from_us).into(), from_unix_us(to_us).into()],
            "reading hot row times",
        )
    }

    fn open_hours(&mut self, from_us: i64, to_us: i64) -> Vec<i64> {
        self.times(
            "SELECT hour FROM tally.rollups WHERE site_id = $1 AND dimension = 'total' AND hour >= $2 AND hour < $3 \
             AND open_visits > 0",
            &[self.site_id.into(), from_unix_us(from_us).into(), from_unix_us(to_us).into()],
            "reading open hours",
        )
    }

    fn settled_until(&mut self) -> Option<i64> {
        self.times(
            "SELECT settled_until FROM tally.rollups_settled WHERE site_id = $1",
            &[self.site_id.into()],
            "reading the settled hours",
        )
        .first()
        .copied()
    }

    /// A period has rows when its `total` row exists.
    fn built(&mut self, period: Period, starts: &[i64]) -> Vec<i64> {
        let (table, column) = match period {
            Period::Week => ("tally.rollups_weekly", "week"),
            Period::Day => ("tally.rollups_daily", "day"),
        };
        let starts: Vec<TimestampWithTimeZone> = starts.iter().map(|&t| from_unix_us(t)).collect();
        self.times(
            &format!("SELECT {column} FROM {table} WHERE site_id = $1 AND {column} = ANY($2) AND dimension = 'total'"),
            &[self.site_id.into(), starts.into()],
            "reading which periods have rollup rows",
        )
    }

    fn segment_events(&mut self, from_us: i64, to_us: i64) -> i64 {
        self.count(
            "SELECT coalesce(sum(row_count), 0)::int8 FROM tally.segments WHERE site_id = $1 AND max_ts >= $2 AND min_ts < $3",
            &[self.site_id.into(), from_unix_us(from_us).into(), from_unix_us(to_us).into()],
        )
    }

    /// Blocks count as the rows they replace: an entry per value and hour, one per
    /// value and day (week) over whole days (weeks).
    fn count_rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, limit: i64) -> i64 {
        if self.in_blocks && dimension != "total" {
            let mut rows = 0;
            self.block_rows(dimension, &Split::hourly(&split.hours), values, false, &mut |_| rows += 1);
            let periods = split.days.iter().map(|&d| Split { days: vec![d], ..Split::default() });
            for period in periods.chain(split.weeks.iter().map(|&w| Split { weeks: vec![w], ..Split::default() })) {
                let mut distinct = HashSet::new();
                self.block_rows(dimension, &period, values, false, &mut |row| {
                    distinct.insert(row.value);
                });
                rows += distinct.len() as i64;
            }
            return rows.min(limit);
        }
        let mut args = split_args(self.site_id, dimension, split);
        let only = only_values(values, &mut args);
        args.push(limit.into());
        self.count(&format!("SELECT count(*) FROM (SELECT FROM {SPLIT_ROWS}{only} LIMIT ${}) capped", args.len()), &args)
    }

    fn rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, each: &mut dyn FnMut(Row)) {
        if self.in_blocks && dimension != "total" {
            return self.block_rows(dimension, split, values, true, each);
        }
        let mut sql = format!(
            "SELECT r.hour, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us, r.visit_pageviews, \
                    r.mixed_visits, r.visitors::bytea FROM {SPLIT_ROWS}"
        );
        let mut args = split_args(self.site_id, dimension, split);
        sql.push_str(&only_values(values, &mut args));
        for r in self.client.select(&sql, None, &args).unwrap_or_else(|e| fail("reading rollup rows", e)) {
            let visitors = Hll::from_bytes(r.value(10).unwrap_or_default())
                .unwrap_or_else(|e| error!("tally.query from rollups: a visitors sketch of tally.rollups: {e}"));
            each(Row { visitors, ..row_of(&r, dimension) });
        }
    }

    fn value_counts(&mut self, dimension: &'static str, split: &Split) -> Vec<Row> {
        if self.in_blocks && dimension != "total" {
            let mut sums = RowSums::new(false);
            self.block_rows(dimension, split, None, false, &mut |row| {
                sums.add(row).unwrap_or_else(|e| error!("tally.query from rollups: {e}"));
            });
            return sums.finish();
        }
        let sql = format!(
            "SELECT min(r.hour), r.value, sum(r.events)::int8, sum(r.pageviews)::int8, sum(r.visits)::int8, sum(r.bounces)::int8, \
                    sum(r.visit_duration_us)::int8, sum(r.visit_pageviews)::int8, sum(r.mixed_visits)::int8 \
             FROM {SPLIT_ROWS} GROUP BY r.value"
        );
        self.client
            .select(&sql, None, &split_args(self.site_id, dimension, split))
            .unwrap_or_else(|e| fail("reading rollup counts", e))
            .map(|r| row_of(&r, dimension))
            .collect()
    }

    fn segments(&mut self, spans: &[(i64, i64)]) -> Vec<(i64, &'c [u8])> {
        segments(self.client, self.site_id, spans)
    }

    fn hot_events(&mut self, from_us: i64, to_us: i64) -> Vec<Event> {
        hot_events(self.client, self.site_id, from_unix_us(from_us), from_unix_us(to_us))
    }
}

/// The relation `r(hour, value, events, ...)` of the heap rollup rows (`total`) of the
/// dimensions `$2` (text[]) of site `$1` over a [`Split`]: hourly rows of the hours between `$3`
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
fn split_args(site_id: i32, dimension: &str, split: &Split) -> Vec<DatumWithOid<'static>> {
    let starts = |s: &[i64]| s.iter().map(|&t| from_unix_us(t)).collect::<Vec<_>>();
    vec![
        site_id.into(),
        vec![dimension].into(),
        timestamps(&split.hours, |s| s.0).into(),
        timestamps(&split.hours, |s| s.1).into(),
        starts(&split.days).into(),
        starts(&split.weeks).into(),
    ]
}

fn timestamps(spans: &[(i64, i64)], end: fn(&(i64, i64)) -> i64) -> Vec<TimestampWithTimeZone> {
    spans.iter().map(|s| from_unix_us(end(s))).collect()
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

/// The row of `dimension` in `r`, a result row whose columns 1 to 9 are hour, value,
/// events, pageviews, visits, bounces, visit_duration_us, visit_pageviews and
/// mixed_visits, without visitors.
fn row_of(r: &impl SpiValue, dimension: &'static str) -> Row {
    let count = |i: usize| {
        let n = r.value::<i64>(i).unwrap_or_default();
        u64::try_from(n).unwrap_or_else(|_| error!("tally.rollups holds a negative count ({n}) for {dimension}: run tally.rebuild_rollups"))
    };
    Row {
        hour: r.value::<TimestampWithTimeZone>(1).map(to_unix_us).unwrap_or_default(),
        dimension,
        value: r.value(2),
        acc: Acc {
            events: count(3),
            pageviews: count(4),
            visits: count(5),
            bounces: count(6),
            duration_us: count(7),
            visit_pageviews: count(8),
            ..Acc::default()
        },
        open_visits: 0,
        mixed_visits: r.value::<i64>(9).unwrap_or_default(),
        visitors: Hll::new(VISITOR_PARAMS),
        visit_durations: None,
        engagement_times: None,
    }
}

/// The ids and bytes of the site's segments overlapping `spans` (detoasted by this
/// thread; valid until SPI ends).
fn segments<'c>(client: &'c SpiClient<'_>, site_id: i32, spans: &[(i64, i64)]) -> Vec<(i64, &'c [u8])> {
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
        .collect()
}
