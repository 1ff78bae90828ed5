//! `tally.query`: reads what a stats query needs through SPI and hands it to
//! `tally_core::query`: rollup rows and edge events when the query is eligible for
//! the rollups (`rollups`), else the segments and hot rows of the range. Calendar arithmetic is SQL (`tally.query_period`,
//! `tally.query_buckets` in sql/query.sql); everything else happens in tally-core.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;
use tally_core::query::{self, DateRange, Dimension, Funnel, Goal, Period, Plan, QueryError, SiteRef, TimeRange};
use tally_core::segment;

use crate::gucs;
use crate::spi_value::SpiValue;
use crate::storage::arrays::to_unix_us;
use crate::storage::hot_scan::hot_events;
use crate::storage::parallel::block_signals;

mod rollups;

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
    let parsed = query::parse(json).unwrap_or_else(|e| reject(e));
    Spi::connect(|client| {
        let (site_id, timezone) = site(client, &parsed.site);
        let mut parsed = parsed;
        if let Some(Funnel::Stored(name)) = &parsed.funnel {
            parsed.funnel = Some(Funnel::Steps(stored_funnel(client, site_id, name)));
        }
        let plan = Plan::new(parsed, goals(client, site_id)).unwrap_or_else(|e| reject(e));
        let current = period(client, &plan, site_id, &timezone, "none");
        let previous = plan.query.comparison.map(|c| {
            let shift = match c {
                query::Comparison::PreviousPeriod => "previous_period",
                query::Comparison::YearOverYear => "year_over_year",
            };
            period(client, &plan, site_id, &timezone, shift)
        });
        JsonB(query::render(&plan, &current, previous.as_ref()))
    })
}

/// An ERROR saying which step of the query failed.
fn fail(what: &str, e: pgrx::spi::SpiError) -> ! {
    error!("tally.query: {what}: {e}")
}

/// The site's id and time zone.
fn site(client: &SpiClient<'_>, site: &SiteRef) -> (i32, String) {
    let row = match site {
        SiteRef::Domain(domain) => {
            client.select("SELECT site_id, timezone FROM tally.sites WHERE domain = $1", Some(1), &[domain.as_str().into()])
        }
        SiteRef::Id(id) => client.select("SELECT site_id, timezone FROM tally.sites WHERE site_id = $1", Some(1), &[(*id).into()]),
    }
    .unwrap_or_else(|e| fail("reading the site", e));
    let row = row.into_iter().next().unwrap_or_else(|| reject(QueryError::new("site_id", "no such site")));
    (row.value(1).unwrap_or_default(), row.value(2).unwrap_or_default())
}

pub(crate) fn goals(client: &SpiClient<'_>, site_id: i32) -> Vec<Goal> {
    client
        .select("SELECT name, event_name, page_pattern FROM tally.goals WHERE site_id = $1 ORDER BY name", None, &[site_id.into()])
        .unwrap_or_else(|e| fail("reading goals", e))
        .map(|row| Goal { name: row.value(1).unwrap_or_default(), event_name: row.value(2), page_pattern: row.value(3) })
        .collect()
}

/// The steps of the site's funnel called `name`.
fn stored_funnel(client: &SpiClient<'_>, site_id: i32, name: &str) -> Vec<String> {
    let steps: Option<Vec<String>> = client
        .select("SELECT steps FROM tally.funnels WHERE site_id = $1 AND name = $2", Some(1), &[site_id.into(), name.into()])
        .unwrap_or_else(|e| fail("reading the funnel", e))
        .next()
        .and_then(|row| row.value(1));
    steps.unwrap_or_else(|| {
        let known: Vec<String> = client
            .select("SELECT name FROM tally.funnels WHERE site_id = $1 ORDER BY name", None, &[site_id.into()])
            .unwrap_or_else(|e| fail("reading funnels", e))
            .filter_map(|row| row.value(1))
            .collect();
        reject(QueryError::new("funnel", format!("no funnel named {name:?}; funnels of this site: {known:?}")))
    })
}

/// Resolves the query's range (shifted for a comparison) and scans it.
fn period(client: &SpiClient<'_>, plan: &Plan, site_id: i32, timezone: &str, shift: &str) -> Period {
    let (kind, days, first, last) = match &plan.query.date_range {
        DateRange::Day => ("day", 1, None, None),
        DateRange::LastDays(n) => ("days", *n as i32, None, None),
        DateRange::Month => ("month", 0, None, None),
        DateRange::Year => ("year", 0, None, None),
        DateRange::Realtime => ("realtime", 0, None, None),
        DateRange::Custom(f, l) => ("custom", 0, Some(f.to_string()), Some(l.to_string())),
    };
    let row = client
        .select(
            "SELECT from_ts, to_ts, from_label, to_label FROM tally.query_period($1, $2, $3, $4::date, $5::date, $6)",
            Some(1),
            &[timezone.into(), kind.into(), days.into(), first.into(), last.into(), shift.into()],
        )
        .unwrap_or_else(|e| fail("resolving the date range", e))
        .first();
    let instant = |i: usize| -> i64 {
        let ts: Option<TimestampWithTimeZone> = row.value(i);
        to_unix_us(ts.unwrap_or_else(|| reject(QueryError::new("date_range", "the date range is out of bounds"))))
    };
    let range = TimeRange { from_us: instant(1), to_us: instant(2) };
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
    let (answer, from_rollups) = match rollups::answer(client, plan, site_id, range, starts.as_deref()) {
        Some(answer) => (answer, true),
        None => (scan(plan, site_id, range, starts), false),
    };
    Period { answer, from_label, to_label, bucket_labels, from_rollups }
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
    // already scan the ones before. octet_length reads the size from the TOAST pointer.
    let segments: Vec<(i64, (i64, i64), usize, _)> = client
        .select(
            "SELECT segment_id, min_ts, max_ts, octet_length(data), data FROM tally.segments \
             WHERE site_id = $1 AND max_ts >= $2 AND min_ts < $3 ORDER BY min_ts",
            None,
            &[site_id.into(), from.into(), to.into()],
        )
        .unwrap_or_else(|e| fail("reading segments", e))
        .map(|r| {
            let ts = |i| r.value::<TimestampWithTimeZone>(i).map(to_unix_us).unwrap_or_default();
            let id: i64 = r.value(1).unwrap_or_default();
            let bytes = r.value::<i32>(4).unwrap_or_default() as usize;
            (id, (ts(2), ts(3)), bytes, r)
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
    let load = |i: usize| -> &[u8] {
        match segments.get(i) {
            Some((id, _, _, row)) => row.value(5).unwrap_or_else(|| error!("segment {id} has no data")),
            None => hot.as_ref().map(|hot| hot.bytes.as_slice()).expect("the hot rows are the last batch"),
        }
    };
    let threads = (gucs::QUERY_THREADS.get().max(1) as usize).min(bytes / MIN_BYTES_PER_THREAD).max(1);
    query::scan_loaded(plan, range, buckets, zones, load, threads, block_signals).unwrap_or_else(|(index, e)| match segments.get(index) {
        Some(&(id, _, _, _)) => error!("segment {id} of tally.segments cannot be decoded: {e}"),
        None => error!("tally.query: hot rows: {e}"),
    })
}
