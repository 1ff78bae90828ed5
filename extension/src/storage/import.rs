//! History import (`tally.import_events`): the rows of a staging relation shaped like
//! `tally.event` go straight into segments, then their rollup hours, days and weeks are
//! computed, in the caller's transaction. Loading history through the hot table
//! instead wrote every event to a heap, its index and the WAL first, only for
//! compaction to read and delete it again.
//!
//! The staging relation is read with a heap scan of its own (as compaction reads a hot
//! partition, [`hot_scan`]) in chunks of `tally.import_chunk_rows` rows. While the
//! backend's thread reads and checks a chunk, the one before is encoded on threads of
//! its own (pure Rust, no Postgres call), and its segments are inserted once both are
//! done: reading and encoding take about the same time, so the import uses two cores
//! where it used one and then two. Each site's last day in a chunk is probably not
//! over (exports come in time order), so its rows wait for the next chunk instead of
//! becoming a segment that would be decoded and encoded again when the day's segments
//! merge. A row that fails the checks raises an error naming its position and field:
//! the transaction rolls back and nothing of the import is stored, while everything
//! stored before stays.

use std::collections::HashMap;
use std::time::Instant;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::COLUMNS;
use tally_core::segment::Batch;

use super::compact::{self, CompactStats, Encoded};
use super::{hot_scan, parallel};
use crate::{gucs, rollup};

/// Columns that may not be NULL, as in `tally.events_hot`.
const REQUIRED: [&str; 7] = ["site_id", "ts", "name", "visitor_id", "session_id", "hostname", "pathname"];

const DAY_US: i64 = 86_400_000_000;

/// Imports every row of `staging` (a relation whose columns are those of `tally.event`,
/// in that order: `CREATE TABLE staging (LIKE tally.event)`) into segments and
/// rollups. Returns the events imported. Progress goes out as NOTICEs. Call with the
/// storage lock held.
pub fn import(client: &mut SpiClient, staging: pg_sys::Oid) -> i64 {
    let name = check_staging(client, staging);
    // Each chunk's columns reuse the pages the chunk before them freed, instead of
    // faulting in fresh pages the kernel zeroes (a sixth of the reading thread's time).
    crate::heap::keep_scan_memory();
    let chunk_rows = gucs::IMPORT_CHUNK_ROWS.get().max(1) as usize;
    let threads = parallel::threads();
    let started = Instant::now();
    let mut stats = CompactStats::default();
    let mut touched = rollup::Touched::default();
    // Rows read from the table, rows stored as segments, rows kept at the front of the
    // batch being read.
    let (mut read, mut stored, mut kept) = (0usize, 0usize, 0usize);
    let required: Vec<usize> = REQUIRED.iter().map(|c| COLUMNS.iter().position(|n| n == c).unwrap_or_default()).collect();
    let check = |row: usize, nulls: &[bool], fault: Option<&str>| {
        if let Some(&column) = required.iter().find(|&&c| nulls[c]) {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                format!("row {} of {name}: {} is NULL; nothing was imported", row + 1, COLUMNS[column]),
                "tally.import_events",
            )
            .set_hint(format!("Every row needs {}; fix or delete the row and import again.", REQUIRED.join(", ")))
            .report(PgLogLevel::ERROR);
        }
        if let Some(fault) = fault {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("row {} of {name}: {fault}; nothing was imported", row + 1),
                "tally.import_events",
            )
            .set_hint("ts must be a finite time and props a JSON object (or NULL); fix or delete the row and import again.")
            .report(PgLogLevel::ERROR);
        }
    };
    // A worker's panic, or an error raised here while it runs, leaves the scope only
    // once every thread of it has ended.
    std::thread::scope(|scope| {
        let mut encoding: Option<std::thread::ScopedJoinHandle<'_, Encoded>> = None;
        let mut store = |client: &mut SpiClient, encoding: Option<std::thread::ScopedJoinHandle<'_, Encoded>>, share: f64| {
            let Some(handle) = encoding else { return };
            let encoded = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            stored += compact::insert_encoded(client, encoded, &mut stats);
            let rate = stored as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let percent = 100.0 * share;
            notice!("tally.import_events: {stored} events stored as segments, {percent:.0}% of {name} read ({rate:.0} events/s)");
        };
        hot_scan::scan_chunks(staging, &name, chunk_rows, check, |batch, progress| {
            check_sites(client, &name, &batch, kept, read);
            read += batch.len() - kept;
            for (&site, &ts) in batch.ints("site_id")[kept..].iter().zip(&batch.ints("ts")[kept..]) {
                touched.note_at(site as i32, ts);
            }
            let keep = if progress.last { Vec::new() } else { open_days(&batch, chunk_rows) };
            let next = batch.with_rows(&keep);
            kept = keep.len();
            let rows = rows_but(batch.len(), &keep);
            store(client, encoding.take(), progress.read);
            encoding = Some(scope.spawn(move || {
                parallel::block_signals();
                compact::encode_rows(&batch, &rows, threads)
            }));
            next
        });
        store(client, encoding.take(), 1.0);
    });
    compact::merge_days(client);
    notice!("tally.import_events: computing the rollup hours");
    rollup::refresh(client, &touched);
    notice!("tally.import_events: building the daily and weekly rollups");
    rollup::periods::build(client, i64::MAX);
    let rate = stored as f64 / started.elapsed().as_secs_f64().max(1e-3);
    notice!("tally.import_events: {stored} events imported ({rate:.0} events/s end to end)");
    stored as i64
}

/// The rows of each site's last UTC day in `batch`, to keep for the next chunk: in an
/// import in time order, the days the next rows continue. None when they are more
/// than `limit` (the input is not in time order, or a chunk holds less than a day):
/// the rows are encoded then, and the day's segments merged at the end.
fn open_days(batch: &Batch, limit: usize) -> Vec<u32> {
    let (sites, ts) = (batch.ints("site_id"), batch.ints("ts"));
    let mut last: HashMap<i64, i64> = HashMap::new();
    for (&site, &ts) in sites.iter().zip(ts) {
        let day = last.entry(site).or_insert(i64::MIN);
        *day = (*day).max(ts.div_euclid(DAY_US));
    }
    let open: Vec<u32> = (0..batch.len() as u32).filter(|&r| last[&sites[r as usize]] == ts[r as usize].div_euclid(DAY_US)).collect();
    if open.len() > limit {
        Vec::new()
    } else {
        open
    }
}

/// `0..len` without `skip` (ascending).
fn rows_but(len: usize, skip: &[u32]) -> Vec<u32> {
    let mut skip = skip.iter().peekable();
    (0..len as u32).filter(|r| skip.next_if_eq(&r).is_none()).collect()
}

/// The name of `staging` for SQL, after checking that its columns have the types of
/// `tally.event`'s, in order (the heap scan reads their values by position), and that
/// the caller may read all of it: the heap scan sees every row, so a table whose
/// rows row-level security filters is refused rather than read past its policies.
fn check_staging(client: &SpiClient, staging: pg_sys::Oid) -> String {
    let row = client
        .select(
            "SELECT $1::regclass::text, \
                    (SELECT array_agg(format_type(atttypid, NULL) ORDER BY attnum) FROM pg_attribute \
                     WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped), \
                    (SELECT array_agg(format_type(atttypid, NULL) ORDER BY attnum) FROM pg_attribute \
                     WHERE attrelid = 'tally.event'::regtype::text::regclass AND attnum > 0 AND NOT attisdropped), \
                    (SELECT relkind FROM pg_class WHERE oid = $1)::text, \
                    (SELECT count(*) FROM pg_attribute WHERE attrelid = $1 AND attnum > 0), \
                    has_table_privilege($1, 'SELECT'), \
                    (SELECT relrowsecurity FROM pg_class WHERE oid = $1)",
            None,
            &[staging.into()],
        )
        .unwrap_or_else(|e| error!("reading the columns of the staging relation: {e}"));
    let row = row.first();
    let name: String = row.get(1).ok().flatten().unwrap_or_default();
    let found: Vec<String> = row.get(2).ok().flatten().unwrap_or_default();
    let wanted: Vec<String> = row.get(3).ok().flatten().unwrap_or_default();
    let kind: String = row.get(4).ok().flatten().unwrap_or_default();
    // Dropped columns keep their place in the tuples the scan reads.
    let attributes: i64 = row.get(5).ok().flatten().unwrap_or_default();
    if kind != "r" || found != wanted || attributes != wanted.len() as i64 {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{name} is not a table with the columns of tally.event (found {})", found.join(", ")),
            "tally.import_events",
        )
        .set_hint("Load the events into CREATE TABLE staging (LIKE tally.event), then SELECT tally.import_events('staging').")
        .report(PgLogLevel::ERROR);
    }
    if !row.get::<bool>(6).ok().flatten().unwrap_or(false) {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for table {name}"),
            "tally.import_events",
        )
        .set_hint("The importing role needs SELECT on the whole staging table.")
        .report(PgLogLevel::ERROR);
    }
    if row.get::<bool>(7).ok().flatten().unwrap_or(true) {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{name} has row-level security; tally.import_events reads every row of its table"),
            "tally.import_events",
        )
        .set_hint("Copy the rows to import into a table of your own: CREATE TABLE staging (LIKE tally.event).")
        .report(PgLogLevel::ERROR);
    }
    name
}

/// Refuses a chunk with a site that is not in `tally.sites`, naming its first row by
/// its position in the scan: the rows of `batch` from `first` on were read after
/// `offset` others (those before `first` were checked with an earlier chunk).
fn check_sites(client: &SpiClient, name: &str, batch: &Batch, first: usize, offset: usize) {
    let mut sites: Vec<i32> = batch.ints("site_id")[first..].iter().map(|&s| s as i32).collect();
    sites.sort_unstable();
    sites.dedup();
    let unknown: Option<i32> = client
        .select(
            "SELECT min(s) FROM unnest($1::int[]) s WHERE NOT EXISTS (SELECT FROM tally.sites t WHERE t.site_id = s)",
            None,
            &[sites.into()],
        )
        .and_then(|rows| rows.first().get_one::<i32>())
        .unwrap_or_else(|e| error!("checking the sites of {name}: {e}"));
    if let Some(site) = unknown {
        let row = batch.ints("site_id")[first..].iter().position(|&s| s == i64::from(site)).unwrap_or(0);
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!("row {} of {name}: site_id {site} is not in tally.sites; nothing was imported", offset + row + 1),
            "tally.import_events",
        )
        .set_hint("Create the site first (tally.sites), or delete its rows from the staging table.")
        .report(PgLogLevel::ERROR);
    }
}
