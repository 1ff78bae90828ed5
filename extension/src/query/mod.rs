//! `tally.query`: reads what a stats query needs through SPI and hands it to
//! `tally_core::query`: rollup rows and edge events when the query is eligible for
//! the rollups (`rollups`), else the segments and hot rows of the range. Calendar arithmetic is SQL (`tally.query_period`,
//! `tally.query_buckets` in sql/query.sql); everything else happens in tally-core.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;
use tally_core::query::saved_segments;
use tally_core::query::{
    self, DateRange, Dimension, Funnel, Goal, Period, Plan, QueryError, ScanError, Shape, SharedPlan, SiteRef, TimeRange, Workers,
};
use tally_core::segment::{self, SegmentBytes};

use crate::gucs;
use crate::spi_value::SpiValue;
use crate::storage::arrays::to_unix_us;
use crate::storage::hot_scan::hot_events;
use crate::storage::parallel::block_signals;

pub(crate) mod interrupts;
mod rollups;
pub(crate) mod segment_cache;

use interrupts::Interrupts;
use tally_core::query::EdgeCache;

/// Raises a bad query as SQLSTATE 22023 with the field in DETAIL (`field: metrics[0]`,
/// which the gateway turns into a 400) and what to do in HINT.
pub fn reject(error: QueryError) -> ! {
    reject_field(error, "tally.query", "the query JSON; see the tally.query section of the README.")
}

/// Raises `error` of the JSON that `context` reads as SQLSTATE 22023: the field in
/// DETAIL (the gateway's 400 names it), and in HINT which field to fix `in_what`.
pub fn reject_field(error: QueryError, context: &'static str, in_what: &str) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, error.message.clone(), context)
        .set_detail(format!("field: {}", error.field))
        .set_hint(format!("Fix \"{}\" in {in_what}", error.field))
        .report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Answers `json` (a Plausible Stats API v2 query).
pub fn run(json: &serde_json::Value) -> JsonB {
    Spi::connect(|client| {
        let question = prepare(client, json).unwrap_or_else(|e| reject(e));
        let mut edges = EdgeCache::default();
        let answers = question.periods.iter().map(|p| answer(client, &question.plan, question.site_id, p, &mut edges)).collect();
        JsonB(question.render(answers))
    })
}

/// Answers every query of `json` (an array) in one statement: the answer of each, or
/// `{"error": {"field", "message"}}` for one that is bad, in order. The periods that
/// need a scan of the same site and range share one (`SharedPlan`): a dashboard's
/// panels, filtered beyond what the rollups hold, decode the month once, not per panel.
/// Only the questions of share `part` of `parts` ([`query::divide`]) are answered;
/// the others' places hold `null`.
pub fn run_batch(json: &serde_json::Value, part: i32, parts: i32) -> JsonB {
    let Some(queries) = json.as_array() else {
        reject_field(QueryError::new("queries", "expected an array of queries"), "tally.query_batch", "the array of queries.")
    };
    if queries.len() > MAX_BATCH {
        reject_field(
            QueryError::new("queries", format!("at most {MAX_BATCH} queries per batch, got {}", queries.len())),
            "tally.query_batch",
            "the array of queries: send the rest in another batch.",
        )
    }
    if !(1..=MAX_PARTS).contains(&parts) {
        let error = QueryError::new("parts", format!("expected 1 to {MAX_PARTS} parts, got {parts}"));
        reject_field(error, "tally.query_batch", "the number of parts: one per connection answering the batch.")
    }
    if !(1..=parts).contains(&part) {
        let error = QueryError::new("part", format!("expected a part from 1 to {parts}, got {part}"));
        reject_field(error, "tally.query_batch", "the part: which of the parts this call answers.")
    }
    Spi::connect(|client| {
        let questions: Vec<Result<Question, QueryError>> = queries.iter().map(|q| prepare(client, q)).collect();
        let shapes: Vec<Option<Shape<'_>>> = questions
            .iter()
            .map(|q| {
                let q = q.as_ref().ok()?;
                Some(Shape { plan: &q.plan, site_id: q.site_id, buckets: q.periods.iter().map(|p| p.starts.as_deref()).collect() })
            })
            .collect();
        let mine: Vec<bool> = query::divide(&shapes, parts as usize).into_iter().map(|share| share + 1 == part as usize).collect();
        // Answers by question and period: rollups first, then the shared scans.
        let mut answers: Vec<Vec<Option<(query::Answer, bool)>>> =
            questions.iter().map(|q| q.as_ref().map_or(Vec::new(), |q| vec![None; q.periods.len()])).collect();
        let mut scans: Vec<SharedScan> = Vec::new();
        let mut edges = EdgeCache::default();
        for (i, question) in questions.iter().enumerate() {
            let (Ok(q), true) = (question, mine[i]) else { continue };
            for (p, period) in q.periods.iter().enumerate() {
                match rollups::answer(client, &q.plan, q.site_id, period.range, period.starts.as_deref(), &mut edges) {
                    Some(answer) => answers[i][p] = Some((answer, true)),
                    None => SharedScan::join(&mut scans, q, period, (i, p)),
                }
            }
        }
        for scan in scans {
            let plans: Vec<&Plan> = scan.members.iter().map(|&(i, _)| &questions[i].as_ref().expect("answered").plan).collect();
            let split = match plans[..] {
                [plan] => vec![self::scan(plan, scan.site_id, scan.range, scan.starts)],
                _ => {
                    let shared = SharedPlan::new(&plans);
                    shared.split(self::scan(&shared.plan, scan.site_id, scan.range, scan.starts))
                }
            };
            for ((i, p), answer) in scan.members.into_iter().zip(split) {
                answers[i][p] = Some((answer, false));
            }
        }
        let results = questions
            .into_iter()
            .zip(answers)
            .zip(mine)
            .map(|((question, answers), mine)| match question {
                _ if !mine => serde_json::Value::Null,
                Ok(q) => q.render(answers.into_iter().map(|a| a.expect("every period answered")).collect()),
                Err(e) => serde_json::json!({"error": {"field": e.field, "message": e.message}}),
            })
            .collect();
        JsonB(serde_json::Value::Array(results))
    })
}

/// The most queries one `tally.query_batch` answers: a dashboard asks about ten.
const MAX_BATCH: usize = 50;

/// The most shares a batch is divided into (connections answering it side by side).
const MAX_PARTS: i32 = 16;

/// A checked query: its plan for its site and the periods it is answered over (the
/// range, then the comparison's).
struct Question {
    plan: Plan,
    site_id: i32,
    periods: Vec<PeriodRange>,
}

/// A period's instants and labels, resolved in the site's time zone.
struct PeriodRange {
    range: TimeRange,
    starts: Option<Vec<i64>>,
    from_label: String,
    to_label: String,
    bucket_labels: Vec<String>,
}

impl Question {
    /// The JSON answer, from the answers of [`Question::periods`] (each flagged when it
    /// came from the rollups).
    fn render(&self, answers: Vec<(query::Answer, bool)>) -> serde_json::Value {
        let mut periods = self.periods.iter().zip(answers).map(|(p, (answer, from_rollups))| Period {
            answer,
            from_label: p.from_label.clone(),
            to_label: p.to_label.clone(),
            bucket_labels: p.bucket_labels.clone(),
            from_rollups,
        });
        let current = periods.next().expect("a query has its range");
        query::render(&self.plan, &current, periods.next().as_ref())
    }
}

/// Periods of one site and range that one scan answers: members are (question,
/// period) indices. At most one time-bucket layout per scan; a period without a
/// `time:*` dimension joins any. A funnel's scan is its own (`shared` false).
struct SharedScan {
    site_id: i32,
    range: TimeRange,
    starts: Option<Vec<i64>>,
    shared: bool,
    members: Vec<(usize, usize)>,
}

impl SharedScan {
    /// Adds `member` (a period of `question`) to a scan of `scans` it can share, or to
    /// a new one.
    fn join(scans: &mut Vec<SharedScan>, question: &Question, period: &PeriodRange, member: (usize, usize)) {
        let shared = SharedPlan::can_share(&question.plan);
        let fits = |s: &SharedScan| {
            shared
                && s.shared
                && s.site_id == question.site_id
                && s.range == period.range
                && (period.starts.is_none() || s.starts.is_none() || s.starts == period.starts)
        };
        match scans.iter_mut().find(|s| fits(s)) {
            Some(scan) => {
                scan.starts = scan.starts.take().or_else(|| period.starts.clone());
                scan.members.push(member);
            }
            None => scans.push(SharedScan {
                site_id: question.site_id,
                range: period.range,
                starts: period.starts.clone(),
                shared,
                members: vec![member],
            }),
        }
    }
}

/// Checks `json` and resolves what answering it needs: the site, its goals (and
/// stored funnel), the plan and the periods. A bad query is an error naming its field.
fn prepare(client: &SpiClient<'_>, json: &serde_json::Value) -> Result<Question, QueryError> {
    let (json, segments) = saved_segments::expand(json, |id| saved_segment(client, id))?;
    let mut parsed = query::parse(&json)?;
    let (site_id, timezone) = site(client, &parsed.site)?;
    if let Some(other) = segments.iter().find(|s| s.site_id != site_id) {
        return Err(QueryError::new(&other.field, saved_segments::unknown(other.id)));
    }
    if let Some(Funnel::Stored(name)) = &parsed.funnel {
        parsed.funnel = Some(Funnel::Steps(stored_funnel(client, site_id, name)?));
    }
    let plan = Plan::new(parsed, goals(client, site_id))?;
    let mut periods = vec![period(client, &plan, &timezone, "none")?];
    if let Some(c) = plan.query.comparison {
        let shift = match c {
            query::Comparison::PreviousPeriod => "previous_period",
            query::Comparison::YearOverYear => "year_over_year",
        };
        periods.push(period(client, &plan, &timezone, shift)?);
    }
    Ok(Question { plan, site_id, periods })
}

/// Answers one period of `plan`: from the rollups where they hold it, else by a scan.
/// The flag says which.
fn answer<'c>(
    client: &'c SpiClient<'_>,
    plan: &Plan,
    site_id: i32,
    period: &PeriodRange,
    edges: &mut EdgeCache<'c>,
) -> (query::Answer, bool) {
    match rollups::answer(client, plan, site_id, period.range, period.starts.as_deref(), edges) {
        Some(answer) => (answer, true),
        None => (scan(plan, site_id, period.range, period.starts.clone()), false),
    }
}

/// An ERROR saying which step of the query failed.
fn fail(what: &str, e: pgrx::spi::SpiError) -> ! {
    error!("tally.query: {what}: {e}")
}

/// The site's id and time zone.
fn site(client: &SpiClient<'_>, site: &SiteRef) -> Result<(i32, String), QueryError> {
    let row = match site {
        SiteRef::Domain(domain) => {
            client.select("SELECT site_id, timezone FROM tally.sites WHERE domain = $1", Some(1), &[domain.as_str().into()])
        }
        SiteRef::Id(id) => client.select("SELECT site_id, timezone FROM tally.sites WHERE site_id = $1", Some(1), &[(*id).into()]),
    }
    .unwrap_or_else(|e| fail("reading the site", e));
    let row = row.into_iter().next().ok_or_else(|| QueryError::new("site_id", "no such site"))?;
    Ok((row.value(1).unwrap_or_default(), row.value(2).unwrap_or_default()))
}

/// The saved segment `id` if the caller may use it: row-level security on
/// tally.saved_segments hides other users' personal segments and other sites'.
fn saved_segment(client: &SpiClient<'_>, id: i64) -> Option<saved_segments::Saved> {
    let rows = client
        .select("SELECT site_id, filters FROM tally.saved_segments WHERE segment_id = $1", Some(1), &[id.into()])
        .unwrap_or_else(|e| fail("reading saved segments", e));
    let row = rows.into_iter().next()?;
    let filters: JsonB = row.value(2)?;
    Some(saved_segments::Saved { site_id: row.value::<i32>(1)?, filters: filters.0 })
}

pub(crate) fn goals(client: &SpiClient<'_>, site_id: i32) -> Vec<Goal> {
    client
        .select("SELECT name, event_name, page_pattern FROM tally.goals WHERE site_id = $1 ORDER BY name", None, &[site_id.into()])
        .unwrap_or_else(|e| fail("reading goals", e))
        .map(|row| Goal { name: row.value(1).unwrap_or_default(), event_name: row.value(2), page_pattern: row.value(3) })
        .collect()
}

/// The steps of the site's funnel called `name`.
fn stored_funnel(client: &SpiClient<'_>, site_id: i32, name: &str) -> Result<Vec<String>, QueryError> {
    let steps: Option<Vec<String>> = client
        .select("SELECT steps FROM tally.funnels WHERE site_id = $1 AND name = $2", Some(1), &[site_id.into(), name.into()])
        .unwrap_or_else(|e| fail("reading the funnel", e))
        .next()
        .and_then(|row| row.value(1));
    steps.ok_or_else(|| {
        let known: Vec<String> = client
            .select("SELECT name FROM tally.funnels WHERE site_id = $1 ORDER BY name", None, &[site_id.into()])
            .unwrap_or_else(|e| fail("reading funnels", e))
            .filter_map(|row| row.value(1))
            .collect();
        QueryError::new("funnel", format!("no funnel named {name:?}; funnels of this site: {known:?}"))
    })
}

/// Resolves the query's range (shifted for a comparison) and its time buckets.
fn period(client: &SpiClient<'_>, plan: &Plan, timezone: &str, shift: &str) -> Result<PeriodRange, QueryError> {
    let named = |kind: &str, days: i32, first: Option<String>, last: Option<String>| {
        client.select(
            "SELECT from_ts, to_ts, from_label, to_label FROM tally.query_period($1, $2, $3, $4::date, $5::date, $6)",
            Some(1),
            &[timezone.into(), kind.into(), days.into(), first.into(), last.into(), shift.into()],
        )
    };
    let resolved = match &plan.query.date_range {
        DateRange::Day => named("day", 1, None, None),
        DateRange::LastDays(n) => named("days", *n as i32, None, None),
        DateRange::Month => named("month", 0, None, None),
        DateRange::Year => named("year", 0, None, None),
        DateRange::Realtime => named("realtime", 0, None, None),
        DateRange::Last24Hours => named("24h", 0, None, None),
        DateRange::Custom(f, l) => named("custom", 0, Some(f.to_string()), Some(l.to_string())),
        DateRange::Instants { from_us, to_us } => client.select(
            "SELECT from_ts, to_ts, from_label, to_label FROM tally.query_instants($1, $2, $3, $4)",
            Some(1),
            &[timezone.into(), row_ts(*from_us).into(), row_ts(*to_us).into(), shift.into()],
        ),
    };
    let row = resolved.unwrap_or_else(|e| fail("resolving the date range", e)).first();
    let instant = |i: usize| -> Result<i64, QueryError> {
        let ts: Option<TimestampWithTimeZone> = row.value(i);
        ts.map(to_unix_us).ok_or_else(|| QueryError::new("date_range", "the date range is out of bounds"))
    };
    let range = TimeRange { from_us: instant(1)?, to_us: instant(2)? };
    let (from_label, to_label): (String, String) = (row.value(3).unwrap_or_default(), row.value(4).unwrap_or_default());
    let unit = plan.query.dimensions.iter().find_map(|d| match d {
        Dimension::Time(unit) => Some(unit.name()),
        _ => None,
    });
    let (starts, bucket_labels) = match unit {
        Some(unit) => {
            let (starts, labels): (Vec<i64>, Vec<String>) = client
                .select(
                    "SELECT start, label FROM tally.query_buckets($1, $2, $3, $4)",
                    None,
                    &[timezone.into(), unit.into(), row_ts(range.from_us).into(), row_ts(range.to_us).into()],
                )
                .unwrap_or_else(|e| fail("computing time buckets", e))
                .map(|r| {
                    let start: Option<TimestampWithTimeZone> = r.value(1);
                    (start.map(to_unix_us).unwrap_or_default(), r.value::<String>(2).unwrap_or_default())
                })
                .unzip();
            (Some(starts), labels)
        }
        None => (None, Vec::new()),
    };
    Ok(PeriodRange { range, starts, from_label, to_label, bucket_labels })
}

fn row_ts(us: i64) -> TimestampWithTimeZone {
    crate::storage::arrays::from_unix_us(us)
}

/// Below this many segment bytes per thread, a thread costs more than it saves.
const MIN_BYTES_PER_THREAD: usize = 512 * 1024;

/// Scans the segments overlapping `range` (pruned by their zone maps) and the hot
/// rows in it, on up to `tally.query_threads` threads. Reads through an SPI connection
/// of its own, so the segments it detoasts are freed when it returns, not when the
/// caller's connection or transaction ends (`tally.evaluate_alerts` scans many times
/// in one statement).
pub(crate) fn scan(plan: &Plan, site_id: i32, range: TimeRange, buckets: Option<Vec<i64>>) -> query::Answer {
    Spi::connect(|client| scan_with(client, plan, site_id, range, buckets))
}

fn scan_with(client: &SpiClient<'_>, plan: &Plan, site_id: i32, range: TimeRange, buckets: Option<Vec<i64>>) -> query::Answer {
    let (from, to) = (row_ts(range.from_us), row_ts(range.to_us));
    // The segments' rows, not yet detoasted: each is detoasted by this thread when the
    // scan asks for it (it stays valid until this SPI connection ends), while threads
    // already scan the ones before, unless this backend's segment cache has its bytes.
    // octet_length reads the size from the TOAST pointer.
    segment_cache::configure();
    crate::heap::keep_scan_memory();
    let segments: Vec<(segment_cache::Key, (i64, i64), usize, _)> = client
        .select(
            "SELECT segment_id, xmin::text::bigint, min_ts, max_ts, octet_length(data), data FROM tally.segments \
             WHERE site_id = $1 AND max_ts >= $2 AND min_ts < $3 ORDER BY min_ts",
            None,
            &[site_id.into(), from.into(), to.into()],
        )
        .unwrap_or_else(|e| fail("reading segments", e))
        .map(|r| {
            let ts = |i| r.value::<TimestampWithTimeZone>(i).map(to_unix_us).unwrap_or_default();
            let key = (r.value(1).unwrap_or_default(), r.value(2).unwrap_or_default());
            let bytes = r.value::<i32>(5).unwrap_or_default() as usize;
            (key, (ts(3), ts(4)), bytes, r)
        })
        .collect();
    let hot = hot_events(client, site_id, from, to);
    let hot = (!hot.is_empty()).then(|| segment::build(&hot).unwrap_or_else(|e| error!("tally.query: encoding hot rows: {e}")));
    let mut zones: Vec<(i64, i64)> = segments.iter().map(|&(_, zone, _, _)| zone).collect();
    let mut bytes: usize = segments.iter().map(|&(_, _, bytes, _)| bytes).sum();
    if let Some(hot) = &hot {
        zones.push((hot.zone.ts_min, hot.zone.ts_max));
        bytes += hot.bytes.len();
    }
    let loaded: Vec<std::cell::OnceCell<segment_cache::Loaded<'_>>> = segments.iter().map(|_| Default::default()).collect();
    let load = |i: usize| -> SegmentBytes<'_> {
        match segments.get(i) {
            Some(&(key, _, _, ref row)) => loaded[i]
                .get_or_init(|| segment_cache::load(key, || row.value(6).unwrap_or_else(|| error!("segment {} has no data", key.0))))
                .bytes(),
            None => hot.as_ref().map(|hot| hot.bytes.as_slice()).expect("the hot rows are the last batch").into(),
        }
    };
    let threads = (gucs::QUERY_THREADS.get().max(1) as usize).min(bytes / MIN_BYTES_PER_THREAD).max(1);
    let interrupts = Interrupts::new();
    let workers = Workers { threads, on_thread: block_signals, interrupted: &|| interrupts.check() };
    query::scan_loaded(plan, range, buckets, zones, load, workers).unwrap_or_else(|e| match e {
        ScanError::Cancelled(_) => interrupts.raise(),
        ScanError::Corrupt(index, e) => match segments.get(index) {
            Some(&((id, _), _, _, _)) => error!("segment {id} of tally.segments cannot be decoded: {e}"),
            None => error!("tally.query: hot rows: {e}"),
        },
    })
}
