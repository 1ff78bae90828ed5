//! The executor side: TallyScan's state and callbacks. The scan reads its sources
//! when the first row is asked for (so parameters and `now()` have their values),
//! then decodes one segment at a time and returns its rows as virtual tuples.

use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::prelude::*;
use tally_core::event::COLUMNS;
use tally_core::scan::{decode, without_reading, Bounds, CodeFilter, Decoded, Direction};
use tally_core::segment::{Column, SegmentBytes, SegmentError};

use super::ordered::Ordered;
use super::quals::{self, Quals};
use super::source::{self, Sources};
use super::tuple::{self, Texts};
use super::{list, Methods};
use crate::query::segment_cache::{self, Loaded};

static SCAN_METHODS: Methods<pg_sys::CustomScanMethods> =
    Methods(pg_sys::CustomScanMethods { CustomName: c"TallyScan".as_ptr(), CreateCustomScanState: Some(create_state) });

static EXEC_METHODS: Methods<pg_sys::CustomExecMethods> = Methods(pg_sys::CustomExecMethods {
    CustomName: c"TallyScan".as_ptr(),
    BeginCustomScan: Some(begin),
    ExecCustomScan: Some(exec),
    EndCustomScan: Some(end),
    ReScanCustomScan: Some(rescan),
    MarkPosCustomScan: None,
    RestrPosCustomScan: None,
    EstimateDSMCustomScan: None,
    InitializeDSMCustomScan: None,
    ReInitializeDSMCustomScan: None,
    InitializeWorkerCustomScan: None,
    ShutdownCustomScan: None,
    ExplainCustomScan: Some(explain),
});

/// Rows returned between two interrupt checks.
const ROWS_PER_CHECK: u32 = 1 << 16;

pub(super) fn scan_methods() -> *const pg_sys::CustomScanMethods {
    &SCAN_METHODS.0
}

pub(super) fn register() {
    // SAFETY: a static table, registered once per backend from _PG_init.
    unsafe { pg_sys::RegisterCustomScanMethods(&SCAN_METHODS.0) }
}

/// The node's state: Postgres's part first, as the executor expects, then ours.
#[repr(C)]
struct State {
    css: pg_sys::CustomScanState,
    /// Owned; freed by `end`, or by the query context's reset callback after an error.
    run: *mut Run,
}

/// What one scan knows and holds.
pub(super) struct Run {
    /// Indices into COLUMNS of the columns the query references, in order.
    pub(super) columns: Vec<usize>,
    quals: Quals,
    /// The order rows are handed out in, when the plan asked for one (see [`Ordered`]).
    order: Option<Direction>,
    ordered: Option<Ordered>,
    /// Toast pointers of the segments to read (reset on rescan).
    scan_cxt: pg_sys::MemoryContext,
    /// The current segment's detoasted bytes and string datums.
    segment_cxt: pg_sys::MemoryContext,
    /// Datums of the last row returned (properties as jsonb).
    pub(super) row_cxt: pg_sys::MemoryContext,
    started: bool,
    pub(super) bounds: Bounds,
    pub(super) filters: Vec<CodeFilter>,
    pub(super) sources: Sources,
    /// The next source: stored segments first, then hot ones.
    next: usize,
    pub(super) current: Decoded,
    position: usize,
    texts: Texts,
    since_check: u32,
    pub(super) stats: Stats,
}

/// What EXPLAIN ANALYZE reports.
#[derive(Default)]
pub(super) struct Stats {
    segments_read: i64,
    /// Of those read, the ones a code filter's dictionary ruled out undecoded.
    segments_ruled_out: i64,
    segments_visible: Option<i64>,
    hot_rows: i64,
    rows_selected: i64,
    /// Threads that decoded an aggregation's sources (0 for a scan returning rows).
    pub(super) decoding_threads: i64,
}

/// A source that cannot be decoded: the stored segment's id (`None` for hot rows) and
/// why.
pub(super) type SourceError = (Option<i64>, SegmentError);

/// One source's input to decoding, gathered on the backend's thread ([`Run::fetch`]);
/// decoding it calls no Postgres function, so any thread may.
pub(super) enum Fetched<'a> {
    /// The rows, known from the catalog entry alone.
    Known(Decoded),
    /// A stored segment: its id and bytes.
    Stored(i64, Loaded<'a>),
    /// Hot rows encoded as a segment.
    Hot(&'a [u8]),
}

impl Fetched<'_> {
    /// The columns and rows of the source that the query's columns, filters and bounds
    /// ask for.
    pub(super) fn decode(self, columns: &[usize], filters: &[CodeFilter], bounds: &Bounds) -> Result<Decoded, SourceError> {
        let loaded;
        let (id, bytes) = match self {
            Fetched::Known(decoded) => return Ok(decoded),
            Fetched::Stored(id, kept) => {
                loaded = kept;
                (Some(id), loaded.bytes())
            }
            Fetched::Hot(bytes) => (None, SegmentBytes::from(bytes)),
        };
        bytes.reader().and_then(|r| decode(&r, columns, filters, bounds)).map_err(|e| (id, e))
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn create_state(_plan: *mut pg_sys::CustomScan) -> *mut pg_sys::Node {
    unsafe {
        let state = pg_sys::palloc0(std::mem::size_of::<State>()) as *mut State;
        (*state).css.ss.ps.type_ = pg_sys::NodeTag::T_CustomScanState;
        (*state).css.methods = &EXEC_METHODS.0;
        state.cast()
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn begin(node: *mut pg_sys::CustomScanState, estate: *mut pg_sys::EState, _eflags: i32) {
    unsafe {
        let state = node as *mut State;
        let plan = (*node).ss.ps.plan as *mut pg_sys::CustomScan;
        let scanrelid = (*plan).scan.scanrelid as i32;
        tuple::check_layout((*node).ss.ss_currentRelation);
        let mut columns = referenced(plan, scanrelid);
        let uses = quals::uses_of(list::ints((*plan).custom_private).get(1..).unwrap_or_default());
        let exact: Vec<*mut pg_sys::Expr> = list::nodes((*plan).custom_exprs).map(|n| n.cast()).collect();
        let parent_state = &mut (*node).ss.ps as *mut pg_sys::PlanState;
        let quals = Quals::prepare(&uses, &exact, parent_state).with(Quals::analyze((*plan).scan.plan.qual, scanrelid, parent_state));
        let parent = (*estate).es_query_cxt;
        let order = super::path::order_of(plan);
        let ts = tally_core::scan::ts_column();
        if order.is_some() && !columns.contains(&ts) {
            columns.push(ts);
        }
        let mut run = Run::new(columns, quals, parent);
        run.order = order;
        own(&raw mut (*state).run, run, parent);
    }
}

/// Moves `value` into `*slot`, freed by [`release`] or, when an error ends the query
/// before the node's end callback runs, by the reset of the query context `parent`.
///
/// # Safety
/// `slot` is null-initialised memory of a node state that lives as long as `parent`.
pub(super) unsafe fn own<T>(slot: *mut *mut T, value: T, parent: pg_sys::MemoryContext) {
    unsafe {
        *slot = Box::into_raw(Box::new(value));
        let callback = pg_sys::MemoryContextAllocZero(parent, std::mem::size_of::<pg_sys::MemoryContextCallback>())
            as *mut pg_sys::MemoryContextCallback;
        (*callback).func = Some(release_callback::<T>);
        (*callback).arg = slot.cast();
        pg_sys::MemoryContextRegisterResetCallback(parent, callback);
    }
}

unsafe extern "C-unwind" fn release_callback<T>(arg: *mut std::ffi::c_void) {
    unsafe { release(arg as *mut *mut T) }
}

/// Drops what [`own`] stored in `*slot`, if it is still there.
///
/// # Safety
/// `slot` was passed to [`own`].
pub(super) unsafe fn release<T>(slot: *mut *mut T) {
    unsafe {
        if !(*slot).is_null() {
            drop(Box::from_raw(*slot));
            *slot = std::ptr::null_mut();
        }
    }
}

/// The COLUMNS indices of the columns the plan's target list and quals reference
/// (all of them for a whole-row reference).
unsafe fn referenced(plan: *mut pg_sys::CustomScan, scanrelid: i32) -> Vec<usize> {
    unsafe {
        let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        pg_sys::pull_varattnos((*plan).scan.plan.targetlist.cast(), scanrelid as pg_sys::Index, &mut attrs);
        pg_sys::pull_varattnos((*plan).scan.plan.qual.cast(), scanrelid as pg_sys::Index, &mut attrs);
        let mut columns = Vec::new();
        let mut member = -1;
        loop {
            member = pg_sys::bms_next_member(attrs, member);
            if member < 0 {
                break;
            }
            let attno = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
            match attno {
                0 => return (0..COLUMNS.len()).collect(),
                1.. if attno as usize <= COLUMNS.len() => columns.push(attno as usize - 1),
                _ => {}
            }
        }
        columns
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn exec(node: *mut pg_sys::CustomScanState) -> *mut pg_sys::TupleTableSlot {
    unsafe { pg_sys::ExecScan(&mut (*node).ss, Some(next), Some(recheck)) }
}

/// Rows are only ever produced by the scan itself; EvalPlanQual has nothing to recheck.
#[pg_guard]
unsafe extern "C-unwind" fn recheck(_node: *mut pg_sys::ScanState, _slot: *mut pg_sys::TupleTableSlot) -> bool {
    true
}

/// The next row of the scan in the scan slot, or an empty slot at the end.
#[pg_guard]
unsafe extern "C-unwind" fn next(ss: *mut pg_sys::ScanState) -> *mut pg_sys::TupleTableSlot {
    unsafe {
        let state = ss as *mut State;
        let run = &mut *(*state).run;
        let slot = (*ss).ss_ScanTupleSlot;
        pg_sys::MemoryContextReset(run.row_cxt);
        if !run.started {
            run.start((*ss).ps.ps_ExprContext, !(*ss).ps.instrument.is_null());
        }
        run.since_check += 1;
        if run.since_check >= ROWS_PER_CHECK {
            run.since_check = 0;
            pgrx::check_for_interrupts!();
        }
        if let Some(direction) = run.order {
            let mut ordered = run.ordered.take().unwrap_or_else(|| Ordered::new(run, direction));
            let more = ordered.next(run, slot);
            run.ordered = Some(ordered);
            return if more { slot } else { pg_sys::ExecClearTuple(slot) };
        }
        loop {
            if let Some(row) = run.current.rows.get(run.position) {
                run.position += 1;
                tuple::fill(slot, &run.current, row as usize, &run.columns, &mut run.texts, run.segment_cxt);
                return slot;
            }
            if !run.advance() {
                return pg_sys::ExecClearTuple(slot);
            }
        }
    }
}

impl Run {
    /// A scan decoding `columns` (indices into COLUMNS) of the rows `quals` leave, its
    /// memory in contexts under `parent` (the query's).
    ///
    /// # Safety
    /// `parent` is a live memory context.
    pub(super) unsafe fn new(columns: Vec<usize>, quals: Quals, parent: pg_sys::MemoryContext) -> Run {
        unsafe {
            let context = |name: &'static std::ffi::CStr| memory_context(parent, name);
            Run {
                columns,
                quals,
                order: None,
                ordered: None,
                scan_cxt: context(c"TallyScan sources"),
                segment_cxt: context(c"TallyScan segment"),
                row_cxt: context(c"TallyScan row"),
                started: false,
                bounds: Bounds::default(),
                filters: Vec::new(),
                sources: Sources::default(),
                next: 0,
                current: Decoded::default(),
                position: 0,
                texts: Texts::default(),
                since_check: 0,
                stats: Stats::default(),
            }
        }
    }

    /// Evaluates the bounds and filters and reads which segments and hot rows to scan.
    pub(super) unsafe fn start(&mut self, econtext: *mut pg_sys::ExprContext, instrumented: bool) {
        unsafe {
            let (bounds, filters) = self.quals.evaluate(econtext);
            // The segments read stay in this backend's cache for the next queries, as
            // `tally.segment_cache_mb` sets it.
            segment_cache::configure();
            self.sources =
                if bounds.is_empty() { Sources::default() } else { source::read(&bounds, &filters, instrumented, self.scan_cxt) };
            if instrumented {
                let visible = self.sources.visible.unwrap_or(0);
                self.stats.segments_visible = Some(self.stats.segments_visible.unwrap_or(0) + visible);
            }
            self.bounds = bounds;
            self.filters = filters;
            self.started = true;
        }
    }

    /// Decodes the next source into `current`; false when there is none left.
    pub(super) unsafe fn advance(&mut self) -> bool {
        unsafe {
            self.current = Decoded::default();
            self.position = 0;
            if self.next >= self.sources.len() {
                return false;
            }
            self.current = self.decode_source(self.next);
            self.next += 1;
            self.texts.reset(&self.current);
            true
        }
    }

    /// Decodes source `index` (stored segments first, then hot rows) after resetting
    /// the segment context, counting what EXPLAIN ANALYZE reports.
    pub(super) unsafe fn decode_source(&mut self, index: usize) -> Decoded {
        unsafe {
            pg_sys::MemoryContextReset(self.segment_cxt);
            let fetched = self.fetch(index, self.segment_cxt);
            let decoded = fetched.decode(&self.columns, &self.filters, &self.bounds);
            self.decoded(index, decoded)
        }
    }

    /// What decoding source `index` needs, read on the backend's thread: a stored
    /// segment's bytes (detoasted into `cxt` unless the segment cache has them), a hot
    /// chunk's, or the rows when they are known without reading.
    pub(super) unsafe fn fetch(&mut self, index: usize, cxt: pg_sys::MemoryContext) -> Fetched<'static> {
        unsafe {
            pgrx::check_for_interrupts!();
            let Some(segment) = self.sources.stored.get(index) else {
                let hot = &self.sources.hot[index - self.sources.stored.len()];
                self.stats.hot_rows += hot.zone.rows as i64;
                // SAFETY: the hot chunks live until the scan restarts or ends, after
                // every decoding of them.
                return Fetched::Hot(std::slice::from_raw_parts(hot.bytes.as_ptr(), hot.bytes.len()));
            };
            self.stats.segments_read += 1;
            match without_reading(segment.rows, segment.ts_min, segment.ts_max, &self.columns, &self.filters, &self.bounds) {
                Some(decoded) => Fetched::Known(decoded),
                None => Fetched::Stored(segment.id, segment_cache::load((segment.id, segment.xmin), || source::detoast(segment, cxt))),
            }
        }
    }

    /// The rows of source `index` as [`Fetched::decode`] gave them, counted for
    /// EXPLAIN ANALYZE; raises the error of a source that cannot be decoded.
    pub(super) fn decoded(&mut self, index: usize, decoded: Result<Decoded, SourceError>) -> Decoded {
        let decoded = decoded.unwrap_or_else(|(id, e)| match id {
            Some(id) => error!("segment {id} of tally.segments cannot be decoded: {e}"),
            None => error!("tally.events: hot rows: {e}"),
        });
        let stored = index < self.sources.stored.len();
        self.stats.rows_selected += decoded.rows.len() as i64;
        self.stats.segments_ruled_out += i64::from(decoded.skipped_by_dictionary && stored);
        decoded
    }

    /// The times of the rows of `decoded` (empty when it selected none).
    pub(super) fn ts_values<'d>(&self, decoded: &'d Decoded) -> &'d [i64] {
        let ts = tally_core::scan::ts_column();
        match &decoded.columns[ts] {
            Some(Column::Int(times)) => &times.values,
            _ if decoded.rows.is_empty() => &[],
            _ => error!("TallyScan: an ordered scan without its ts column"),
        }
    }

    /// A new memory context under the sources' (freed on rescan and at the end).
    pub(super) unsafe fn child_context(&self, name: &'static std::ffi::CStr) -> pg_sys::MemoryContext {
        unsafe { memory_context(self.scan_cxt, name) }
    }

    /// Forgets the sources, so the next row re-reads them with the parameters' new
    /// values.
    pub(super) unsafe fn restart(&mut self) {
        unsafe {
            self.ordered = None;
            pg_sys::MemoryContextReset(self.scan_cxt);
            pg_sys::MemoryContextReset(self.segment_cxt);
            self.sources = Sources::default();
            self.current = Decoded::default();
            self.next = 0;
            self.position = 0;
            self.started = false;
        }
    }
}

/// A new memory context named `name` under `parent`.
///
/// # Safety
/// `parent` is a live memory context.
unsafe fn memory_context(parent: pg_sys::MemoryContext, name: &'static std::ffi::CStr) -> pg_sys::MemoryContext {
    unsafe {
        pg_sys::AllocSetContextCreateInternal(
            parent,
            name.as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn rescan(node: *mut pg_sys::CustomScanState) {
    unsafe {
        let state = node as *mut State;
        if let Some(run) = (*state).run.as_mut() {
            run.restart();
        }
        pg_sys::ExecScanReScan(&mut (*node).ss);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn end(node: *mut pg_sys::CustomScanState) {
    unsafe {
        release(&raw mut (*(node as *mut State)).run);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn explain(node: *mut pg_sys::CustomScanState, _ancestors: *mut pg_sys::List, es: *mut pg_sys::ExplainState) {
    unsafe {
        let state = node as *mut State;
        let Some(run) = (*state).run.as_ref() else { return };
        run.explain(es);
    }
}

/// Adds a text property to an EXPLAIN.
///
/// # Safety
/// `es` is the running EXPLAIN's state.
pub(super) unsafe fn explain_text(es: *mut pg_sys::ExplainState, label: &str, value: String) {
    unsafe {
        let (label, value) = (CString::new(label).expect("no NUL"), CString::new(value).unwrap_or_default());
        pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es);
    }
}

/// Adds an integer property to an EXPLAIN.
///
/// # Safety
/// `es` is the running EXPLAIN's state.
pub(super) unsafe fn explain_integer(es: *mut pg_sys::ExplainState, label: &str, value: i64) {
    unsafe {
        let label = CString::new(label).expect("no NUL");
        pg_sys::ExplainPropertyInteger(label.as_ptr(), std::ptr::null(), value, es);
    }
}

impl Run {
    /// What the scan decodes and uses, and with ANALYZE what it read.
    ///
    /// # Safety
    /// `es` is the running EXPLAIN's state.
    pub(super) unsafe fn explain(&self, es: *mut pg_sys::ExplainState) {
        unsafe {
            let mut decoded: Vec<usize> = self.columns.iter().copied().chain(self.quals.columns()).collect();
            decoded.sort_unstable();
            decoded.dedup();
            let names: Vec<&str> = decoded.iter().map(|&c| COLUMNS[c]).collect();
            explain_text(es, "Columns Decoded", if names.is_empty() { "(none)".to_owned() } else { names.join(", ") });
            if let Some(direction) = self.order {
                explain_text(es, "Merged In Order", if direction == Direction::Ascending { "ts".into() } else { "ts DESC".into() });
            }
            let used = self.quals.describe();
            if !used.is_empty() {
                explain_text(es, "Pushed Down", used.join(", "));
            }
            if (*es).analyze {
                if !self.filters.is_empty() {
                    explain_text(es, "Dictionary Filters", self.filters.iter().map(CodeFilter::describe).collect::<Vec<_>>().join(", "));
                }
                explain_integer(es, "Segments Read", self.stats.segments_read);
                explain_integer(es, "Segments Skipped", (self.stats.segments_visible.unwrap_or(0) - self.stats.segments_read).max(0));
                explain_integer(es, "Segments Ruled Out by Dictionary", self.stats.segments_ruled_out);
                explain_integer(es, "Hot Rows", self.stats.hot_rows);
                explain_integer(es, "Rows Selected", self.stats.rows_selected);
                if self.stats.decoding_threads > 0 {
                    explain_integer(es, "Decoding Threads", self.stats.decoding_threads);
                }
            }
        }
    }
}
