//! Reads a scan's quals for what can prune segments (`site_id`, `ts` against values
//! known when the scan starts) and what can run on dictionary codes (`=`, `IN`,
//! `LIKE 'x%'`, `IS [NOT] NULL` on string columns). The quals the scan decides
//! exactly ([`exact`]) are not checked again by Postgres; every other qual stays with
//! Postgres, which checks it on each row the scan returns, and what is read of it here
//! only lets the scan skip rows no answer contains.

use pgrx::pg_sys;
use pgrx::prelude::*;
use tally_core::event::COLUMNS;
use tally_core::scan::{Bounds, CodeFilter, CodeTest};

use super::list;
use crate::storage::arrays::PG_EPOCH_OFFSET_US;

/// Built-in operators the scan understands (pg_operator.dat); matching the OID, not
/// the name, keeps a user's own `=` out.
const INT4_EQ: u32 = 96;
const TEXT_EQ: u32 = 98;
const TEXT_LIKE: u32 = 1209;
const TSTZ_EQ: u32 = 1320;
const TSTZ_LT: u32 = 1322;
const TSTZ_LE: u32 = 1323;
const TSTZ_GT: u32 = 1324;
const TSTZ_GE: u32 = 1325;

/// How a usable qual constrains the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// `site_id = v` or `site_id = ANY(v)`.
    Site { array: bool },
    /// `ts <op> v` with the Var on the left (a commuted qual is turned around).
    Ts(Cmp),
    /// A string column `= v`, `= ANY(v)` or `LIKE v`.
    Code { column: usize, form: CodeForm },
    /// A string column `IS NULL` / `IS NOT NULL`.
    Null { column: usize, null: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

const CMPS: [Cmp; 5] = [Cmp::Eq, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeForm {
    Eq,
    Any,
    Like,
}

const FORMS: [CodeForm; 3] = [CodeForm::Eq, CodeForm::Any, CodeForm::Like];

impl Use {
    /// Three integers a plan node keeps (see [`Use::decode`]).
    pub(super) fn encode(self) -> [i32; 3] {
        let index = |found: Option<usize>| found.expect("a listed variant") as i32;
        match self {
            Use::Site { array } => [0, i32::from(array), 0],
            Use::Ts(cmp) => [1, index(CMPS.iter().position(|c| *c == cmp)), 0],
            Use::Code { column, form } => [2, column as i32, index(FORMS.iter().position(|f| *f == form))],
            Use::Null { column, null } => [3, column as i32, i32::from(null)],
        }
    }

    /// The use [`Use::encode`] wrote.
    pub(super) fn decode(ints: &[i32]) -> Option<Use> {
        let &[tag, a, b] = ints else { return None };
        let column = usize::try_from(a).ok().filter(|&c| c < COLUMNS.len());
        Some(match tag {
            0 => Use::Site { array: a != 0 },
            1 => Use::Ts(*CMPS.get(usize::try_from(a).ok()?)?),
            2 => Use::Code { column: column?, form: *FORMS.get(usize::try_from(b).ok()?)? },
            3 => Use::Null { column: column?, null: b != 0 },
            _ => return None,
        })
    }

    /// Whether the use tests each row by itself (a `FILTER` clause can take it); site
    /// and time uses act on whole segments.
    pub(super) fn per_row(self) -> bool {
        matches!(self, Use::Code { .. } | Use::Null { .. })
    }
}

/// The use of `clause` and its value expression (null for `IS NULL`) when the scan's
/// bounds and code filters decide it exactly, so nothing is left for Postgres to
/// check: every usable qual but a `LIKE` whose pattern is not a constant prefix.
///
/// # Safety
/// `clause` is a planner expression over relation `scanrelid`.
pub(super) unsafe fn exact(clause: *mut pg_sys::Node, scanrelid: i32) -> Option<(Use, *mut pg_sys::Expr)> {
    unsafe {
        let (how, value) = classify(clause, scanrelid)?;
        if let Use::Code { form: CodeForm::Like, .. } = how {
            let value = value as *mut pg_sys::Node;
            if (*value).type_ != pg_sys::NodeTag::T_Const {
                return None;
            }
            let constant = value as *mut pg_sys::Const;
            if !(*constant).constisnull {
                let pattern = String::from_datum((*constant).constvalue, false)?;
                CodeTest::like(&pattern)?;
            }
        }
        Some((how, value))
    }
}

/// The uses in `ints` (three integers each), as a plan node keeps them.
pub(super) fn uses_of(ints: &[i32]) -> Vec<Use> {
    ints.chunks(3).map(|u| Use::decode(u).unwrap_or_else(|| error!("tally.events: a plan with an unknown qual {u:?}"))).collect()
}

/// A qual the scan uses and the executor state of its comparison value.
struct Usable {
    how: Use,
    value: *mut pg_sys::ExprState,
}

/// The usable quals of one scan.
pub(super) struct Quals {
    usable: Vec<Usable>,
}

impl Quals {
    /// Picks the usable quals of `qual` (the plan's, Vars of relation `scanrelid`) and
    /// prepares their values for evaluation in `parent`.
    ///
    /// # Safety
    /// `qual` is a plan qual list of the scan node `parent` being initialised.
    pub(super) unsafe fn analyze(qual: *mut pg_sys::List, scanrelid: i32, parent: *mut pg_sys::PlanState) -> Self {
        unsafe {
            let (uses, values): (Vec<Use>, Vec<*mut pg_sys::Expr>) = list::nodes(qual).filter_map(|c| classify(c, scanrelid)).unzip();
            Self::prepare(&uses, &values, parent)
        }
    }

    /// These quals and `more`.
    pub(super) fn with(mut self, more: Quals) -> Self {
        self.usable.extend(more.usable);
        self
    }

    /// The quals `uses`, their values (null for `IS NULL`) prepared for evaluation in
    /// `parent`.
    ///
    /// # Safety
    /// `values` are expressions of the plan of the node `parent` being initialised.
    pub(super) unsafe fn prepare(uses: &[Use], values: &[*mut pg_sys::Expr], parent: *mut pg_sys::PlanState) -> Self {
        unsafe {
            let usable = uses
                .iter()
                .zip(values)
                .map(|(&how, &value)| Usable {
                    how,
                    value: if value.is_null() { std::ptr::null_mut() } else { pg_sys::ExecInitExpr(value, parent) },
                })
                .collect();
            Self { usable }
        }
    }

    /// The segment bounds and code filters, with every value evaluated now (constants,
    /// `now() - interval`, parameters).
    ///
    /// # Safety
    /// `econtext` is the scan node's expression context.
    pub(super) unsafe fn evaluate(&self, econtext: *mut pg_sys::ExprContext) -> (Bounds, Vec<CodeFilter>) {
        unsafe {
            let mut bounds = Bounds::default();
            let mut filters = Vec::new();
            for u in &self.usable {
                let mut null = false;
                let datum = if u.value.is_null() {
                    pg_sys::Datum::from(0usize)
                } else {
                    pg_sys::ExecEvalExprSwitchContext(u.value, econtext, &mut null)
                };
                match u.how {
                    Use::Null { column, null: is_null } => {
                        let test = if is_null { CodeTest::IsNull } else { CodeTest::IsNotNull };
                        filters.extend(CodeFilter::new(column, test));
                    }
                    // A comparison with NULL is never true.
                    _ if null => bounds.nothing(),
                    Use::Site { array: false } => bounds.restrict_sites(i32::from_datum(datum, false)),
                    Use::Site { array: true } => {
                        let sites: Vec<Option<i32>> = Vec::from_datum(datum, false).unwrap_or_default();
                        bounds.restrict_sites(sites.into_iter().flatten());
                    }
                    Use::Ts(cmp) => {
                        // A timestamptz is µs since 2000 as an i64; only 'infinity' has no
                        // Unix-epoch value: no upper bound, and no row above it.
                        let Some(ts) = (datum.value() as i64).checked_add(PG_EPOCH_OFFSET_US) else {
                            if matches!(cmp, Cmp::Eq | Cmp::Gt | Cmp::Ge) {
                                bounds.nothing();
                            }
                            continue;
                        };
                        match cmp {
                            Cmp::Eq => {
                                bounds.ts_at_least(ts);
                                bounds.ts_at_most(ts);
                            }
                            Cmp::Lt => bounds.ts_before(ts),
                            Cmp::Le => bounds.ts_at_most(ts),
                            Cmp::Gt => bounds.ts_after(ts),
                            Cmp::Ge => bounds.ts_at_least(ts),
                        }
                    }
                    Use::Code { column, form } => {
                        let test = match form {
                            CodeForm::Eq => String::from_datum(datum, false).map(|v| CodeTest::In(vec![v])),
                            CodeForm::Any => {
                                let values: Option<Vec<Option<String>>> = Vec::from_datum(datum, false);
                                values.map(|v| CodeTest::In(v.into_iter().flatten().collect()))
                            }
                            CodeForm::Like => String::from_datum(datum, false).and_then(|p| CodeTest::like(&p)),
                        };
                        filters.extend(test.and_then(|t| CodeFilter::new(column, t)));
                    }
                }
            }
            (bounds, filters)
        }
    }

    /// The columns the scan decodes to apply these quals: `ts` to cut the segments
    /// a time bound crosses, and each code filter's column (site bounds pick whole
    /// segments from the catalog).
    pub(super) fn columns(&self) -> Vec<usize> {
        let ts = tally_core::scan::ts_column();
        self.usable
            .iter()
            .filter_map(|u| match u.how {
                Use::Site { .. } => None,
                Use::Ts(_) => Some(ts),
                Use::Code { column, .. } | Use::Null { column, .. } => Some(column),
            })
            .collect()
    }

    /// The quals in use, for EXPLAIN: `site_id`, `ts`, `pathname LIKE`.
    pub(super) fn describe(&self) -> Vec<String> {
        self.usable
            .iter()
            .map(|u| match u.how {
                Use::Site { .. } => "site_id".to_owned(),
                Use::Ts(_) => "ts".to_owned(),
                Use::Code { column, form: CodeForm::Like } => format!("{} LIKE", COLUMNS[column]),
                Use::Code { column, .. } => format!("{} =", COLUMNS[column]),
                Use::Null { column, null } => format!("{} IS {}NULL", COLUMNS[column], if null { "" } else { "NOT " }),
            })
            .collect()
    }
}

/// The use of `clause` and its value expression (null for `IS NULL`), if usable.
unsafe fn classify(clause: *mut pg_sys::Node, scanrelid: i32) -> Option<(Use, *mut pg_sys::Expr)> {
    unsafe {
        match (*clause).type_ {
            pg_sys::NodeTag::T_OpExpr => {
                let op = clause as *mut pg_sys::OpExpr;
                let args: Vec<*mut pg_sys::Node> = list::nodes((*op).args).collect();
                let [left, right] = args[..] else { return None };
                let (column, value, commuted) = match (column_of(left, scanrelid), column_of(right, scanrelid)) {
                    (Some(c), None) if is_value(right) => (c, right, false),
                    (None, Some(c)) if is_value(left) => (c, left, true),
                    _ => return None,
                };
                let how = match (COLUMNS[column], (*op).opno.to_u32()) {
                    ("site_id", INT4_EQ) => Use::Site { array: false },
                    ("ts", opno) => Use::Ts(ts_cmp(opno, commuted)?),
                    (_, TEXT_EQ) if deterministic((*op).inputcollid) => Use::Code { column, form: CodeForm::Eq },
                    (_, TEXT_LIKE) if !commuted && deterministic((*op).inputcollid) => Use::Code { column, form: CodeForm::Like },
                    _ => return None,
                };
                Some((how, value as *mut pg_sys::Expr))
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr => {
                let op = clause as *mut pg_sys::ScalarArrayOpExpr;
                let args: Vec<*mut pg_sys::Node> = list::nodes((*op).args).collect();
                let [left, right] = args[..] else { return None };
                let column = column_of(left, scanrelid)?;
                if !(*op).useOr || !is_value(right) {
                    return None;
                }
                let how = match (COLUMNS[column], (*op).opno.to_u32()) {
                    ("site_id", INT4_EQ) => Use::Site { array: true },
                    (_, TEXT_EQ) if deterministic((*op).inputcollid) => Use::Code { column, form: CodeForm::Any },
                    _ => return None,
                };
                Some((how, right as *mut pg_sys::Expr))
            }
            pg_sys::NodeTag::T_NullTest => {
                let test = clause as *mut pg_sys::NullTest;
                let column = column_of((*test).arg as *mut pg_sys::Node, scanrelid)?;
                if (*test).argisrow || CodeFilter::new(column, CodeTest::IsNull).is_none() {
                    return None;
                }
                Some((Use::Null { column, null: (*test).nulltesttype == pg_sys::NullTestType::IS_NULL }, std::ptr::null_mut()))
            }
            _ => None,
        }
    }
}

/// The comparison `ts <op> value` means, turned around when the value is on the left.
fn ts_cmp(opno: u32, commuted: bool) -> Option<Cmp> {
    let cmp = match opno {
        TSTZ_EQ => Cmp::Eq,
        TSTZ_LT => Cmp::Lt,
        TSTZ_LE => Cmp::Le,
        TSTZ_GT => Cmp::Gt,
        TSTZ_GE => Cmp::Ge,
        _ => return None,
    };
    Some(match (cmp, commuted) {
        (Cmp::Lt, true) => Cmp::Gt,
        (Cmp::Le, true) => Cmp::Ge,
        (Cmp::Gt, true) => Cmp::Lt,
        (Cmp::Ge, true) => Cmp::Le,
        (cmp, _) => cmp,
    })
}

/// The index in COLUMNS of `node` when it is a column of the scanned relation.
pub(super) unsafe fn column_of(node: *mut pg_sys::Node, scanrelid: i32) -> Option<usize> {
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
            return None;
        }
        let var = node as *mut pg_sys::Var;
        let attno = (*var).varattno as usize;
        ((*var).varno == scanrelid && (*var).varlevelsup == 0 && (1..=COLUMNS.len()).contains(&attno)).then(|| attno - 1)
    }
}

/// Whether `node` has one value for the whole scan: no column of any relation and
/// nothing volatile (constants, parameters, `now() - interval`).
unsafe fn is_value(node: *mut pg_sys::Node) -> bool {
    unsafe { !pg_sys::contain_var_clause(node) && !pg_sys::contain_volatile_functions(node) }
}

/// Whether text compares bytewise under collation `collation`, as code filters do.
pub(super) unsafe fn deterministic(collation: pg_sys::Oid) -> bool {
    unsafe { collation != pg_sys::InvalidOid && pg_sys::get_collation_isdeterministic(collation) }
}
