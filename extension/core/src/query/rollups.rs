//! Answering a query from the hourly rollups (`tally.rollups`, [`crate::rollup`])
//! where they hold the answer, and from raw events only around the hours they do not
//! cover, with the same result as a full scan ([`super::scan_all`]) but for distinct
//! visitors, which come from HyperLogLog unions (about 0.8% standard error, estimated
//! with Ertl's improved estimator: `Hll::estimate`).
//!
//! **Eligible** queries: no filters (but one on the breakdown's own dimension, see
//! below), funnel or revenue; metrics among
//! `visitors`, `visits`, `pageviews`, `events`, `views_per_visit`, `bounce_rate`,
//! `visit_duration` and `percentage`; no dimension, or one of `event:page`,
//! `event:name`, `visit:country`, `visit:device`, `visit:browser`, `visit:os` or a
//! `time:*` dimension whose buckets start on whole UTC hours; or `event:goal` alone
//! (with `conversion_rate` too) when every goal of the site is an event name: a goal's
//! figures are then its event name's `event` rows; or `visit:source`, a
//! `visit:utm_*` tag or `visit:entry_page` with visit metrics only (`visitors`,
//! `visits`, `bounce_rate`, `visit_duration`, `views_per_visit`, `percentage`). A filter that tests only the
//! value of the query's one dimension (the dashboard's custom-events panel leaves out
//! `pageview` and `engagement` that way) keeps a query eligible when it asks for
//! no totals: each group's figures do not depend on the filter, which only drops groups.
//! Totals and `time:*` buckets may be filtered by a test of one of `visit:country`,
//! `visit:device`, `visit:browser` or `visit:os` alone (the dashboard's KPIs and chart
//! filtered by a country): they add up the rows of that attribute whose value passes
//! (`ViewKey::Within`), each visit's figures lying in the row of its one value. A rollup row keeps an
//! event's own country (device, ...) where the engine reads the visit's first event's,
//! so those four are answered from rollups only when no visit of the covered hours had
//! two values (`mixed_visits`, never for the gateway's traffic: they derive from the
//! IP address and user agent the visitor id hashes). Source, UTM and entry page rows
//! hold a visit's figures and visitors in the hour it started, where its first event
//! (whose values they are; for the entry page, its first pageview's path) was seen;
//! their event figures (`events`, `pageviews`) come from events whose visit a
//! recomputation may have joined midway, so queries for those keep the scan.
//!
//! **Covered hours**: a whole hour `h` of the range whose rollup rows are final: it
//! lies before the site's settle point (`tally.rollups_settled`: later hours have no
//! rows yet, [`crate::rollup::settle`]), no hot (not yet compacted) event lies in
//! `[h - 30 min, h + 4 h)` (compaction of an event at `t` recomputes the settled hours
//! from `t - 3 h` to `t + 30 min`, see [`crate::rollup::AFFECTS_BEFORE_US`]), and no
//! visit of the hour is *open* (still active near the end of the events its
//! recomputation saw, so possibly cut short). Compaction, erasure, retention and
//! `tally.rebuild_rollups` keep the rows of every other settled hour equal to a
//! recomputation from the raw events. The rows of a whole UTC
//! day or week of covered hours may be read from its daily or weekly rows instead,
//! which are the sums of its hourly rows while they exist ([`crate::rollup::periods`]):
//! nothing below changes.
//!
//! **Combination.** A full scan counts each visit over its events inside the range;
//! the rollups count it in the hour it started, over its events up to 2 hours past
//! the hours recomputed. The two agree for every visit lying wholly in covered hours
//! and touching no *edge*: the 30 minutes around a range end, the hours not covered,
//! and (for a `time:*` dimension with visit metrics, which counts a visit in every
//! bucket it has events in) the 30 minutes around each bucket start. Visits go 30
//! minutes at most between events (the gateway's rule, which the engine relies on
//! too), so any visit crossing an edge has an event within it. Those *edge visits*
//! are read whole from raw events (3.5 hours around each edge) and then
//!
//!   answer = rollup rows of the covered hours
//!            − what the rollups hold of the edge visits ([`Builder`] over them)
//!            + the engine's answer over the edge visits (clipped to the range),
//!
//! with visitors the union of the rows' sketches and the hashes of the edge visits'
//! events in the range (which hold every event of the hours not covered). An edge
//! visit not read whole (longer than about 3 hours), or one the builder sees cut
//! short, makes the rollups useless for the query: the caller scans instead. So does
//! a row sketch of other parameters (rows from before `VISITOR_PARAMS` changed) or a
//! negative count; the caller also scans when reading the rows would cost more than
//! the scan (`tally.query_rollup_min_events_per_row`).

use rustc_hash::{FxHashMap, FxHashSet};

use crate::event::Event;
use crate::rollup::settle::merged;
use crate::rollup::{
    hour_of, Builder, Hours, Row, ACQUISITION_COLUMNS, AFFECTS_BEFORE_US, HOUR_US, LOOK_AHEAD_US, LOOK_BEHIND_US, VISITOR_PARAMS,
};
use crate::segment::{self, SegmentError, SegmentReader};
use crate::sketch::hash::{hash_bigint, DEFAULT_SEED};
use crate::sketch::hll::Hll;

use super::kernel::Acc;
use super::model::{Dimension, Direction, Metric, OrderKey};
use super::plan::{Expr, Key, Level, Operand, Plan, Source, Test};
use super::scan::{scan_all, Answer, Group, KeyValue, TimeRange};
use super::window::VISIT_GAP_US;

mod driver;

pub use driver::{answer_from_rollups, EdgeCache, RollupError, RollupReads};

/// Metrics the rollup columns determine.
const METRICS: [Metric; 8] = [
    Metric::Visitors,
    Metric::Visits,
    Metric::Pageviews,
    Metric::Events,
    Metric::ViewsPerVisit,
    Metric::BounceRate,
    Metric::VisitDuration,
    Metric::Percentage,
];

/// The event columns every edge visit is read with besides `ts` and `session_id`
/// (decoded first, to find the visits): what the builder's `total` rows and the engine
/// need. [`RollupPlan::raw_columns`] adds the views' own dimension column; the other
/// fields keep their defaults, and only the rows of the views' dimensions are used.
const BASE_COLUMNS: [&str; 3] = ["site_id", "name", "visitor_id"];

/// Metrics over visits (the rest are over events).
const VISIT_METRICS: [Metric; 4] = [Metric::Visits, Metric::ViewsPerVisit, Metric::BounceRate, Metric::VisitDuration];

/// How far raw events are read on each side of an edge: a visit with an event in the
/// edge lies within it if it is short enough for the rollups to have seen it whole
/// (30 minutes before its hour, the hour, 2 hours after).
const MARGIN_US: i64 = LOOK_BEHIND_US + HOUR_US + LOOK_AHEAD_US;

/// Ranges up to two days keep the scan: it decodes a day or two of segments, as fast as
/// the rollup path's bookkeeping alone (one day's hourly series on a 3M-event site: 3-4
/// ms by the scan, 23 ms by the rollups).
const SCAN_AT_MOST_US: i64 = 48 * HOUR_US;

/// The rollup rows counted to decide whether the rollups are worth reading come from
/// one day in this many of the covered hours (see [`RollupPlan::cost_sample`]).
const COST_SAMPLE_EVERY_DAYS: usize = 5;

/// What one view of the plan groups by, in rollup terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewKey {
    Total,
    /// A rollup dimension of the event's own value (`page`, `event`).
    Own(&'static str),
    /// A visit attribute stored as each event's own value (`country`, `device`,
    /// `browser`, `os`), used where no visit had two.
    Visit(&'static str),
    /// Time buckets: `total` rows grouped by hour.
    Bucket,
    /// Goals completed by an event name: `event` rows, each counted for every goal of
    /// its name.
    Goal,
    /// A visit's acquisition value (`source`, `utm_*`, by event column): rows of the
    /// visits started in each hour.
    Acquisition(&'static str),
    /// A visit's entry page (its first pageview's path): `entry_page` rows, of the
    /// visits started in each hour like acquisition rows.
    Entry,
    /// Totals (or, when `true`, time buckets) of the visits whose attribute passes the
    /// query's filter, which tests only that attribute (`country`, `device`, `browser`,
    /// `os`): the rows of that attribute whose value passes, added up. Where no visit
    /// had two values, each visit's figures lie in the row of its one value.
    Within(&'static str, bool),
}

impl ViewKey {
    fn dimension(self) -> &'static str {
        match self {
            ViewKey::Own(dimension) | ViewKey::Visit(dimension) | ViewKey::Within(dimension, _) => dimension,
            ViewKey::Goal => "event",
            ViewKey::Acquisition(column) => acquisition_dimension(column),
            ViewKey::Entry => "entry_page",
            ViewKey::Total | ViewKey::Bucket => "total",
        }
    }
}

/// Sorted, disjoint half-open intervals of µs.
type Spans = Vec<(i64, i64)>;

fn contains(spans: &[(i64, i64)], ts: i64) -> bool {
    let i = spans.partition_point(|&(_, hi)| hi <= ts);
    spans.get(i).is_some_and(|&(lo, _)| lo <= ts)
}

/// How an eligible query is answered from rollups: which rows to read and which raw
/// events.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupPlan {
    views: Vec<ViewKey>,
    range: TimeRange,
    covered: Spans,
    edges: Spans,
    reads: Spans,
}

impl RollupPlan {
    /// The plan for answering `plan` over `range` from rollups, or `None` when the
    /// query is not eligible or no hour of it is covered. `hot` are the times of the
    /// site's hot rows in [`RollupPlan::hot_window`], `open` the hours (starts) with
    /// open visits, `settled_until` the end of the hours whose rows are kept
    /// (`tally.rollups_settled`, [`crate::rollup::settle`]); `bucket_starts` the time
    /// buckets of a `time:*` dimension.
    pub fn new(
        plan: &Plan,
        range: TimeRange,
        bucket_starts: Option<&[i64]>,
        hot: &[i64],
        open: &[i64],
        settled_until: i64,
    ) -> Option<RollupPlan> {
        let views = eligible_views(plan, bucket_starts)?;
        let mut hot = hot.to_vec();
        hot.sort_unstable();
        let first = hour_of(range.from_us + HOUR_US - 1);
        let covered = merged(
            (first..hour_of(range.to_us).min(settled_until))
                .step_by(HOUR_US as usize)
                .filter(|&h| {
                    let i = hot.partition_point(|&t| t < h - LOOK_BEHIND_US);
                    !open.contains(&h) && hot.get(i).is_none_or(|&t| t >= h + AFFECTS_BEFORE_US + HOUR_US)
                })
                .map(|h| (h, h + HOUR_US))
                .collect(),
        );
        if covered.is_empty() {
            return None;
        }
        let visit_metrics = plan.query.metrics.iter().any(|m| VISIT_METRICS.contains(m));
        let cuts: Vec<i64> = match bucket_starts {
            Some(starts) if visit_metrics => starts.iter().copied().filter(|&c| covered.iter().any(|&(lo, hi)| lo < c && c < hi)).collect(),
            _ => Vec::new(),
        };
        // The complement of the covered hours within the range (and 30 minutes past
        // either end), plus 30 minutes around each cut.
        let mut edges = Vec::new();
        let mut from = range.from_us - VISIT_GAP_US;
        for &(lo, hi) in &covered {
            edges.push((from, lo));
            from = hi;
        }
        edges.push((from, range.to_us + VISIT_GAP_US));
        edges.extend(cuts.iter().map(|&c| (c - VISIT_GAP_US, c + VISIT_GAP_US)));
        let edges = merged(edges);
        let reads = merged(edges.iter().map(|&(lo, hi)| (lo - MARGIN_US, hi + MARGIN_US)).collect());
        Some(RollupPlan { views, range, covered, edges, reads })
    }

    /// Whether `plan` is eligible (see the module docs), before any coverage is known.
    pub fn eligible(plan: &Plan, bucket_starts: Option<&[i64]>) -> bool {
        eligible_views(plan, bucket_starts).is_some()
    }

    /// Where hot rows can make an hour of `range` not covered: the times whose hot
    /// rows [`RollupPlan::new`] needs.
    pub fn hot_window(range: TimeRange) -> (i64, i64) {
        (range.from_us - LOOK_BEHIND_US, range.to_us + AFFECTS_BEFORE_US + HOUR_US)
    }

    /// Per view of the plan: the rollup dimension to read and whether its rows are
    /// needed per hour (else summed over the covered hours).
    pub fn dimensions(&self) -> Vec<(&'static str, bool)> {
        self.views.iter().map(|&v| (v.dimension(), matches!(v, ViewKey::Bucket | ViewKey::Within(_, true)))).collect()
    }

    /// The values whose rows view `view` of `plan` needs, when not all: those of the
    /// `is` test that makes the whole filter of a [`ViewKey::Within`] view or of a
    /// breakdown by the filtered dimension (the rows of one country of a month's hourly
    /// chart, or of its country breakdown, not of every country).
    pub fn values(&self, plan: &Plan, view: usize) -> Option<Vec<Option<String>>> {
        if matches!(self.views.get(view)?, ViewKey::Total | ViewKey::Bucket | ViewKey::Goal) {
            return None;
        }
        let mut filter = plan.views[view].filter.as_ref()?;
        while let Expr::And(items) | Expr::Or(items) = filter {
            let [only] = items.as_slice() else { return None };
            filter = only;
        }
        match filter {
            Expr::Leaf(i) => match &plan.leaves[*i].test {
                Test::Is(values) => Some(values.iter().cloned().map(Some).collect()),
                _ => None,
            },
            _ => None,
        }
    }

    /// The covered hours, as intervals [lo, hi): the rollup rows to read.
    pub fn covered(&self) -> &[(i64, i64)] {
        &self.covered
    }

    /// The intervals [lo, hi) whose raw events (segments and hot rows) to read.
    pub fn reads(&self) -> &[(i64, i64)] {
        &self.reads
    }

    /// The covered hours whose rollup rows stand for all of them when deciding whether
    /// the rollups are worth reading, and the share of the covered time they make up:
    /// every [`COST_SAMPLE_EVERY_DAYS`]th day-long piece of the covered spans (at least
    /// one). Rows per hour follow traffic, which follows the days; the rule being
    /// decided is a ratio of events to rows, so a fifth of the days tells it at a fifth
    /// of the cost (counting a month of a large site's page rows took 10 ms a call).
    pub fn cost_sample(&self) -> (Vec<(i64, i64)>, f64) {
        let day = 24 * HOUR_US;
        let pieces: Vec<(i64, i64)> = self
            .covered
            .iter()
            .flat_map(|&(lo, hi)| (lo..hi).step_by(day as usize).map(move |start| (start, (start + day).min(hi))))
            .collect();
        let sample: Vec<(i64, i64)> = pieces.iter().copied().step_by(COST_SAMPLE_EVERY_DAYS).collect();
        let length = |spans: &[(i64, i64)]| spans.iter().map(|&(lo, hi)| hi - lo).sum::<i64>() as f64;
        let share = length(&sample) / length(&self.covered);
        (sample, share)
    }

    /// Whether the raw reads leave the rollups something to save: the range is longer
    /// than [`SCAN_AT_MOST_US`] and the reads within it span less than half of it. With
    /// hourly buckets of visit figures every bucket start is an edge read raw 3.5 hours
    /// either side, so the rollup path would scan most of the range and read rows on top.
    pub fn reads_little(&self) -> bool {
        let (from, to) = (self.range.from_us, self.range.to_us);
        let raw_us: i64 = self.reads.iter().map(|&(lo, hi)| hi.min(to) - lo.max(from)).filter(|&us| us > 0).sum();
        to - from > SCAN_AT_MOST_US && raw_us.saturating_mul(2) < to - from
    }

    /// The answer from `rows` (per view, the rows of [`RollupPlan::dimensions`] in
    /// the covered hours) and the edge visits ([`RollupPlan::edge_visits`], found once
    /// for every plan of the same [`RollupPlan::edge_key`]). `Ok(None)` when the rows
    /// disagree with the raw events: scan instead. A segment that cannot be decoded is
    /// returned with its index.
    ///
    /// `unsketched` lists, per view, the values whose rows were read without their
    /// sketches ([`RollupPlan::sketched`]); `None` too when one of them might be shown:
    /// read them whole.
    pub fn answer(
        &self,
        plan: &Plan,
        bucket_starts: Option<&[i64]>,
        rows: &[Vec<Row>],
        unsketched: &[Vec<Option<String>>],
        edges: &EdgeVisits<'_>,
    ) -> Result<Option<Answer>, (usize, SegmentError)> {
        let edge_events = edges.events(&self.raw_columns())?;
        Ok(self.combine(plan, bucket_starts, rows, unsketched, &edge_events))
    }

    /// What the edge visits depend on: the raw reads and the edges. Plans of the same
    /// key (a dashboard's panels over one range) find the same edge visits.
    pub fn edge_key(&self) -> (Spans, Spans) {
        (self.reads.clone(), self.edges.clone())
    }

    /// How many groups the answer to `plan` shows when they are the ones with the most
    /// visitors, and only their visitors matter: a breakdown by one event or visit
    /// attribute ordered by visitors (descending), without a comparison (whose groups
    /// are looked up by the keys shown). Of the other groups only their number is shown
    /// (`meta.total_rows`), so their rows may be read without sketches: a 30-day top-10
    /// of the bench's 1,500 pages needs the sketches of 36 of them, not all 20,000 rows'.
    pub fn top(plan: &Plan) -> Option<usize> {
        let query = &plan.query;
        let by_visitors = match query.order_by.first() {
            Some(&(OrderKey::Metric(m), Direction::Desc)) => query.metrics[m] == Metric::Visitors,
            None => query.metrics.first() == Some(&Metric::Visitors),
            _ => false,
        };
        let breakdown = matches!(query.dimensions.as_slice(), [Dimension::Attr(_)]);
        (by_visitors && breakdown && query.comparison.is_none() && query.funnel.is_none()).then(|| query.offset.saturating_add(query.limit))
    }

    /// Of a breakdown's values and their visits in the covered hours, those whose
    /// sketches to read when the answer shows the `shown` groups with the most visitors
    /// ([`RollupPlan::top`]): the most visited, twice as many as shown and 16 more. A
    /// visitor has a visit at least, so a value left out cannot be shown unless a value
    /// read has fewer visitors than it has visits; [`RollupPlan::answer`] checks that.
    pub fn sketched(shown: usize, visits: &[(Option<String>, i64)]) -> Vec<Option<String>> {
        let mut order: Vec<&(Option<String>, i64)> = visits.iter().collect();
        order.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        order.into_iter().take(shown.saturating_mul(2).saturating_add(16)).map(|(value, _)| value.clone()).collect()
    }

    /// The rows of the sessions with an event in an edge, among the raw events of
    /// [`RollupPlan::reads`]: `segments` (the site's segments overlapping them) and
    /// `hot` (its hot rows there); events outside the reads are ignored. `None` if a
    /// session was not read whole (scan instead). `ts` and `session_id` of every row of
    /// the segments are decoded to find the sessions; [`EdgeVisits::events`] reads their
    /// other columns.
    pub fn edge_visits<'s>(&self, segments: &[&'s [u8]], hot: Vec<Event>) -> Result<Option<EdgeVisits<'s>>, (usize, SegmentError)> {
        let mut spans: FxHashMap<i64, (i64, i64, bool)> = FxHashMap::default();
        let mut note = |ts: i64, session: i64| {
            if contains(&self.reads, ts) {
                let span = spans.entry(session).or_insert((ts, ts, false));
                span.0 = span.0.min(ts);
                span.1 = span.1.max(ts);
                span.2 |= contains(&self.edges, ts);
            }
        };
        let mut decoded = Vec::with_capacity(segments.len());
        for (i, bytes) in segments.iter().enumerate() {
            let read = || -> Result<_, SegmentError> {
                let reader = SegmentReader::open(bytes)?;
                let ints = |name| reader.int_column(name).map(|c| c.values);
                let (ts, sessions) = (ints("ts")?, ints("session_id")?);
                Ok((reader, ts, sessions))
            };
            let (reader, ts, sessions) = read().map_err(|e| (i, e))?;
            ts.iter().zip(&sessions).for_each(|(&t, &s)| note(t, s));
            decoded.push((reader, ts, sessions));
        }
        hot.iter().for_each(|e| note(e.ts, e.session_id));
        let Some(edge) = self.whole_edge_sessions(spans) else { return Ok(None) };
        let segments = decoded
            .into_iter()
            .map(|(reader, ts, sessions)| {
                let rows: Vec<u32> =
                    (0..ts.len()).filter(|&r| contains(&self.reads, ts[r]) && edge.contains(&sessions[r])).map(|r| r as u32).collect();
                let ts_sessions = rows.iter().map(|&r| (ts[r as usize], sessions[r as usize])).collect();
                EdgeRows { reader, rows, ts_sessions }
            })
            .collect();
        let hot = hot.into_iter().filter(|e| contains(&self.reads, e.ts) && edge.contains(&e.session_id)).collect();
        Ok(Some(EdgeVisits { segments, hot }))
    }

    /// [`BASE_COLUMNS`] and the column of each view's dimension.
    fn raw_columns(&self) -> Vec<&'static str> {
        let mut columns = BASE_COLUMNS.to_vec();
        for view in &self.views {
            let column = match view {
                ViewKey::Own("page") | ViewKey::Entry => "pathname",
                ViewKey::Visit(column) | ViewKey::Acquisition(column) | ViewKey::Within(column, _) => column,
                ViewKey::Own(_) | ViewKey::Goal | ViewKey::Total | ViewKey::Bucket => continue,
            };
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        columns
    }

    /// The answer from the stored `rows` and the `edge_events`.
    fn combine(
        &self,
        plan: &Plan,
        bucket_starts: Option<&[i64]>,
        rows: &[Vec<Row>],
        unsketched: &[Vec<Option<String>>],
        edge_events: &[Event],
    ) -> Option<Answer> {
        let engine = if edge_events.is_empty() {
            None
        } else {
            let seg = segment::build(edge_events).ok()?;
            let zones = vec![(seg.zone.ts_min, seg.zone.ts_max)];
            // Every figure: the rows' counts are adjusted by them, whatever the metrics.
            let plan = plan.with_visit_figures();
            Some(scan_all(&plan, self.range, bucket_starts.map(<[i64]>::to_vec), zones, &[&seg.bytes], 1, || {}).ok()?)
        };
        let mut held = Vec::new();
        for &(lo, hi) in &self.covered {
            let mut builder = Builder::new(Hours { lo, hi });
            builder.add_events(edge_events);
            held.extend(builder.finish());
        }
        // The builder cut an edge visit short where the stored rows may not have.
        if held.iter().any(|r| r.dimension == "total" && r.open_visits > 0) {
            return None;
        }
        let in_range: Vec<&Event> = edge_events.iter().filter(|e| (self.range.from_us..self.range.to_us).contains(&e.ts)).collect();
        // Each session's first event in the range: where the engine reads visit:* values.
        let mut firsts: FxHashMap<i64, &Event> = FxHashMap::default();
        // ... and its first pageview there: its entry page.
        let mut entries: FxHashMap<i64, &Event> = FxHashMap::default();
        for &e in &in_range {
            let first = firsts.entry(e.session_id).or_insert(e);
            if e.ts < first.ts {
                *first = e;
            }
            if e.name == "pageview" {
                let entry = entries.entry(e.session_id).or_insert(e);
                if e.ts < entry.ts {
                    *entry = e;
                }
            }
        }
        let mut views = Vec::with_capacity(self.views.len());
        for (v, &view) in self.views.iter().enumerate() {
            // The groups a row (or an event of `value`) counts in: one, but for goals
            // none or several (goals sharing an event name).
            let filter = plan.views[v].filter.as_ref();
            let keys_of = |value: Option<&str>, hour_or_ts: i64| -> Vec<Vec<KeyValue>> {
                match view {
                    ViewKey::Total => vec![Vec::new()],
                    ViewKey::Within(_, bucketed) => match filter.is_none_or(|f| passes(plan, f, value)) {
                        false => Vec::new(),
                        true if bucketed => vec![vec![bucket(bucket_starts, hour_or_ts)]],
                        true => vec![Vec::new()],
                    },
                    ViewKey::Own(_) | ViewKey::Visit(_) | ViewKey::Acquisition(_) | ViewKey::Entry => {
                        vec![vec![KeyValue::Text(value.map(str::to_owned))]]
                    }
                    ViewKey::Bucket => vec![vec![bucket(bucket_starts, hour_or_ts)]],
                    ViewKey::Goal => goals_named(plan, value).map(|g| vec![KeyValue::Goal(g)]).collect(),
                }
            };
            let mut groups: FxHashMap<Vec<KeyValue>, Sums> = FxHashMap::default();
            for row in &rows[v] {
                if matches!(view, ViewKey::Visit(_) | ViewKey::Within(..)) && row.mixed_visits > 0 {
                    return None;
                }
                for key in keys_of(row.value.as_deref(), row.hour) {
                    groups.entry(key).or_default().add_row(row)?;
                }
            }
            for row in held.iter().filter(|r| r.dimension == view.dimension()) {
                for key in keys_of(row.value.as_deref(), row.hour) {
                    groups.entry(key).or_default().subtract_row(row);
                }
            }
            for group in engine.iter().flat_map(|a| &a.views[v]) {
                groups.entry(group.key.clone()).or_default().add_acc(&group.acc);
            }
            for e in &in_range {
                let value = match view {
                    ViewKey::Own("page") => Some(e.pathname.clone()),
                    ViewKey::Own(_) | ViewKey::Goal => Some(e.name.clone()),
                    ViewKey::Visit(column) | ViewKey::Acquisition(column) | ViewKey::Within(column, _) => {
                        visit_value(firsts[&e.session_id], column)
                    }
                    ViewKey::Entry => entries.get(&e.session_id).map(|first| first.pathname.clone()),
                    ViewKey::Total | ViewKey::Bucket => None,
                };
                for key in keys_of(value.as_deref(), e.ts) {
                    groups.entry(key).or_default().visitors.add(hash_bigint(e.visitor_id, DEFAULT_SEED));
                }
            }
            // A filter on this view's own dimension drops whole groups (a `Within`
            // view's rows were chosen by it already).
            if let (Some(filter), false) = (filter, matches!(view, ViewKey::Within(..))) {
                groups.retain(|key, _| matches!(key.as_slice(), [KeyValue::Text(value)] if passes(plan, filter, value.as_deref())));
            }
            // Acquisition and entry rows file some events under other values (see the
            // module docs): their event figures, which no eligible query asks for, are
            // left out.
            let event_figures = !matches!(view, ViewKey::Acquisition(_) | ViewKey::Entry);
            let unsketched: FxHashSet<&Option<String>> = unsketched.get(v).into_iter().flatten().collect();
            let mut out = Vec::with_capacity(groups.len());
            let mut unread = Vec::new();
            for (key, sums) in groups {
                match key.as_slice() {
                    [KeyValue::Text(value)] if unsketched.contains(value) => unread.push((key, sums)),
                    _ => out.extend(sums.group(key, event_figures)?),
                }
            }
            if !unread.is_empty() {
                let unread = unsketched_groups(plan, &out, unread, event_figures)?;
                out.extend(unread);
            }
            views.push(out);
        }
        Some(Answer { views, funnel: Vec::new() })
    }

    /// Of the sessions' spans in the reads (first, last, has an event in an edge),
    /// those with an edge event, if each was read whole: its events lie in one read
    /// interval, more than the visit timeout from either end.
    fn whole_edge_sessions(&self, spans: FxHashMap<i64, (i64, i64, bool)>) -> Option<FxHashSet<i64>> {
        let mut out = FxHashSet::default();
        for (session, (first, last, edge)) in spans {
            if !edge {
                continue;
            }
            let i = self.reads.partition_point(|&(_, hi)| hi <= first);
            let (lo, hi) = self.reads[i];
            if first < lo + VISIT_GAP_US || last >= hi - VISIT_GAP_US {
                return None;
            }
            out.insert(session);
        }
        Some(out)
    }
}

/// How far a visitor estimate may exceed the true count, as a factor and a constant:
/// explicit sketches are exact, and the 2^14-register ones err by 0.8% (one standard
/// deviation), so 10% is beyond any estimate.
const ESTIMATE_SLACK: (f64, f64) = (1.1, 2.0);

/// The groups whose rows came without sketches (`unread`), if none of them can be
/// among the [`RollupPlan::top`] shown: each has fewer visitors than visits (times
/// [`ESTIMATE_SLACK`]), and that bound must lie below the visitors of the last shown
/// of the groups `read` whole. Their visitors are that bound: they are never shown,
/// and count in `meta.total_rows` as they would have. `None` otherwise.
fn unsketched_groups(plan: &Plan, read: &[Group], unread: Vec<(Vec<KeyValue>, Sums)>, event_figures: bool) -> Option<Vec<Group>> {
    let shown = RollupPlan::top(plan)?;
    let mut visitors: Vec<u64> = read.iter().map(|g| g.visitors).collect();
    if shown == 0 || visitors.len() < shown {
        return None;
    }
    let (_, &mut last_shown, _) = visitors.select_nth_unstable_by(shown - 1, |a, b| b.cmp(a));
    unread
        .into_iter()
        .map(|(key, sums)| {
            let acc = sums.acc(event_figures)?;
            let bound = (acc.visits as f64 * ESTIMATE_SLACK.0 + ESTIMATE_SLACK.1).ceil() as u64;
            (bound < last_shown && acc.visits > 0).then_some(Group { key, acc, visitors: bound })
        })
        .collect()
}

/// The rows of the edge visits ([`RollupPlan::edge_visits`]): found once, read with
/// the columns each plan needs ([`EdgeVisits::events`]).
pub struct EdgeVisits<'s> {
    segments: Vec<EdgeRows<'s>>,
    hot: Vec<Event>,
}

/// The edge visits' rows of one segment, with their times and sessions.
struct EdgeRows<'s> {
    reader: SegmentReader<'s>,
    rows: Vec<u32>,
    ts_sessions: Vec<(i64, i64)>,
}

impl EdgeVisits<'_> {
    /// The edge visits' events with `columns` (and their times and sessions); the other
    /// fields keep their defaults. A segment that cannot be decoded is returned with
    /// its index.
    fn events(&self, columns: &[&str]) -> Result<Vec<Event>, (usize, SegmentError)> {
        let mut events = Vec::new();
        for (i, segment) in self.segments.iter().enumerate().filter(|(_, s)| !s.rows.is_empty()) {
            let mut picked = segment.reader.events_at(columns, &segment.rows).map_err(|e| (i, e))?;
            for (event, &(ts, session)) in picked.iter_mut().zip(&segment.ts_sessions) {
                (event.ts, event.session_id) = (ts, session);
            }
            events.extend(picked);
        }
        events.extend(self.hot.iter().cloned());
        Ok(events)
    }
}

/// The indices of the goals of `plan` completed by an event named `name`.
fn goals_named<'p>(plan: &'p Plan, name: Option<&'p str>) -> impl Iterator<Item = u32> + 'p {
    plan.goals.iter().enumerate().filter(move |(_, g)| name.is_some() && g.event_name.as_deref() == name).map(|(i, _)| i as u32)
}

/// The views of `plan` in rollup terms, if every one is eligible.
fn eligible_views(plan: &Plan, bucket_starts: Option<&[i64]>) -> Option<Vec<ViewKey>> {
    let query = &plan.query;
    // Goals alone as the dimension, unfiltered, each an event name: `event` rows.
    let goal_breakdown = query.dimensions == [Dimension::Goal]
        && query.filter.is_none()
        && query.funnel.is_none()
        && plan.goals.iter().all(|g| g.event_name.is_some() && g.page_pattern.is_none());
    let metrics_ok = query.metrics.iter().all(|m| METRICS.contains(m) || (goal_breakdown && *m == Metric::ConversionRate));
    let visit_metrics_only = query.metrics.iter().all(|m| VISITOR_METRICS.contains(m) || VISIT_METRICS.contains(m));
    // A filter testing only the one breakdown dimension, with no totals view beside.
    let group_filter = match plan.views.as_slice() {
        [view] => match (view.filter.as_ref(), view.keys.as_slice()) {
            (Some(filter), [Key::Operand(o)]) => only_on(plan, filter, *o),
            _ => false,
        },
        _ => false,
    };
    // A filter testing only one visit attribute kept per row, over totals and time
    // buckets alone (the dashboard's KPIs and chart filtered by a country).
    let within = plan
        .views
        .iter()
        .all(|view| view.keys.is_empty() || view.keys == [Key::Bucket])
        .then(|| plan.views[0].filter.as_ref())
        .flatten()
        .and_then(|filter| visit_attribute_tested(plan, filter));
    if !metrics_ok || (query.filter.is_some() && !group_filter && within.is_none()) || (query.has_goal() && !goal_breakdown) || plan.revenue
    {
        return None;
    }
    let hourly_buckets = || bucket_starts.filter(|s| s.iter().all(|&t| t % HOUR_US == 0));
    plan.views
        .iter()
        .map(|view| match (view.filter.as_ref().filter(|_| !group_filter && within.is_none()), view.keys.as_slice()) {
            (Some(_), _) => None,
            (None, []) => Some(within.map_or(ViewKey::Total, |column| ViewKey::Within(column, false))),
            (None, [Key::Goal]) => Some(ViewKey::Goal),
            (None, [Key::Bucket]) => hourly_buckets().map(|_| within.map_or(ViewKey::Bucket, |column| ViewKey::Within(column, true))),
            (None, [Key::Operand(o)]) => {
                let operand = plan.operands[*o];
                match (&plan.sources[operand.source], operand.level) {
                    (Source::Column("pathname"), Level::Row) => Some(ViewKey::Own("page")),
                    (Source::Column("name"), Level::Row) => Some(ViewKey::Own("event")),
                    (Source::Column("pathname"), Level::Entry) if visit_metrics_only => Some(ViewKey::Entry),
                    (Source::Column(column), Level::Visit) => match VISIT_DIMENSIONS.iter().find(|d| *d == column) {
                        Some(&d) => Some(ViewKey::Visit(d)),
                        None => ACQUISITION_COLUMNS
                            .iter()
                            .find(|c| *c == column)
                            .filter(|_| visit_metrics_only)
                            .map(|&c| ViewKey::Acquisition(c)),
                    },
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

/// The `visit:*` attributes rollups keep per event, by column (= rollup dimension).
const VISIT_DIMENSIONS: [&str; 4] = ["country", "device", "browser", "os"];

/// The [`VISIT_DIMENSIONS`] attribute `filter` tests, if it tests that one only.
fn visit_attribute_tested(plan: &Plan, filter: &Expr) -> Option<&'static str> {
    fn first_operand(plan: &Plan, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Leaf(i) => Some(plan.leaves[*i].operand),
            Expr::And(items) | Expr::Or(items) => first_operand(plan, items.first()?),
            Expr::Not(inner) => first_operand(plan, inner),
            Expr::HasDone(_) => None,
        }
    }
    let operand = first_operand(plan, filter)?;
    let Operand { source, level: Level::Visit } = plan.operands[operand] else { return None };
    let Source::Column(column) = &plan.sources[source] else { return None };
    let column = VISIT_DIMENSIONS.iter().find(|d| *d == column)?;
    only_on(plan, filter, operand).then_some(*column)
}

/// Whether every test of `filter` reads `operand`.
fn only_on(plan: &Plan, filter: &Expr, operand: usize) -> bool {
    match filter {
        Expr::Leaf(i) => plan.leaves[*i].operand == operand,
        Expr::And(items) | Expr::Or(items) => items.iter().all(|e| only_on(plan, e, operand)),
        Expr::Not(inner) => only_on(plan, inner, operand),
        // Hourly rows know nothing of a visit's other events.
        Expr::HasDone(_) => false,
    }
}

/// Whether `value` passes `filter` (as the scan decides per dictionary code).
fn passes(plan: &Plan, filter: &Expr, value: Option<&str>) -> bool {
    match filter {
        Expr::Leaf(i) => plan.leaves[*i].test.matches(value),
        Expr::And(items) => items.iter().all(|e| passes(plan, e, value)),
        Expr::Or(items) => items.iter().any(|e| passes(plan, e, value)),
        Expr::Not(inner) => !passes(plan, inner, value),
        Expr::HasDone(_) => false,
    }
}

/// Metrics besides [`VISIT_METRICS`] that acquisition rows answer: their visitors.
const VISITOR_METRICS: [Metric; 2] = [Metric::Visitors, Metric::Percentage];

/// The rollup dimension of an acquisition column.
fn acquisition_dimension(column: &'static str) -> &'static str {
    match column {
        "referrer_source" => "source",
        utm => utm,
    }
}

/// The value of a [`VISIT_DIMENSIONS`] or [`ACQUISITION_COLUMNS`] column of an event.
fn visit_value(e: &Event, column: &str) -> Option<String> {
    match column {
        "country" => e.country.clone(),
        "device" => e.device.clone(),
        "browser" => e.browser.clone(),
        "os" => e.os.clone(),
        "referrer_source" => e.referrer_source.clone(),
        "utm_source" => e.utm_source.clone(),
        "utm_medium" => e.utm_medium.clone(),
        "utm_campaign" => e.utm_campaign.clone(),
        "utm_term" => e.utm_term.clone(),
        _ => e.utm_content.clone(),
    }
}

/// The key of a time `ts` among `starts` (as the engine buckets events).
fn bucket(starts: Option<&[i64]>, ts: i64) -> KeyValue {
    let starts = starts.unwrap_or_default();
    KeyValue::Bucket(starts.partition_point(|&s| s <= ts).saturating_sub(1) as u32)
}

/// One group's figures while rows add and subtract: what was added and what was
/// subtracted, apart, so that a count below 0 shows at the end.
#[derive(Debug)]
struct Sums {
    plus: Acc,
    minus: Acc,
    visitors: Hll,
}

impl Default for Sums {
    fn default() -> Sums {
        Sums { plus: Acc::default(), minus: Acc::default(), visitors: Hll::new(VISITOR_PARAMS) }
    }
}

impl Sums {
    /// Adds a stored row; `None` when its sketch has other parameters (rows written
    /// before [`VISITOR_PARAMS`] changed: `tally.rebuild_rollups` renews them).
    fn add_row(&mut self, row: &Row) -> Option<()> {
        self.plus += row.acc;
        self.visitors.union(&row.visitors).ok()
    }

    /// Subtracts the counts of a row the builder computed for edge visits; their
    /// visitors stay, being in the raw events too.
    fn subtract_row(&mut self, row: &Row) {
        self.minus += row.acc;
    }

    fn add_acc(&mut self, acc: &Acc) {
        self.plus += *acc;
    }

    /// The group, `Some(None)` when it has no event in the range (the engine would
    /// not list it), `None` when a count went negative (rollups disagreeing with the
    /// raw events: the caller scans instead). Without `event_figures`, events and
    /// pageviews are 0.
    fn group(self, key: Vec<KeyValue>, event_figures: bool) -> Option<Option<Group>> {
        let visitors = self.visitors.estimate().ok().flatten()?;
        if visitors == 0.0 {
            return Some(None);
        }
        let acc = self.acc(event_figures)?;
        Some(Some(Group { key, acc, visitors: visitors.round() as u64 }))
    }

    /// The counts the rollup answers (those of [`METRICS`]), `None` when one went
    /// negative.
    fn acc(&self, event_figures: bool) -> Option<Acc> {
        let (plus, minus) = (&self.plus, &self.minus);
        let (pageviews, events) = match event_figures {
            true => (plus.pageviews.checked_sub(minus.pageviews)?, plus.events.checked_sub(minus.events)?),
            false => (0, 0),
        };
        Some(Acc {
            pageviews,
            events,
            visits: plus.visits.checked_sub(minus.visits)?,
            bounces: plus.bounces.checked_sub(minus.bounces)?,
            duration_us: plus.duration_us.checked_sub(minus.duration_us)?,
            visit_pageviews: plus.visit_pageviews.checked_sub(minus.visit_pageviews)?,
            ..Acc::default()
        })
    }
}

/// Needs generated traffic (the workspace's tests enable `datagen`).
#[cfg(all(test, feature = "datagen"))]
mod tests;
