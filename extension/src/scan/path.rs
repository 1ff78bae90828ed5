//! The planner side: TallyScan as the only path of `tally.events_scan`.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use super::{exec, Methods};

/// The hook that was installed before ours, called first.
static mut PREVIOUS: pg_sys::set_rel_pathlist_hook_type = None;

static PATH_METHODS: Methods<pg_sys::CustomPathMethods> = Methods(pg_sys::CustomPathMethods {
    CustomName: c"TallyScan".as_ptr(),
    PlanCustomPath: Some(plan_path),
    ReparameterizeCustomPathByChild: None,
});

/// Cost of starting a scan: two catalog queries (segments, hot rows) through SPI.
const STARTUP_COST: f64 = 100.0;

/// The smallest share of the rows a scan is estimated to return (see [`estimate`]).
const MIN_SELECTIVITY: f64 = 0.01;

/// Cost per stored row: decoding a few columns of it, a fraction of a heap tuple's.
const ROW_COST: f64 = 0.002;

pub(super) fn install() {
    // SAFETY: _PG_init runs once per backend, before any planning.
    unsafe {
        PREVIOUS = pg_sys::set_rel_pathlist_hook;
        pg_sys::set_rel_pathlist_hook = Some(set_rel_pathlist);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn set_rel_pathlist(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    rti: pg_sys::Index,
    rte: *mut pg_sys::RangeTblEntry,
) {
    unsafe {
        if let Some(previous) = PREVIOUS {
            previous(root, rel, rti, rte);
        }
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || Some((*rte).relid) != super::relation() {
            return;
        }
        // A write keeps the plain path: the relation's trigger refuses it.
        if (*(*root).parse).resultRelation == rti as i32 {
            return;
        }
        for mark in super::list::nodes((*root).rowMarks) {
            if (*(mark as *mut pg_sys::PlanRowMark)).rti == rti {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "SELECT FOR UPDATE/SHARE is not supported on tally.events",
                    "tally.events",
                )
                .set_hint("Events are immutable; lock the rows of tally.sites instead.")
                .report(PgLogLevel::ERROR);
            }
        }
        // Takes, while planning, the lock the scan's read of the hot rows takes later
        // (`storage::hot_snapshot`): planning ends before a READ COMMITTED statement
        // takes its snapshot, so waiting for a compaction here means seeing it whole,
        // and once the partitions are locked, a compaction waits for the query to end.
        crate::storage::hot_snapshot::lock_hot_relations();
        estimate(root, rel);
        let path = pg_sys::palloc0(std::mem::size_of::<pg_sys::CustomPath>()) as *mut pg_sys::CustomPath;
        (*path).path.type_ = pg_sys::NodeTag::T_CustomPath;
        (*path).path.pathtype = pg_sys::NodeTag::T_CustomScan;
        (*path).path.parent = rel;
        (*path).path.pathtarget = (*rel).reltarget;
        (*path).path.rows = (*rel).rows;
        (*path).path.startup_cost = STARTUP_COST;
        (*path).path.total_cost = STARTUP_COST + (*rel).tuples * ROW_COST + (*rel).rows * pg_sys::cpu_tuple_cost;
        (*path).flags = pg_sys::CUSTOMPATH_SUPPORT_PROJECTION;
        (*path).methods = &PATH_METHODS.0;
        // The relation is always empty: its own paths would answer nothing.
        (*rel).pathlist = std::ptr::null_mut();
        (*rel).partial_pathlist = std::ptr::null_mut();
        pg_sys::add_path(rel, path.cast());
    }
}

/// Sets the relation's row counts from the segments' (visible) row counts and the hot
/// partitions' size, so joins and aggregates above are planned for the real size
/// rather than an empty table's. The relation has no column statistics, so the
/// default selectivities of several quals multiply into estimates of a row or two;
/// a nested loop would then rescan the segments once per outer row. The estimate is
/// kept at [`MIN_SELECTIVITY`] of the rows or more: too high costs a hash join, too
/// low a scan per row.
unsafe fn estimate(root: *mut pg_sys::PlannerInfo, rel: *mut pg_sys::RelOptInfo) {
    unsafe {
        // A read-only SPI query (`select`, not `Spi::get_one`, which marks the transaction
        // as writing and so needs a transaction id: refused on a standby).
        let total = Spi::connect(|client| {
            client
                .select(
                    "SELECT ((SELECT coalesce(sum(row_count), 0) FROM tally.segments) \
                           + (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_catalog.pg_class c \
                              JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'tally.events_hot'::regclass))::float8",
                    Some(1),
                    &[],
                )?
                .first()
                .get_one::<f64>()
        })
        .unwrap_or_else(|e| error!("tally.events: estimating its size: {e}"))
        .unwrap_or(0.0);
        let selectivity =
            pg_sys::clauselist_selectivity(root, (*rel).baserestrictinfo, 0, pg_sys::JoinType::JOIN_INNER, std::ptr::null_mut());
        (*rel).tuples = total;
        (*rel).rows = pg_sys::clamp_row_est(total * selectivity.max(MIN_SELECTIVITY));
    }
}

/// The plan node of the path: TallyScan over the relation, every qual kept for the
/// executor to check.
#[pg_guard]
unsafe extern "C-unwind" fn plan_path(
    _root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::CustomPath,
    tlist: *mut pg_sys::List,
    clauses: *mut pg_sys::List,
    _custom_plans: *mut pg_sys::List,
) -> *mut pg_sys::Plan {
    unsafe {
        let scan = pg_sys::palloc0(std::mem::size_of::<pg_sys::CustomScan>()) as *mut pg_sys::CustomScan;
        (*scan).scan.plan.type_ = pg_sys::NodeTag::T_CustomScan;
        (*scan).scan.plan.targetlist = tlist;
        (*scan).scan.plan.qual = pg_sys::extract_actual_clauses(clauses, false);
        (*scan).scan.scanrelid = (*rel).relid;
        (*scan).flags = (*best_path).flags;
        (*scan).methods = exec::scan_methods();
        scan.cast()
    }
}
