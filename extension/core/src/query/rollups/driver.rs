//! The rollup answer from start to end: what to read, whether reading it pays, which
//! sketches to read, and when to give up for the scan. Storage stays behind
//! [`RollupReads`], which `tally.query` implements with SPI reads of `tally.rollups`,
//! its daily and weekly sums, `tally.segments` and `tally.events_hot`; every decision
//! is made here, so the tests drive the same code over rows held in memory.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::event::Event;
use crate::rollup::periods::{Period, Split};
use crate::rollup::{Row, RowSums};
use crate::segment::SegmentError;
use crate::sketch::hll::HllError;

use super::super::plan::Plan;
use super::super::scan::{Answer, TimeRange};
use super::{EdgeVisits, RollupPlan};

/// What the rollup answer reads of one site. A method that cannot read raises (the
/// extension's SPI errors end the statement); a stored value that cannot be decoded
/// is the core's to report ([`RollupError`]).
pub trait RollupReads<'s> {
    /// The site read.
    fn site_id(&self) -> i32;

    /// The times of the site's hot (not yet compacted) rows in [from_us, to_us).
    fn hot_times(&mut self, from_us: i64, to_us: i64) -> Vec<i64>;

    /// The hours (starts) in [from_us, to_us) whose `total` row has open visits.
    fn open_hours(&mut self, from_us: i64, to_us: i64) -> Vec<i64>;

    /// The end of the hours whose rows are kept (`tally.rollups_settled`), if any.
    fn settled_until(&mut self) -> Option<i64>;

    /// Of the periods starting at `starts`, those that have rows.
    fn built(&mut self, period: Period, starts: &[i64]) -> Vec<i64>;

    /// The events of the segments overlapping [from_us, to_us) (their row counts).
    fn segment_events(&mut self, from_us: i64, to_us: i64) -> i64;

    /// How many rows of `dimension` [`RollupReads::rows`] would pass over `split`
    /// (only those of `values` when given), counting no further than `limit`.
    fn count_rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, limit: i64) -> i64;

    /// Each row of `dimension` over `split` (hourly rows of its hours, daily and weekly
    /// rows of its days and weeks), only those of `values` when given, with its
    /// visitors sketch.
    fn rows(&mut self, dimension: &'static str, split: &Split, values: Option<&[Option<String>]>, each: &mut dyn FnMut(Row));

    /// The rows of `dimension` over `split` summed per value, without sketches.
    fn value_counts(&mut self, dimension: &'static str, split: &Split) -> Vec<Row>;

    /// The ids and bytes of the site's segments overlapping `spans`.
    fn segments(&mut self, spans: &[(i64, i64)]) -> Vec<(i64, &'s [u8])>;

    /// The site's hot rows in [from_us, to_us).
    fn hot_events(&mut self, from_us: i64, to_us: i64) -> Vec<Event>;
}

/// Why a rollup answer could not be given: a stored value that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("segment {segment_id} of tally.segments cannot be decoded: {error}")]
    Segment { segment_id: i64, error: SegmentError },
    #[error("a visitors sketch of tally.rollups: {0}")]
    Sketch(#[from] HllError),
}

/// Edge visits found for the queries of one statement, by site and
/// [`RollupPlan::edge_key`], with the ids of the segments they were read from (to name
/// one that cannot be decoded): a dashboard's panels over one range read and decode the
/// segments around its edges once, not once per panel (a third of a rollup answer).
#[derive(Default)]
pub struct EdgeCache<'s> {
    found: FxHashMap<(i32, EdgeKey), Option<Found<'s>>>,
}

type EdgeKey = (Vec<(i64, i64)>, Vec<(i64, i64)>);

/// Edge visits and the ids of the segments (by index) they were read from.
struct Found<'s> {
    ids: Vec<i64>,
    visits: EdgeVisits<'s>,
}

/// The answer to `plan` over `range` from rollups, or `None` when the query is not
/// eligible, no hour of it is covered, reading the rows costs more than the scan
/// (`min_events_per_row` events a row at least, 0 for always), or an edge visit was
/// not read whole: the caller scans.
pub fn answer_from_rollups<'s>(
    reads: &mut dyn RollupReads<'s>,
    edges: &mut EdgeCache<'s>,
    min_events_per_row: i64,
    plan: &Plan,
    range: TimeRange,
    buckets: Option<&[i64]>,
) -> Result<Option<Answer>, RollupError> {
    if !RollupPlan::eligible(plan, buckets) {
        return Ok(None);
    }
    let (hot_from, hot_to) = RollupPlan::hot_window(range);
    let hot = reads.hot_times(hot_from, hot_to);
    let open = reads.open_hours(range.from_us, range.to_us);
    let settled_until = reads.settled_until().unwrap_or(i64::MIN);
    let Some(rollup) = RollupPlan::new(plan, range, buckets, &hot, &open, settled_until) else { return Ok(None) };
    let built = Built::read(reads, rollup.covered());
    if !worth_it(reads, min_events_per_row, plan, range, &rollup, &built) {
        return Ok(None);
    }
    let key = (reads.site_id(), rollup.edge_key());
    if !edges.found.contains_key(&key) {
        let (ids, segments): (Vec<i64>, Vec<&'s [u8]>) = reads.segments(rollup.reads()).into_iter().unzip();
        let hot = match (rollup.reads().first(), rollup.reads().last()) {
            (Some(first), Some(last)) => reads.hot_events(first.0, last.1),
            _ => Vec::new(),
        };
        let found = rollup.edge_visits(&segments, hot).map_err(|(i, error)| RollupError::Segment { segment_id: ids[i], error })?;
        edges.found.insert(key.clone(), found.map(|visits| Found { ids, visits }));
    }
    let Some(found) = edges.found[&key].as_ref() else { return Ok(None) };
    let answer = |rows: &[Vec<Row>], unsketched: &[Vec<Option<String>>]| {
        rollup
            .answer(plan, buckets, rows, unsketched, &found.visits)
            .map_err(|(i, error)| RollupError::Segment { segment_id: found.ids[i], error })
    };
    let (rows, unsketched) = read(reads, plan, &rollup, &built, RollupPlan::top(plan))?;
    match answer(&rows, &unsketched)? {
        // A value read without its sketch might be shown: read them all.
        None if unsketched.iter().any(|u| !u.is_empty()) => answer(&read(reads, plan, &rollup, &built, None)?.0, &[]),
        answered => Ok(answered),
    }
}

/// Per view, its rows and the values read without their sketches.
type ViewRows = (Vec<Vec<Row>>, Vec<Vec<Option<String>>>);

/// Per view, its rows over the covered hours; when only the first view's `top` groups
/// are shown, its rows come with the sketches of its most visited values alone
/// ([`RollupPlan::top`]), and the values left without are listed beside.
fn read(
    reads: &mut dyn RollupReads<'_>,
    plan: &Plan,
    rollup: &RollupPlan,
    built: &Built,
    top: Option<usize>,
) -> Result<ViewRows, RollupError> {
    let (mut rows, mut unsketched) = (Vec::new(), Vec::new());
    for (v, (dimension, hourly)) in rollup.dimensions().into_iter().enumerate() {
        let split = built.split(rollup.covered(), hourly);
        let values = rollup.values(plan, v);
        let (view_rows, view_unsketched) = match top.filter(|_| v == 0 && !hourly && values.is_none()) {
            Some(shown) => top_rows(reads, &split, dimension, shown)?,
            None => (summed_rows(reads, &split, dimension, hourly, values.as_deref())?, Vec::new()),
        };
        rows.push(view_rows);
        unsketched.push(view_unsketched);
    }
    Ok((rows, unsketched))
}

/// The whole weeks and days of the covered hours that have weekly and daily rows.
struct Built {
    weeks: Vec<i64>,
    days: Vec<i64>,
}

impl Built {
    fn read(reads: &mut dyn RollupReads<'_>, covered: &[(i64, i64)]) -> Built {
        let mut built = |period: Period| {
            let starts = period.whole(covered);
            if starts.is_empty() {
                Vec::new()
            } else {
                reads.built(period, &starts)
            }
        };
        Built { weeks: built(Period::Week), days: built(Period::Day) }
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

/// Whether the rollups save work: the plan reads little raw ([`RollupPlan::reads_little`])
/// and the range has `min_events_per_row` events per rollup row to read (rows counted
/// over [`RollupPlan::cost_sample`], weekly and daily rows for the `built` periods,
/// events from the segments' row counts). A setting of 0 takes the rollups whenever
/// they can answer.
fn worth_it(
    reads: &mut dyn RollupReads<'_>,
    min_events_per_row: i64,
    plan: &Plan,
    range: TimeRange,
    rollup: &RollupPlan,
    built: &Built,
) -> bool {
    if min_events_per_row == 0 {
        return true;
    }
    if !rollup.reads_little() {
        return false;
    }
    let events = reads.segment_events(range.from_us, range.to_us);
    // The rows of a sample of the covered days stand for all of them; counting stops
    // one row past the most the rule allows there: the answer is the same, and a site
    // with hundreds of thousands of page rows costs a short index read, not a count of
    // all of them (38 ms for the 3.1M-event bench site's pages).
    let (sample, share) = rollup.cost_sample();
    let allowed = (events as f64 * share) as i64 / min_events_per_row;
    let rows: i64 = rollup
        .dimensions()
        .into_iter()
        .enumerate()
        .map(|(v, (dimension, hourly))| {
            reads.count_rows(dimension, &built.split(&sample, hourly), rollup.values(plan, v).as_deref(), allowed + 1)
        })
        .sum();
    rows <= allowed
}

/// The rows of `dimension` over `split`: per hour when `hourly` (the split then reads
/// no weeks or days), else summed per value ([`RowSums`]); only those of `values` when
/// given.
fn summed_rows(
    reads: &mut dyn RollupReads<'_>,
    split: &Split,
    dimension: &'static str,
    hourly: bool,
    values: Option<&[Option<String>]>,
) -> Result<Vec<Row>, RollupError> {
    let mut sums = RowSums::new(hourly);
    let mut failed = None;
    reads.rows(dimension, split, values, &mut |row| {
        if failed.is_none() {
            failed = sums.add(row).err();
        }
    });
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(sums.finish()),
    }
}

/// The rows of `dimension` over `split` summed per value for an answer showing its
/// `shown` groups with the most visitors: every value's counts without a sketch, then
/// the sketches of the most visited ([`RollupPlan::sketched`]). The values left without
/// are returned beside the rows. A 30-day top 10 of the bench's large site reads
/// 20,000 page rows' counts and 36 pages' sketches (the whole question: 70 -> 35 ms).
fn top_rows(
    reads: &mut dyn RollupReads<'_>,
    split: &Split,
    dimension: &'static str,
    shown: usize,
) -> Result<(Vec<Row>, Vec<Option<String>>), RollupError> {
    let counts = reads.value_counts(dimension, split);
    let visits: Vec<(Option<String>, i64)> = counts.iter().map(|r| (r.value.clone(), r.acc.visits as i64)).collect();
    let sketched = RollupPlan::sketched(shown, &visits);
    if sketched.len() == counts.len() {
        return Ok((summed_rows(reads, split, dimension, false, None)?, Vec::new()));
    }
    let mut out = summed_rows(reads, split, dimension, false, Some(&sketched))?;
    let sketched: FxHashSet<&Option<String>> = sketched.iter().collect();
    let unsketched: Vec<Row> = counts.into_iter().filter(|r| !sketched.contains(&r.value)).collect();
    let values = unsketched.iter().map(|r| r.value.clone()).collect();
    out.extend(unsketched);
    Ok((out, values))
}
