//! The planner side: TallyScan as the only path of `tally.events_scan`.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use tally_core::scan::Direction;
use tally_core::segment::MAX_ROWS;

use super::{exec, list, quals, Methods};

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

/// The btree operator family of `timestamptz` (`datetime_ops`, pg_opfamily.dat): a
/// pathkey in it orders by `<`/`>` on the timestamps, as the scan's merge does.
const DATETIME_BTREE_FAMILY: u32 = 434;

/// The first integer of `custom_private`: an unordered scan, an ascending or a
/// descending one.
const ORDERS: [Option<Direction>; 3] = [None, Some(Direction::Ascending), Some(Direction::Descending)];

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
        // The relation is always empty: its own paths would answer nothing.
        (*rel).pathlist = std::ptr::null_mut();
        (*rel).partial_pathlist = std::ptr::null_mut();
        let unordered = (*rel).tuples * ROW_COST + (*rel).rows * pg_sys::cpu_tuple_cost;
        pg_sys::add_path(rel, new_path(rel, STARTUP_COST, STARTUP_COST + unordered, None).cast());
        if let Some((pathkey, direction)) = ts_order(root, rel) {
            // Rows come out after the first segment is decoded; merging them costs a
            // comparison or two each.
            let startup = STARTUP_COST + (*rel).tuples.min(MAX_ROWS as f64) * ROW_COST;
            let total = STARTUP_COST + unordered + (*rel).rows * 2.0 * pg_sys::cpu_operator_cost;
            let path = new_path(rel, startup, total, Some(direction));
            (*path).path.pathkeys = pg_sys::lappend(std::ptr::null_mut(), pathkey.cast());
            pg_sys::add_path(rel, path.cast());
        }
    }
}

/// A TallyScan path over `rel`, handing out rows in `order` when given.
unsafe fn new_path(rel: *mut pg_sys::RelOptInfo, startup: f64, total: f64, order: Option<Direction>) -> *mut pg_sys::CustomPath {
    unsafe {
        let path = pg_sys::palloc0(std::mem::size_of::<pg_sys::CustomPath>()) as *mut pg_sys::CustomPath;
        (*path).path.type_ = pg_sys::NodeTag::T_CustomPath;
        (*path).path.pathtype = pg_sys::NodeTag::T_CustomScan;
        (*path).path.parent = rel;
        (*path).path.pathtarget = (*rel).reltarget;
        (*path).path.rows = (*rel).rows;
        (*path).path.startup_cost = startup;
        (*path).path.total_cost = total;
        (*path).flags = pg_sys::CUSTOMPATH_SUPPORT_PROJECTION;
        (*path).methods = &PATH_METHODS.0;
        let code = ORDERS.iter().position(|o| *o == order).expect("a listed order") as i32;
        (*path).custom_private = list::int_list(&[code]);
        path
    }
}

/// The first pathkey of the query's ORDER BY and its direction when it is `ts` of
/// `rel`, the query's only relation, under a LIMIT: the scan can then hand out rows
/// in that order (see [`super::ordered`]) and a Limit above stops it early. Without a
/// LIMIT a Sort reads everything anyway, and the merge would hold every segment.
unsafe fn ts_order(root: *mut pg_sys::PlannerInfo, rel: *mut pg_sys::RelOptInfo) -> Option<(*mut pg_sys::PathKey, Direction)> {
    unsafe {
        if (*root).limit_tuples <= 0.0 || !pg_sys::bms_equal((*rel).relids, (*root).all_baserels) {
            return None;
        }
        let pathkey = list::nodes((*root).query_pathkeys).next()? as *mut pg_sys::PathKey;
        if (*pathkey).pk_opfamily.to_u32() != DATETIME_BTREE_FAMILY {
            return None;
        }
        let ts = tally_core::scan::ts_column();
        let on_ts = list::nodes((*(*pathkey).pk_eclass).ec_members).any(|member| {
            let member = member as *mut pg_sys::EquivalenceMember;
            quals::column_of((*member).em_expr.cast(), (*rel).relid as i32) == Some(ts)
        });
        let direction = match (*pathkey).pk_strategy as u32 {
            pg_sys::BTLessStrategyNumber => Direction::Ascending,
            pg_sys::BTGreaterStrategyNumber => Direction::Descending,
            _ => return None,
        };
        on_ts.then_some((pathkey, direction))
    }
}

/// The order a TallyScan plan hands out rows in.
///
/// # Safety
/// `plan` is a TallyScan plan made by [`plan_path`].
pub(super) unsafe fn order_of(plan: *mut pg_sys::CustomScan) -> Option<Direction> {
    unsafe {
        let code = list::ints((*plan).custom_private).first().copied().unwrap_or(0);
        *ORDERS.get(code as usize).unwrap_or_else(|| error!("TallyScan: a plan with an unknown order {code}"))
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
        let total = super::source::total_rows();
        let selectivity =
            pg_sys::clauselist_selectivity(root, (*rel).baserestrictinfo, 0, pg_sys::JoinType::JOIN_INNER, std::ptr::null_mut());
        (*rel).tuples = total;
        (*rel).rows = pg_sys::clamp_row_est(total * selectivity.max(MIN_SELECTIVITY));
    }
}

/// The plan node of the path: TallyScan over the relation. The quals the scan decides
/// exactly (site and time bounds, code filters: [`quals::exact`], as TallyAgg takes
/// them) go to `custom_exprs`, their uses after the order in `custom_private`, and are
/// not checked again on each row; the executor checks the others.
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
        let scanrelid = (*rel).relid as i32;
        let (mut checked, mut exact, mut uses) = (std::ptr::null_mut(), std::ptr::null_mut(), list::ints((*best_path).custom_private));
        for clause in list::nodes(pg_sys::extract_actual_clauses(clauses, false)) {
            match quals::exact(clause, scanrelid) {
                Some((how, value)) => {
                    uses.extend(how.encode());
                    exact = pg_sys::lappend(exact, value.cast());
                }
                None => checked = pg_sys::lappend(checked, clause.cast()),
            }
        }
        (*scan).scan.plan.qual = checked;
        (*scan).scan.scanrelid = (*rel).relid;
        (*scan).flags = (*best_path).flags;
        (*scan).custom_exprs = exact;
        (*scan).custom_private = list::int_list(&uses);
        (*scan).methods = exec::scan_methods();
        scan.cast()
    }
}
