//! The executor side of TallyAgg: when the first row is asked for, the scan's sources
//! are read and decoded one segment at a time into a [`tally_core::scan::agg`]
//! aggregation; then each group is returned as a virtual tuple of keys and
//! aggregate values, which Postgres filters (`HAVING`) and projects. Over a join
//! ([`super::agg_join`]) the events are grouped by site as well, and the child plan's
//! rows then regroup them before the groups are returned.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use tally_core::scan::agg::{Aggregation, Filter, Key, Spec, Value};

use super::agg_join::Joined;
use super::exec::{explain_integer, explain_text, own, release, Run};
use super::quals::{uses_of, Quals, Use};
use super::{list, tuple, Methods};
use crate::query::interrupts::Interrupts;
use crate::storage::arrays::PG_EPOCH_OFFSET_US;

static SCAN_METHODS: Methods<pg_sys::CustomScanMethods> =
    Methods(pg_sys::CustomScanMethods { CustomName: c"TallyAgg".as_ptr(), CreateCustomScanState: Some(create_state) });

static EXEC_METHODS: Methods<pg_sys::CustomExecMethods> = Methods(pg_sys::CustomExecMethods {
    CustomName: c"TallyAgg".as_ptr(),
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
    run: *mut AggRun,
}

/// What one aggregation knows and holds.
struct AggRun {
    scan: Run,
    spec: Spec,
    /// Per function: its `FILTER` clause's quals, `None` without one.
    filters: Vec<Option<Quals>>,
    /// Per function: its `FILTER` uses, for EXPLAIN.
    filter_names: Vec<Vec<String>>,
    /// Per key: the unit of a `date_trunc` key as a text datum (query memory).
    units: Vec<pg_sys::Datum>,
    /// The groups, once aggregated.
    result: Option<Aggregation>,
    /// The next group to return.
    next: usize,
    /// Over a join: the joined relation.
    join: Option<JoinRun>,
}

/// The joined relation of a TallyAgg over a join.
struct JoinRun {
    /// The child plan reading it.
    child: *mut pg_sys::PlanState,
    /// Per group key of the scan tuple: the index of the joined relation's column
    /// among `keys`, or -1 for a key of the events.
    outer: Vec<i32>,
    /// Where the child's rows hold the column joining `site_id` and the key columns.
    site: i32,
    keys: Vec<i32>,
    /// Its rows, once read.
    joined: Joined,
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
unsafe extern "C-unwind" fn begin(node: *mut pg_sys::CustomScanState, estate: *mut pg_sys::EState, eflags: i32) {
    unsafe {
        let state = node as *mut State;
        let plan = (*node).ss.ps.plan as *mut pg_sys::CustomScan;
        let relation = super::relation().unwrap_or_else(|| error!("TallyAgg: tally.events_scan does not exist"));
        let rel = pg_sys::RelationIdGetRelation(relation);
        tuple::check_layout(rel);
        pg_sys::RelationClose(rel);

        let private: Vec<*mut pg_sys::Node> = list::nodes((*plan).custom_private).collect();
        let [spec, uses, filters, outer, positions] = private[..] else { error!("TallyAgg: a plan without its private list") };
        let spec = Spec::decode(&list::ints(spec.cast())).unwrap_or_else(|| error!("TallyAgg: a plan with an unknown aggregation"));
        let values: Vec<*mut pg_sys::Expr> = list::nodes((*plan).custom_exprs).map(|n| n.cast()).collect();
        let parent = &mut (*node).ss.ps as *mut pg_sys::PlanState;
        let uses = uses_of(&list::ints(uses.cast()));
        let (scan_values, mut rest) = values.split_at(uses.len());
        let quals = Quals::prepare(&uses, scan_values, parent);

        let mut columns = spec.columns();
        let mut filter_quals = Vec::new();
        let mut filter_names = Vec::new();
        let filter_ints = list::ints(filters.cast());
        let mut at = 0;
        for _ in &spec.funcs {
            let count = filter_ints[at];
            at += 1;
            let Ok(count) = usize::try_from(count) else {
                filter_quals.push(None);
                filter_names.push(Vec::new());
                continue;
            };
            let uses = uses_of(&filter_ints[at..at + 3 * count]);
            at += 3 * count;
            columns.extend(uses.iter().filter_map(|u| match u {
                Use::Code { column, .. } | Use::Null { column, .. } => Some(*column),
                _ => None,
            }));
            let (mine, others) = rest.split_at(count);
            rest = others;
            let prepared = Quals::prepare(&uses, mine, parent);
            filter_names.push(prepared.describe());
            filter_quals.push(Some(prepared));
        }
        columns.sort_unstable();
        columns.dedup();

        let units = spec
            .keys
            .iter()
            .map(|key| match key {
                Key::Trunc(unit) => {
                    pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(unit.name().as_ptr().cast(), unit.name().len() as i32))
                }
                Key::Column(_) | Key::Prop(_) => pg_sys::Datum::from(0usize),
            })
            .collect();
        let join = match list::ints(positions.cast())[..] {
            [] => None,
            [site, ref keys @ ..] => {
                let child = pg_sys::ExecInitNode(list::nodes((*plan).custom_plans).next().expect("a child plan").cast(), estate, eflags);
                (*node).custom_ps = list::node_list(&[child.cast()]);
                Some(JoinRun { child, outer: list::ints(outer.cast()), site, keys: keys.to_vec(), joined: Joined::default() })
            }
        };
        let query_cxt = (*estate).es_query_cxt;
        let scan = Run::new(columns, quals, query_cxt);
        let run = AggRun { scan, spec, filters: filter_quals, filter_names, units, result: None, next: 0, join };
        own(&raw mut (*state).run, run, query_cxt);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn exec(node: *mut pg_sys::CustomScanState) -> *mut pg_sys::TupleTableSlot {
    unsafe { pg_sys::ExecScan(&mut (*node).ss, Some(next), Some(recheck)) }
}

/// Groups are only ever produced by the node itself; EvalPlanQual has nothing to recheck.
#[pg_guard]
unsafe extern "C-unwind" fn recheck(_node: *mut pg_sys::ScanState, _slot: *mut pg_sys::TupleTableSlot) -> bool {
    true
}

/// The next group in the scan slot, or an empty slot at the end.
#[pg_guard]
unsafe extern "C-unwind" fn next(ss: *mut pg_sys::ScanState) -> *mut pg_sys::TupleTableSlot {
    unsafe {
        let state = ss as *mut State;
        let run = &mut *(*state).run;
        let slot = (*ss).ss_ScanTupleSlot;
        pg_sys::MemoryContextReset(run.scan.row_cxt);
        if run.result.is_none() {
            run.aggregate((*ss).ps.ps_ExprContext, !(*ss).ps.instrument.is_null());
        }
        let result = run.result.as_ref().expect("aggregated");
        if run.next >= result.len() {
            return pg_sys::ExecClearTuple(slot);
        }
        fill(slot, result, run.next, run.join.as_ref(), run.scan.row_cxt);
        run.next += 1;
        slot
    }
}

impl AggRun {
    /// Reads and aggregates every source.
    unsafe fn aggregate(&mut self, econtext: *mut pg_sys::ExprContext, instrumented: bool) {
        unsafe {
            let interrupts = Interrupts::new();
            self.scan.start(econtext, instrumented);
            let filters = self
                .filters
                .iter()
                .map(|quals| match quals {
                    None => Filter::All,
                    Some(quals) => match quals.evaluate(econtext) {
                        (bounds, _) if bounds.is_empty() => Filter::Nothing,
                        (_, codes) => Filter::Codes(codes),
                    },
                })
                .collect();
            let mut aggregation = Aggregation::new(self.spec.clone(), filters);
            self.scan.columns = aggregation.columns();
            let (units, call_cxt) = (&self.units, self.scan.row_cxt);
            // Postgres's own date_trunc, in the session's time zone; its call frame is
            // allocated in `call_cxt`, reset after each segment.
            let mut trunc = |key: usize, ts: i64| -> i64 {
                let since_2000 = pg_sys::Datum::from(ts - PG_EPOCH_OFFSET_US);
                let previous = pg_sys::MemoryContextSwitchTo(call_cxt);
                let truncated = pgrx::direct_function_call_as_datum(pg_sys::timestamptz_trunc, &[Some(units[key]), Some(since_2000)]);
                pg_sys::MemoryContextSwitchTo(previous);
                truncated.expect("date_trunc of a timestamp is not NULL").value() as i64 + PG_EPOCH_OFFSET_US
            };
            self.scan.for_each_decoded(|decoded| {
                if aggregation.add(decoded, &mut trunc, &|| interrupts.check()).is_err() {
                    interrupts.raise();
                }
                pg_sys::MemoryContextReset(call_cxt);
            });
            if let Some(join) = &mut self.join {
                let cxt = self.scan.child_context(c"TallyAgg joined rows");
                join.joined = Joined::read(join.child, join.site, &join.keys, cxt);
                let sites = &join.joined.sites;
                let by = self.spec.keys.len() - 1;
                aggregation = aggregation.regroup(by, |site| site.and_then(|s| sites.get(&(s as i32))).map_or_else(Vec::new, Vec::clone));
            }
            aggregation.finish();
            self.result = Some(aggregation);
            self.next = 0;
        }
    }
}

/// Stores group `group` of `result` in `slot`: the keys, then the aggregates, each as
/// the type the plan's scan tuple gives it. Over a join, a key of the joined relation
/// is its copied datum, found through the joined group the site key holds.
unsafe fn fill(
    slot: *mut pg_sys::TupleTableSlot,
    result: &Aggregation,
    group: usize,
    join: Option<&JoinRun>,
    row_cxt: pg_sys::MemoryContext,
) {
    unsafe {
        pg_sys::ExecClearTuple(slot);
        let desc = (*slot).tts_tupleDescriptor;
        let natts = (*desc).natts as usize;
        let attrs = (*desc).attrs.as_slice(natts);
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        let previous = pg_sys::MemoryContextSwitchTo(row_cxt);
        let (keys, outer) = match join {
            Some(join) => (join.outer.len(), join.outer.as_slice()),
            None => (result.spec().keys.len(), &[][..]),
        };
        let mut part = 0;
        for i in 0..natts {
            let value = match outer.get(i) {
                Some(&j) if j >= 0 => {
                    let join = join.expect("a join's keys");
                    let Value::Int(row) = result.key(group, result.spec().keys.len() - 1) else { unreachable!("a joined group") };
                    match join.joined.keys[row as usize][j as usize] {
                        Some(d) => {
                            values[i] = d;
                            nulls[i] = false;
                        }
                        None => nulls[i] = true,
                    }
                    continue;
                }
                _ if i < keys => {
                    part += 1;
                    result.key(group, part - 1)
                }
                _ => result.value(group, i - keys),
            };
            match datum(value, attrs[i].atttypid) {
                Some(d) => {
                    values[i] = d;
                    nulls[i] = false;
                }
                None => nulls[i] = true,
            }
        }
        pg_sys::MemoryContextSwitchTo(previous);
        pg_sys::ExecStoreVirtualTuple(slot);
    }
}

/// `value` as a datum of type `ty`, as Postgres's own aggregate would return it
/// (`sum(int4)` a bigint, `sum(int8)` and `avg` numerics); `None` for NULL.
unsafe fn datum(value: Value<'_>, ty: pg_sys::Oid) -> Option<pg_sys::Datum> {
    unsafe {
        let datum = match (value, ty) {
            (Value::Null, _) => return None,
            (Value::Str(s), pg_sys::TEXTOID) => pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(s.as_ptr().cast(), s.len() as i32)),
            (Value::Int(v), pg_sys::INT4OID) => pg_sys::Datum::from(v as i32),
            (Value::Int(v), pg_sys::INT8OID) => pg_sys::Datum::from(v),
            (Value::Int(v), pg_sys::TIMESTAMPTZOID) => pg_sys::Datum::from(v - PG_EPOCH_OFFSET_US),
            (Value::Wide(v), pg_sys::INT8OID) => pg_sys::Datum::from(i64::try_from(v).unwrap_or_else(|_| {
                ErrorReport::new(PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range", "TallyAgg")
                    .report(PgLogLevel::ERROR);
                unreachable!("ERROR does not return")
            })),
            (Value::Wide(v), pg_sys::NUMERICOID) => numeric(v),
            (Value::Avg { sum, count }, pg_sys::NUMERICOID) => {
                let quotient =
                    pgrx::direct_function_call_as_datum(pg_sys::numeric_div, &[Some(numeric(sum)), Some(numeric(i128::from(count)))]);
                quotient.expect("a numeric quotient")
            }
            (value, ty) => error!("TallyAgg: {value:?} cannot be a value of type {ty:?}"),
        };
        Some(datum)
    }
}

/// `v` as a numeric datum (scale 0), as `numeric_in` reads its digits.
unsafe fn numeric(v: i128) -> pg_sys::Datum {
    unsafe {
        let digits = std::ffi::CString::new(v.to_string()).expect("digits");
        let args =
            [Some(pg_sys::Datum::from(digits.as_ptr())), Some(pg_sys::Datum::from(pg_sys::InvalidOid)), Some(pg_sys::Datum::from(-1i32))];
        pgrx::direct_function_call_as_datum(pg_sys::numeric_in, &args).expect("a numeric")
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn rescan(node: *mut pg_sys::CustomScanState) {
    unsafe {
        let state = node as *mut State;
        if let Some(run) = (*state).run.as_mut() {
            run.scan.restart();
            run.result = None;
            run.next = 0;
            if let Some(join) = &run.join {
                pg_sys::ExecReScan(join.child);
            }
        }
        pg_sys::ExecScanReScan(&mut (*node).ss);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn end(node: *mut pg_sys::CustomScanState) {
    unsafe {
        let state = node as *mut State;
        if let Some(join) = (*state).run.as_ref().and_then(|run| run.join.as_ref()) {
            pg_sys::ExecEndNode(join.child);
        }
        release(&raw mut (*state).run);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn explain(node: *mut pg_sys::CustomScanState, _ancestors: *mut pg_sys::List, es: *mut pg_sys::ExplainState) {
    unsafe {
        let state = node as *mut State;
        let Some(run) = (*state).run.as_ref() else { return };
        if !run.spec.keys.is_empty() {
            explain_text(es, "Group Keys", run.spec.keys.iter().map(|&k| run.spec.describe_key(k)).collect::<Vec<_>>().join(", "));
        }
        if run.join.is_some() {
            explain_text(es, "Groups Joined By", "site_id".into());
        }
        let aggregates: Vec<String> = run
            .spec
            .funcs
            .iter()
            .zip(&run.filter_names)
            .zip(&run.filters)
            .map(|((func, names), quals)| match quals {
                None => func.describe(),
                Some(_) => format!("{} FILTER ({})", func.describe(), names.join(", ")),
            })
            .collect();
        explain_text(es, "Aggregates", aggregates.join(", "));
        run.scan.explain(es);
        if (*es).analyze {
            explain_integer(es, "Groups", run.result.as_ref().map_or(0, |r| r.len() as i64));
        }
    }
}
