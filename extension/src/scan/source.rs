//! What a scan reads besides segment bytes: the catalog rows of the segments its
//! bounds and the string ranges of its code filters leave, and the hot rows inside
//! them, both through SPI as the querying role (row-level security applies) and under
//! the query's own snapshot (`read_only`), so a compaction committing meanwhile
//! neither hides nor doubles an event.

use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use tally_core::scan::{Bounds, CodeFilter};
use tally_core::segment::{self, Segment, StringRanges};

use crate::storage::arrays::PG_EPOCH_OFFSET_US;
use crate::storage::hot_scan::{event_of, EventColumns};

/// A stored segment to read: its row's identity and its `data` as read (a TOAST
/// pointer, detoasted only when the scan reaches it).
pub(super) struct Stored {
    pub id: i64,
    pub xmin: i64,
    /// Its catalog entry's row count and time range (µs since the Unix epoch).
    pub rows: usize,
    pub ts_min: i64,
    pub ts_max: i64,
    data: *mut pg_sys::varlena,
}

/// The sources of one scan.
#[derive(Default)]
pub(super) struct Sources {
    pub stored: Vec<Stored>,
    /// Hot rows encoded as segments, so one decoder serves both.
    pub hot: Vec<Segment>,
    /// Every segment the role may see, when EXPLAIN ANALYZE asks how many were skipped.
    pub visible: Option<i64>,
}

impl Sources {
    /// Stored segments and hot chunks together.
    pub fn len(&self) -> usize {
        self.stored.len() + self.hot.len()
    }

    /// The rows of each source, stored segments first.
    pub fn rows(&self) -> Vec<usize> {
        self.stored.iter().map(|s| s.rows).chain(self.hot.iter().map(|h| h.zone.rows)).collect()
    }

    /// The time range of each source, stored segments first (µs since the Unix epoch).
    pub fn ranges(&self) -> Vec<(i64, i64)> {
        let stored = self.stored.iter().map(|s| (s.ts_min, s.ts_max));
        stored.chain(self.hot.iter().map(|h| (h.zone.ts_min, h.zone.ts_max))).collect()
    }
}

/// Reads the sources `bounds` leave, without the segments whose catalog string ranges
/// `filters` rule out; the segments' TOAST pointers are copied into `keep`, which
/// lives until the scan ends or restarts.
///
/// Under a snapshot that saw every compaction of the hot rows
/// (`storage::hot_snapshot`): the query's own, or a later one in READ COMMITTED
/// when the query's predates a compaction (a generic plan of a prepared statement
/// does not take the planner's lock).
///
/// # Safety
/// Called from the executor, with the query's snapshot active.
pub(super) unsafe fn read(bounds: &Bounds, filters: &[CodeFilter], count_visible: bool, keep: pg_sys::MemoryContext) -> Sources {
    crate::storage::hot_snapshot::reading(|| unsafe { read_now(bounds, filters, count_visible, keep) })
}

/// [`read`] under the active snapshot.
unsafe fn read_now(bounds: &Bounds, filters: &[CodeFilter], count_visible: bool, keep: pg_sys::MemoryContext) -> Sources {
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            error!("tally.events: SPI_connect failed");
        }
        let (from, to) = bounds.ts_range();
        let mut params = Params::default();
        let sites = bounds.sites().map(|sites| params.add(pg_sys::INT4ARRAYOID, sites.to_vec().into_datum().expect("an array")));
        let from = from.map(|us| params.add(pg_sys::TIMESTAMPTZOID, pg_sys::Datum::from(us.saturating_sub(PG_EPOCH_OFFSET_US))));
        let to = to.map(|us| params.add(pg_sys::TIMESTAMPTZOID, pg_sys::Datum::from(us.saturating_sub(PG_EPOCH_OFFSET_US))));
        let site_cond = sites.map(|p| format!(" AND site_id = ANY(${p})")).unwrap_or_default();
        let (from_seg, from_hot) = from.map(|p| (format!(" AND max_ts >= ${p}"), format!(" AND ts >= ${p}"))).unwrap_or_default();
        let (to_seg, to_hot) = to.map(|p| (format!(" AND min_ts <= ${p}"), format!(" AND ts <= ${p}"))).unwrap_or_default();

        let mut sources = Sources::default();
        // The ranges only when a filter can use them: the other scans read less.
        let filters = if crate::storage::layout::segments_have_string_ranges() { filters } else { &[] };
        let ranges = if filters.is_empty() { "" } else { ", string_ranges" };
        let rows = params.select(&format!(
            "SELECT segment_id, xmin, row_count, min_ts, max_ts, data{ranges} FROM tally.segments WHERE true{site_cond}{from_seg}{to_seg}"
        ));
        for row in rows {
            let id: i64 = row.get(0).expect("segment_id is NOT NULL");
            if !filters.is_empty() && !may_pass(id, &row, filters) {
                continue;
            }
            // The row's `data` as read (a TOAST pointer, or the bytes when stored inline),
            // last in the row so that the columns before it have fixed offsets.
            let data: *const pg_sys::varlena = row.datum(5).expect("data is NOT NULL").cast_mut_ptr();
            let len = pgrx::varlena::varsize_any(data);
            let copied = pg_sys::MemoryContextAlloc(keep, len) as *mut pg_sys::varlena;
            std::ptr::copy_nonoverlapping(data as *const u8, copied as *mut u8, len);
            let time = |column: usize| row.datum(column).expect("segment times are NOT NULL").value() as i64 + PG_EPOCH_OFFSET_US;
            sources.stored.push(Stored {
                id,
                // A TransactionId, unsigned 32 bits in its datum.
                xmin: row.datum(1).expect("xmin is set").value() as u32 as i64,
                rows: row.get::<i32>(2).expect("row_count is NOT NULL") as usize,
                ts_min: time(3),
                ts_max: time(4),
                data: copied,
            });
        }

        let columns = crate::storage::layout::hot_select_list();
        let hot: Vec<_> = params
            .select(&format!("SELECT {columns} FROM tally.events_hot WHERE true{site_cond}{from_hot}{to_hot}"))
            .map(|row| event_of(&row))
            .collect();
        sources.hot = hot
            .chunks(segment::MAX_ROWS)
            .map(|events| segment::build(events).unwrap_or_else(|e| error!("tally.events: encoding hot rows: {e}")))
            .collect();
        if count_visible {
            sources.visible = params.select("SELECT count(*) FROM tally.segments").next().and_then(|row| row.get(0));
        }
        pg_sys::SPI_finish();
        sources
    }
}

/// Whether segment `id`, whose catalog `row` ends with its `string_ranges`, may hold a
/// row passing every filter (true when it has no ranges recorded).
fn may_pass(id: i64, row: &SpiRow, filters: &[CodeFilter]) -> bool {
    let Some(bytes) = row.get::<&[u8]>(6) else { return true };
    let ranges = StringRanges::decode(bytes).unwrap_or_else(|e| {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
            format!("segment {id} of tally.segments has damaged string ranges: {e}"),
            "tally.events",
        )
        .set_hint(format!("UPDATE tally.segments SET string_ranges = NULL WHERE segment_id = {id} lets scans read the segment itself."))
        .report(PgLogLevel::ERROR);
        unreachable!("an ERROR does not return")
    });
    filters.iter().all(|filter| filter.may_pass_ranges(&ranges))
}

/// The rows of every visible segment plus the hot partitions' estimated rows: the
/// relation's size for the planner. Read-only, so planning takes no transaction id
/// (a standby plans too).
///
/// # Safety
/// Called while planning, inside a transaction.
pub(super) unsafe fn total_rows() -> f64 {
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            error!("tally.events: SPI_connect failed");
        }
        let total = Params::default()
            .select(
                "SELECT ((SELECT coalesce(sum(row_count), 0) FROM tally.segments) \
                       + (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_catalog.pg_class c \
                          JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'tally.events_hot'::regclass))::float8",
            )
            .next()
            .and_then(|row| row.get::<f64>(0))
            .unwrap_or(0.0);
        pg_sys::SPI_finish();
        total
    }
}

/// The bytes of `segment`, detoasted into `cxt` (reset before the next segment).
///
/// # Safety
/// `segment` comes from [`read`] of the running scan.
pub(super) unsafe fn detoast<'a>(segment: &Stored, cxt: pg_sys::MemoryContext) -> &'a [u8] {
    unsafe {
        let previous = pg_sys::MemoryContextSwitchTo(cxt);
        let bytes = pg_sys::pg_detoast_datum_packed(segment.data);
        pg_sys::MemoryContextSwitchTo(previous);
        std::slice::from_raw_parts(pgrx::varlena::vardata_any(bytes) as *const u8, pgrx::varlena::varsize_any_exhdr(bytes))
    }
}

/// The parameters of the scan's SPI queries, numbered from 1.
#[derive(Default)]
struct Params {
    types: Vec<pg_sys::Oid>,
    values: Vec<pg_sys::Datum>,
}

impl Params {
    /// Adds a parameter; its number.
    fn add(&mut self, oid: pg_sys::Oid, value: pg_sys::Datum) -> usize {
        self.types.push(oid);
        self.values.push(value);
        self.types.len()
    }

    /// Runs `sql`, read-only under the active snapshot, and iterates its rows (valid
    /// until SPI_finish). Its plan is prepared once per backend and kept (see [`plan`]).
    unsafe fn select(&mut self, sql: &str) -> impl Iterator<Item = SpiRow> {
        unsafe {
            let plan = plan(sql, &mut self.types);
            let nulls = vec![b' ' as std::ffi::c_char; self.values.len()];
            let rc = pg_sys::SPI_execute_plan(plan, self.values.as_mut_ptr(), nulls.as_ptr(), true, 0);
            if rc != pg_sys::SPI_OK_SELECT as i32 {
                error!("tally.events: reading {sql:?} failed ({rc})");
            }
            let table = pg_sys::SPI_tuptable;
            let count = pg_sys::SPI_processed as usize;
            // SAFETY: the tuple table holds `count` rows until the next SPI call.
            (0..count).map(move |i| SpiRow { tuple: *(*table).vals.add(i), desc: (*table).tupdesc })
        }
    }
}

thread_local! {
    /// This backend's prepared catalog queries, by their parameters' types and text.
    static PLANS: std::cell::RefCell<std::collections::HashMap<String, usize>> = Default::default();
}

/// The kept plan of `sql` with parameters of `types`, prepared on first use as a
/// generic plan (the catalog queries are small and their parameters do not change
/// which plan is good). Postgres's plan cache replans it when what it depends on
/// changes (the tables, their policies, the role, `search_path`), as for any prepared
/// statement; parsing and planning them again for every scan was a third of a small
/// query's time.
///
/// # Safety
/// Called between SPI_connect and SPI_finish.
unsafe fn plan(sql: &str, types: &mut [pg_sys::Oid]) -> pg_sys::SPIPlanPtr {
    let key = format!("{types:?} {sql}");
    if let Some(plan) = PLANS.with_borrow(|plans| plans.get(&key).copied()) {
        return plan as pg_sys::SPIPlanPtr;
    }
    unsafe {
        let text = CString::new(sql).expect("no NUL in SQL");
        let generic = pg_sys::CURSOR_OPT_GENERIC_PLAN as i32;
        let plan = pg_sys::SPI_prepare_cursor(text.as_ptr(), types.len() as i32, types.as_mut_ptr(), generic);
        if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
            let code = pg_sys::SPI_result;
            error!("tally.events: preparing {sql:?} failed ({code})");
        }
        PLANS.with_borrow_mut(|plans| plans.insert(key, plan as usize));
        plan
    }
}

/// One row of an SPI result.
struct SpiRow {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
}

impl SpiRow {
    /// Column `column` (from 0) as a raw datum, `None` for NULL.
    fn datum(&self, column: usize) -> Option<pg_sys::Datum> {
        let mut null = false;
        // SAFETY: a row of the current SPI tuple table and its descriptor.
        let datum = unsafe { pg_sys::SPI_getbinval(self.tuple, self.desc, column as i32 + 1, &mut null) };
        (!null).then_some(datum)
    }
}

impl EventColumns for SpiRow {
    fn get<T: FromDatum + IntoDatum>(&self, column: usize) -> Option<T> {
        // SAFETY: the query's column types are the event columns' (or int8 above).
        self.datum(column).and_then(|d| unsafe { T::from_datum(d, false) })
    }
}
