//! The planner side of TallyAgg: when `GROUP BY` and aggregates run over
//! `tally.events` alone, and the scan decides every `WHERE` clause exactly (site and
//! time bounds, code filters), a path that aggregates inside the scan is offered
//! beside Postgres's own Agg paths. Its plan's scan tuple is the group keys followed
//! by the aggregates (`custom_scan_tlist`), so Postgres maps the query's target list
//! and `HAVING` onto it and computes whatever lies above (expressions over
//! aggregates, `ORDER BY`, `LIMIT`) as for any Agg node. The same holds for a join
//! of `tally.events` with one other relation on `site_id` ([`agg_join`]). Any part
//! that does not fit [`Spec`] leaves the query to the ordinary plan.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use tally_core::event::COLUMNS;
use tally_core::scan::agg::{Func, Key, Spec, Unit, MAX_KEYS};

use super::quals::{self, Use};
use super::{agg_exec, agg_join, list, Methods};
use crate::gucs;

/// The hook that was installed before ours, called first.
static mut PREVIOUS: pg_sys::create_upper_paths_hook_type = None;

static PATH_METHODS: Methods<pg_sys::CustomPathMethods> = Methods(pg_sys::CustomPathMethods {
    CustomName: c"TallyAgg".as_ptr(),
    PlanCustomPath: Some(plan_path),
    ReparameterizeCustomPathByChild: None,
});

/// Cost of starting: TallyScan's (two catalog queries through SPI).
const STARTUP_COST: f64 = 100.0;

/// Cost per stored row: decoding the few columns the keys and aggregates read and
/// adding it to its group, below TallyScan's cost of handing the row to an Agg node
/// (`super::path`'s 0.002 plus Postgres's per-tuple costs), so the pushed-down path
/// wins wherever it exists.
const ROW_COST: f64 = 0.001;

/// `Aggref.aggkind` of an ordinary aggregate (`AGGKIND_NORMAL`).
const AGGKIND_NORMAL: std::ffi::c_char = b'n' as std::ffi::c_char;

pub(super) fn install() {
    // SAFETY: _PG_init runs once per backend, before any planning.
    unsafe {
        PREVIOUS = pg_sys::create_upper_paths_hook;
        pg_sys::create_upper_paths_hook = Some(create_upper_paths);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn create_upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut std::ffi::c_void,
) {
    unsafe {
        if let Some(previous) = PREVIOUS {
            previous(root, stage, input_rel, output_rel, extra);
        }
        if stage != pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG || extra.is_null() || !gucs::SCAN_AGGREGATES.get() {
            return;
        }
        if let Some(path) = pushdown(root, input_rel, output_rel, extra.cast()) {
            pg_sys::add_path(output_rel, path.cast());
        }
    }
}

/// What the path hands its plan: the encoded spec and quals, and the expressions the
/// plan lists (keys, aggregates, qual values, `HAVING`).
struct Private {
    spec: Vec<i32>,
    uses: Vec<i32>,
    /// Per function: the number of its `FILTER` uses (-1 for none) and their codes.
    filters: Vec<i32>,
    keys: Vec<*mut pg_sys::Node>,
    aggrefs: Vec<*mut pg_sys::Node>,
    values: Vec<*mut pg_sys::Node>,
    having: *mut pg_sys::Node,
    /// Over a join: per group key, the index of the joined relation's column it is
    /// among `joined` (-1 for a key of the events).
    outer: Vec<i32>,
    /// Over a join: the joined relation's column equal to `site_id`, then its
    /// columns the query groups by.
    joined: Vec<*mut pg_sys::Node>,
}

/// The TallyAgg path of the grouping of `input` into `output`, if it fits.
unsafe fn pushdown(
    root: *mut pg_sys::PlannerInfo,
    input: *mut pg_sys::RelOptInfo,
    output: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::GroupPathExtraData,
) -> Option<*mut pg_sys::CustomPath> {
    unsafe {
        let parse = (*root).parse;
        if pg_sys::is_dummy_rel(input) || !(*parse).groupingSets.is_null() || (*parse).hasTargetSRFs {
            return None;
        }
        let (events, join) = match (*input).reloptkind {
            pg_sys::RelOptKind::RELOPT_BASEREL => (input, None),
            // Without GROUP BY, an aggregate over a join that meets no row still
            // returns its one row, which groups combined by site cannot give.
            pg_sys::RelOptKind::RELOPT_JOINREL if !(*parse).groupClause.is_null() => {
                let join = agg_join::of(root, input)?;
                (join.events, Some(join))
            }
            _ => return None,
        };
        let rte = *(*root).simple_rte_array.add((*events).relid as usize);
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || Some((*rte).relid) != super::relation() {
            return None;
        }
        let scanrelid = (*events).relid as i32;
        let mut private = Private {
            spec: Vec::new(),
            uses: Vec::new(),
            filters: Vec::new(),
            keys: Vec::new(),
            aggrefs: Vec::new(),
            values: Vec::new(),
            having: (*extra).havingQual,
            outer: Vec::new(),
            joined: join.as_ref().map(|j| vec![j.column.cast()]).unwrap_or_default(),
        };

        // Every WHERE clause on the events decided by the scan itself.
        for info in list::nodes((*events).baserestrictinfo) {
            let info = info as *mut pg_sys::RestrictInfo;
            if (*info).pseudoconstant {
                return None;
            }
            let (how, value) = quals::exact((*info).clause.cast(), scanrelid)?;
            private.uses.extend(how.encode());
            private.values.push(value.cast());
        }

        let mut spec = Spec::default();
        for expr in list::nodes(pg_sys::get_sortgrouplist_exprs((*parse).groupClause, (*root).processed_tlist)) {
            match join.as_ref().and_then(|j| agg_join::var_of(expr, j.other)) {
                Some(var) if agg_join::groups_by_bytes(var) => {
                    private.outer.push(private.joined.len() as i32 - 1);
                    private.joined.push(var.cast());
                }
                Some(_) => return None,
                None => {
                    let key = key_of(expr, scanrelid, &mut spec)?;
                    spec.keys.push(key);
                    private.outer.push(-1);
                }
            }
            private.keys.push(expr);
        }
        if join.is_some() {
            // The events grouped by site as well, then regrouped by the joined rows.
            spec.keys.push(Key::column(COLUMNS.iter().position(|&c| c == "site_id")?)?);
        }
        if spec.keys.len() > MAX_KEYS {
            return None;
        }

        let target = (*(*output).reltarget).exprs;
        if pg_sys::contain_subplans(target.cast()) || pg_sys::contain_subplans(private.having) {
            return None;
        }
        if let Some(join) = &join {
            // Columns of the joined relation above the grouping must be group keys
            // (Postgres allows others that a grouped primary key determines).
            let flags = (pg_sys::PVC_RECURSE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS | pg_sys::PVC_RECURSE_PLACEHOLDERS) as i32;
            let used = list::nodes(pg_sys::pull_var_clause(target.cast(), flags))
                .chain(list::nodes(pg_sys::pull_var_clause(private.having, flags)));
            for node in used {
                let Some(var) = agg_join::var_of(node, join.other) else { continue };
                let grouped = private.joined[1..].iter().any(|&k| {
                    let k = k as *mut pg_sys::Var;
                    (*k).varattno == (*var).varattno
                });
                if !grouped {
                    return None;
                }
            }
        }
        let flags = (pg_sys::PVC_INCLUDE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS | pg_sys::PVC_RECURSE_PLACEHOLDERS) as i32;
        let found =
            list::nodes(pg_sys::pull_var_clause(target.cast(), flags)).chain(list::nodes(pg_sys::pull_var_clause(private.having, flags)));
        let mut filter_values = Vec::new();
        for node in found {
            if (*node).type_ != pg_sys::NodeTag::T_Aggref || private.aggrefs.iter().any(|&a| pg_sys::equal(a.cast(), node.cast())) {
                continue;
            }
            let aggref = node as *mut pg_sys::Aggref;
            let (func, case) = func_of(aggref, scanrelid)?;
            spec.funcs.push(func);
            // A CASE argument's condition is the function's filter; with a FILTER
            // clause as well, rows failing each would count differently.
            let condition = match (case, (*aggref).aggfilter.is_null()) {
                (None, _) => (*aggref).aggfilter.cast(),
                (Some(condition), true) => condition,
                (Some(_), false) => return None,
            };
            match filter_of(condition, scanrelid)? {
                None => private.filters.push(-1),
                Some(uses) => {
                    private.filters.push(uses.len() as i32);
                    for (how, value) in uses {
                        private.filters.extend(how.encode());
                        filter_values.push(value.cast());
                    }
                }
            }
            private.aggrefs.push(node);
        }
        private.values.extend(filter_values);
        private.spec = spec.encode();

        let rows = list::nodes((*output).pathlist).next().map_or(1.0, |p| (*(p as *mut pg_sys::Path)).rows);
        let path = pg_sys::palloc0(std::mem::size_of::<pg_sys::CustomPath>()) as *mut pg_sys::CustomPath;
        (*path).path.type_ = pg_sys::NodeTag::T_CustomPath;
        (*path).path.pathtype = pg_sys::NodeTag::T_CustomScan;
        (*path).path.parent = output;
        (*path).path.pathtarget = (*output).reltarget;
        (*path).path.rows = rows;
        let child = join.as_ref().map_or(0.0, |j| (*(*j.other).cheapest_total_path).total_cost);
        (*path).path.startup_cost = STARTUP_COST + (*events).tuples * ROW_COST + child;
        (*path).path.total_cost = (*path).path.startup_cost + rows * pg_sys::cpu_tuple_cost;
        (*path).methods = &PATH_METHODS.0;
        if let Some(join) = &join {
            (*path).custom_paths = list::node_list(&[(*join.other).cheapest_total_path.cast()]);
        }
        (*path).custom_private = list::node_list(&[
            list::int_list(&private.spec).cast(),
            list::int_list(&private.uses).cast(),
            list::int_list(&private.filters).cast(),
            list::node_list(&private.keys).cast(),
            list::node_list(&private.aggrefs).cast(),
            list::node_list(&private.values).cast(),
            private.having,
            list::int_list(&private.outer).cast(),
            list::node_list(&private.joined).cast(),
        ]);
        Some(path)
    }
}

/// The built-in `jsonb ->> text` operator (pg_operator.dat).
const JSONB_FIELD_TEXT: u32 = 3477;

/// The group key `expr` is: a string or integer column (strings under a deterministic
/// collation, so equal means the same bytes), `date_trunc(unit, ts)`, or `props ->>
/// 'name'` (its name added to `spec`).
unsafe fn key_of(expr: *mut pg_sys::Node, scanrelid: i32, spec: &mut Spec) -> Option<Key> {
    unsafe {
        let collation = pg_sys::exprCollation(expr);
        if collation != pg_sys::InvalidOid && !quals::deterministic(collation) {
            return None;
        }
        if let Some(column) = quals::column_of(expr, scanrelid) {
            return Key::column(column);
        }
        if (*expr).type_ == pg_sys::NodeTag::T_OpExpr && (*(expr as *mut pg_sys::OpExpr)).opno.to_u32() == JSONB_FIELD_TEXT {
            let args: Vec<*mut pg_sys::Node> = list::nodes((*(expr as *mut pg_sys::OpExpr)).args).collect();
            let [props, name] = args[..] else { return None };
            if quals::column_of(props, scanrelid).map(|c| COLUMNS[c]) != Some("props") || (*name).type_ != pg_sys::NodeTag::T_Const {
                return None;
            }
            let name = name as *mut pg_sys::Const;
            if (*name).consttype != pg_sys::TEXTOID || (*name).constisnull {
                return None;
            }
            return Some(spec.prop_key(&String::from_datum((*name).constvalue, false)?));
        }
        if (*expr).type_ != pg_sys::NodeTag::T_FuncExpr {
            return None;
        }
        let func = expr as *mut pg_sys::FuncExpr;
        let args: Vec<*mut pg_sys::Node> = list::nodes((*func).args).collect();
        let [unit, ts] = args[..] else { return None };
        if builtin_name((*func).funcid)? != "date_trunc"
            || (*func).funcresulttype != pg_sys::TIMESTAMPTZOID
            || quals::column_of(ts, scanrelid).map(|c| COLUMNS[c]) != Some("ts")
            || (*unit).type_ != pg_sys::NodeTag::T_Const
        {
            return None;
        }
        let unit = unit as *mut pg_sys::Const;
        if (*unit).consttype != pg_sys::TEXTOID || (*unit).constisnull {
            return None;
        }
        let name = String::from_datum((*unit).constvalue, false)?;
        Unit::parse(&name.to_lowercase()).map(Key::Trunc)
    }
}

/// The function `aggref` computes, if TallyAgg has it: a built-in `count`, `sum`,
/// `avg`, `min` or `max` of `*`, of one column, or of a simple `CASE` over one (then
/// with the `CASE`'s condition, which selects the rows the function reads).
unsafe fn func_of(aggref: *mut pg_sys::Aggref, scanrelid: i32) -> Option<(Func, Option<*mut pg_sys::Node>)> {
    unsafe {
        if (*aggref).agglevelsup != 0
            || (*aggref).aggkind != AGGKIND_NORMAL
            || (*aggref).aggsplit != pg_sys::AggSplit::AGGSPLIT_SIMPLE
            || !(*aggref).aggdirectargs.is_null()
        {
            return None;
        }
        let name = builtin_name((*aggref).aggfnoid)?;
        // The arguments, without the ORDER BY entries an ordered aggregate adds.
        let args: Vec<*mut pg_sys::TargetEntry> =
            list::nodes((*aggref).args).map(|n| n as *mut pg_sys::TargetEntry).filter(|&tle| !(*tle).resjunk).collect();
        let distinct = !(*aggref).aggdistinct.is_null();
        if distinct && (*aggref).inputcollid != pg_sys::InvalidOid && !quals::deterministic((*aggref).inputcollid) {
            return None;
        }
        let arg = match args[..] {
            [] if (*aggref).aggstar => return Some((Func::new(name, None, distinct)?, None)),
            [arg] => (*arg).expr.cast::<pg_sys::Node>(),
            _ => return None,
        };
        if let Some(column) = quals::column_of(arg, scanrelid) {
            return Some((Func::new(name, Some(column), distinct)?, None));
        }
        let (condition, result, otherwise) = case_of(arg)?;
        let func = match (quals::column_of(result, scanrelid), constant(result), distinct) {
            (Some(column), _, _) => Func::new(name, Some(column), distinct)?,
            // count(CASE WHEN c THEN 'x' END) counts the rows c passes.
            (None, Some(Constant::Int(_) | Constant::Other), false) if name == "count" => Func::CountRows,
            (None, Some(Constant::Int(k)), false) if name == "sum" => Func::SumConst(i32::try_from(k).ok()?),
            _ => return None,
        };
        let func = match otherwise {
            Otherwise::Null => func,
            Otherwise::Zero => func.or_zero()?,
        };
        Some((func, Some(condition)))
    }
}

/// What a `CASE` gives when its condition fails.
enum Otherwise {
    Null,
    Zero,
}

/// `CASE WHEN condition THEN result [ELSE NULL | ELSE 0] END`, in parts.
unsafe fn case_of(node: *mut pg_sys::Node) -> Option<(*mut pg_sys::Node, *mut pg_sys::Node, Otherwise)> {
    unsafe {
        if (*node).type_ != pg_sys::NodeTag::T_CaseExpr {
            return None;
        }
        let case = node as *mut pg_sys::CaseExpr;
        let whens: Vec<*mut pg_sys::Node> = list::nodes((*case).args).collect();
        let ([when], true) = (&whens[..], (*case).arg.is_null()) else { return None };
        let when = *when as *mut pg_sys::CaseWhen;
        let otherwise = match constant((*case).defresult.cast()) {
            _ if (*case).defresult.is_null() => Otherwise::Null,
            Some(Constant::Null) => Otherwise::Null,
            Some(Constant::Int(0)) => Otherwise::Zero,
            _ => return None,
        };
        Some(((*when).expr.cast(), (*when).result.cast(), otherwise))
    }
}

/// A constant's value, as far as a `CASE` branch needs it.
enum Constant {
    Null,
    /// An `int4` or `int8`.
    Int(i64),
    /// Any other non-NULL value.
    Other,
}

/// The value of `node` if it is a constant.
unsafe fn constant(node: *mut pg_sys::Node) -> Option<Constant> {
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        let int = |v: Option<i64>| v.map_or(Constant::Other, Constant::Int);
        Some(match ((*c).constisnull, (*c).consttype) {
            (true, _) => Constant::Null,
            (false, pg_sys::INT4OID) => int(i32::from_datum((*c).constvalue, false).map(i64::from)),
            (false, pg_sys::INT8OID) => int(i64::from_datum((*c).constvalue, false)),
            (false, _) => Constant::Other,
        })
    }
}

/// The uses of an aggregate's `FILTER` clause or `CASE` condition (`None` without
/// one), when each of its conjuncts is a per-row test the scan decides exactly.
unsafe fn filter_of(filter: *mut pg_sys::Node, scanrelid: i32) -> Option<Option<Vec<(Use, *mut pg_sys::Expr)>>> {
    unsafe {
        if filter.is_null() {
            return Some(None);
        }
        let clauses: Vec<*mut pg_sys::Node> = match (*filter).type_ {
            pg_sys::NodeTag::T_BoolExpr if (*(filter as *mut pg_sys::BoolExpr)).boolop == pg_sys::BoolExprType::AND_EXPR => {
                list::nodes((*(filter as *mut pg_sys::BoolExpr)).args).collect()
            }
            _ => vec![filter],
        };
        clauses
            .into_iter()
            .map(|clause| quals::exact(clause, scanrelid).filter(|(how, _)| how.per_row()))
            .collect::<Option<Vec<_>>>()
            .map(Some)
    }
}

/// The name of function `oid` when it is one of Postgres's own (schema pg_catalog).
unsafe fn builtin_name(oid: pg_sys::Oid) -> Option<&'static str> {
    unsafe {
        if pg_sys::get_func_namespace(oid) != pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE) {
            return None;
        }
        let name = pg_sys::get_func_name(oid);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_str().ok()).flatten()
    }
}

/// The plan node of the path: the scan tuple is the keys, then the aggregates.
#[pg_guard]
unsafe extern "C-unwind" fn plan_path(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::CustomPath,
    tlist: *mut pg_sys::List,
    _clauses: *mut pg_sys::List,
    custom_plans: *mut pg_sys::List,
) -> *mut pg_sys::Plan {
    unsafe {
        let private: Vec<*mut pg_sys::Node> = list::nodes((*best_path).custom_private).collect();
        let [spec, uses, filters, keys, aggrefs, values, having, outer, joined] = private[..] else {
            error!("TallyAgg: a path without its private list")
        };
        // Over a join: where the child plan returns the join column and each key.
        let child = list::nodes(custom_plans).next();
        let positions: Vec<i32> = match child {
            Some(child) => list::nodes(joined.cast()).map(|var| agg_join::position(child.cast(), var.cast())).collect(),
            None => Vec::new(),
        };
        let mut scan_tlist = std::ptr::null_mut();
        for (i, expr) in list::nodes(keys.cast()).chain(list::nodes(aggrefs.cast())).enumerate() {
            let entry = pg_sys::makeTargetEntry(expr.cast(), i as pg_sys::AttrNumber + 1, std::ptr::null_mut(), false);
            scan_tlist = pg_sys::lappend(scan_tlist, entry.cast());
        }
        let scan = pg_sys::palloc0(std::mem::size_of::<pg_sys::CustomScan>()) as *mut pg_sys::CustomScan;
        (*scan).scan.plan.type_ = pg_sys::NodeTag::T_CustomScan;
        (*scan).scan.plan.targetlist = tlist;
        (*scan).scan.plan.qual = having.cast();
        (*scan).scan.scanrelid = 0;
        (*scan).custom_scan_tlist = scan_tlist;
        (*scan).custom_exprs = values.cast();
        (*scan).custom_plans = custom_plans;
        (*scan).custom_private = list::node_list(&[spec, uses, filters, outer, list::int_list(&positions).cast()]);
        (*scan).methods = agg_exec::scan_methods();
        scan.cast()
    }
}
