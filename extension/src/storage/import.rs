//! History import (`tally.import_events`): the rows of a staging relation shaped like
//! `tally.event` go straight into segments, then their rollup hours, days and weeks are
//! computed, in the caller's transaction. Loading history through the hot table
//! instead wrote every event to a heap, its index and the WAL first, only for
//! compaction to read and delete it again.
//!
//! The staging relation is read with a heap scan of its own (as compaction reads a hot
//! partition, [`hot_scan`]) in chunks of [`CHUNK_ROWS`]; each chunk is checked, encoded
//! per site and UTC day on the compaction threads and inserted. A row that fails the
//! checks raises an error naming its position and field: the transaction rolls back
//! and nothing of the import is stored, while everything stored before stays.

use std::time::Instant;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::COLUMNS;
use tally_core::segment::Batch;

use super::compact::{self, CompactStats};
use super::hot_scan;
use crate::rollup;

/// Rows read, checked and encoded at once: enough for the compaction threads to
/// share (a few segments per site-day), few enough to hold as columns (~100 bytes a
/// row).
const CHUNK_ROWS: usize = 500_000;

/// Columns that may not be NULL, as in `tally.events_hot`.
const REQUIRED: [&str; 7] = ["site_id", "ts", "name", "visitor_id", "session_id", "hostname", "pathname"];

/// Imports every row of `staging` (a relation whose columns are those of `tally.event`,
/// in that order: `CREATE TABLE staging (LIKE tally.event)`) into segments and
/// rollups. Returns the events imported. Progress goes out as NOTICEs. Call with the
/// storage lock held.
pub fn import(client: &mut SpiClient, staging: pg_sys::Oid) -> i64 {
    let name = check_staging(client, staging);
    let total = client
        .select(&format!("SELECT count(*) FROM {name}"), None, &[])
        .and_then(|rows| rows.first().get_one::<i64>())
        .unwrap_or_else(|e| error!("counting the rows of {name}: {e}"))
        .unwrap_or(0);
    let started = Instant::now();
    let mut stats = CompactStats::default();
    let mut touched = rollup::Touched::default();
    let mut done = 0usize;
    let required: Vec<usize> = REQUIRED.iter().map(|c| COLUMNS.iter().position(|n| n == c).unwrap_or_default()).collect();
    let check = |row: usize, nulls: &[bool]| {
        if let Some(&column) = required.iter().find(|&&c| nulls[c]) {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                format!("row {} of {name}: {} is NULL; nothing was imported", row + 1, COLUMNS[column]),
                "tally.import_events",
            )
            .set_hint(format!("Every row needs {}; fix or delete the row and import again.", REQUIRED.join(", ")))
            .report(PgLogLevel::ERROR);
        }
    };
    hot_scan::scan_chunks(staging, &name, CHUNK_ROWS, check, |batch| {
        check_sites(client, &name, &batch, done);
        compact::write_batch(client, &batch, &mut stats, &mut touched);
        done += batch.ints("ts").len();
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        notice!("tally.import_events: {done} of {total} events stored as segments ({rate:.0} events/s)");
    });
    compact::merge_days(client);
    notice!("tally.import_events: computing the rollup hours");
    rollup::refresh(client, &touched);
    notice!("tally.import_events: building the daily and weekly rollups");
    rollup::periods::build(client, i64::MAX);
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
    notice!("tally.import_events: {done} events imported ({rate:.0} events/s end to end)");
    done as i64
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
/// its position in the scan (`offset` rows came before the chunk).
fn check_sites(client: &SpiClient, name: &str, batch: &Batch, offset: usize) {
    let mut sites: Vec<i32> = batch.ints("site_id").iter().map(|&s| s as i32).collect();
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
        let row = batch.ints("site_id").iter().position(|&s| s == i64::from(site)).unwrap_or(0);
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!("row {} of {name}: site_id {site} is not in tally.sites; nothing was imported", offset + row + 1),
            "tally.import_events",
        )
        .set_hint("Create the site first (tally.sites), or delete its rows from the staging table.")
        .report(PgLogLevel::ERROR);
    }
}
