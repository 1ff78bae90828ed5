//! TallyAgg over a join: `tally.events` inner-joined with one other relation on
//! `site_id` (`JOIN tally.sites USING (site_id)`), grouped by that relation's columns
//! and the events' own keys. Postgres would hand every joined event through a hash
//! join to its Agg node; instead the events are aggregated inside the scan by site
//! (and their own keys), the other relation's rows are read once, and each site's
//! groups are combined under the keys of the rows that join it
//! (`tally_core::scan::agg::Aggregation::regroup`): what an eager aggregation below
//! the join computes, with the join's multiplicity (a site joined by two rows counts
//! twice).
//!
//! The other relation is planned as Postgres would plan it alone (its quals, RLS and
//! all) and runs as this node's child plan.

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::HashMap;
use tally_core::event::COLUMNS;

use super::{list, quals};

/// The parts of a join TallyAgg can aggregate.
pub(super) struct Join {
    /// `tally.events`'s relation.
    pub events: *mut pg_sys::RelOptInfo,
    /// The other relation, read by the child plan.
    pub other: *mut pg_sys::RelOptInfo,
    /// Its column equal to `site_id`.
    pub column: *mut pg_sys::Var,
}

/// The join `input` is, when it is `tally.events` inner-joined with one other base
/// relation on `site_id = <int4 column>` and nothing else.
///
/// # Safety
/// Called while planning the grouping of `input`.
pub(super) unsafe fn of(root: *mut pg_sys::PlannerInfo, input: *mut pg_sys::RelOptInfo) -> Option<Join> {
    unsafe {
        // Outer, semi and anti joins have a SpecialJoinInfo; inner joins have none.
        if !(*root).join_info_list.is_null() || pg_sys::bms_num_members((*input).relids) != 2 {
            return None;
        }
        let first = pg_sys::bms_next_member((*input).relids, -1);
        let second = pg_sys::bms_next_member((*input).relids, first);
        let relation = super::relation()?;
        let is_events = |relid: i32| {
            let rte = *(*root).simple_rte_array.add(relid as usize);
            (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION && (*rte).relid == relation
        };
        let (events, other) = match (is_events(first), is_events(second)) {
            (true, false) => (first, second),
            (false, true) => (second, first),
            _ => return None,
        };
        let (events, other) = (pg_sys::find_base_rel(root, events), pg_sys::find_base_rel(root, other));
        if (*other).reloptkind != pg_sys::RelOptKind::RELOPT_BASEREL
            || !(*other).lateral_relids.is_null()
            || !(*events).lateral_relids.is_null()
            || (*other).cheapest_total_path.is_null()
            || pg_sys::is_dummy_rel(other)
        {
            return None;
        }
        // Every clause joining the two: the equalities their equivalence classes imply
        // and any other clause that names both.
        let implied = pg_sys::generate_join_implied_equalities(root, (*input).relids, (*events).relids, other);
        let clauses: Vec<*mut pg_sys::Node> = list::nodes(implied).chain(list::nodes((*events).joininfo)).collect();
        let [clause] = clauses[..] else { return None };
        let clause = (*(clause as *mut pg_sys::RestrictInfo)).clause as *mut pg_sys::Node;
        if (*clause).type_ != pg_sys::NodeTag::T_OpExpr || (*(clause as *mut pg_sys::OpExpr)).opno.to_u32() != pg_sys::Int4EqualOperator {
            return None;
        }
        let args: Vec<*mut pg_sys::Node> = list::nodes((*(clause as *mut pg_sys::OpExpr)).args).collect();
        let [left, right] = args[..] else { return None };
        let site = |node| quals::column_of(node, (*events).relid as i32).map(|c| COLUMNS[c]) == Some("site_id");
        let column = match (site(left), site(right)) {
            (true, false) => right,
            (false, true) => left,
            _ => return None,
        };
        let column = var_of(column, other)?;
        ((*column).vartype == pg_sys::INT4OID).then_some(Join { events, other, column })
    }
}

/// `node` as a column of `rel`.
///
/// # Safety
/// `node` is an expression of the query being planned.
pub(super) unsafe fn var_of(node: *mut pg_sys::Node, rel: *mut pg_sys::RelOptInfo) -> Option<*mut pg_sys::Var> {
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
            return None;
        }
        let var = node as *mut pg_sys::Var;
        ((*var).varno == (*rel).relid as i32 && (*var).varlevelsup == 0 && (*var).varattno > 0).then_some(var)
    }
}

/// Whether a group key of the other relation's column `var` groups as Postgres would
/// when its values are compared byte for byte: integers, dates, times, booleans,
/// UUIDs, and text under a deterministic collation.
///
/// # Safety
/// `var` is a column of the query being planned.
pub(super) unsafe fn groups_by_bytes(var: *mut pg_sys::Var) -> bool {
    unsafe {
        match (*var).vartype {
            pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID | pg_sys::BOOLOID | pg_sys::DATEOID | pg_sys::TIMESTAMPOID => true,
            pg_sys::TIMESTAMPTZOID | pg_sys::UUIDOID => true,
            pg_sys::TEXTOID | pg_sys::VARCHAROID => quals::deterministic((*var).varcollid),
            _ => false,
        }
    }
}

/// The position (from 1) of column `var` in the child plan's output.
///
/// # Safety
/// `plan` is the plan of the relation `var` belongs to.
pub(super) unsafe fn position(plan: *mut pg_sys::Plan, var: *mut pg_sys::Var) -> i32 {
    unsafe {
        list::nodes((*plan).targetlist)
            .map(|tle| tle as *mut pg_sys::TargetEntry)
            .find(|&tle| {
                let expr = (*tle).expr as *mut pg_sys::Var;
                (*expr).xpr.type_ == pg_sys::NodeTag::T_Var && (*expr).varno == (*var).varno && (*expr).varattno == (*var).varattno
            })
            .map(|tle| i32::from((*tle).resno))
            .unwrap_or_else(|| error!("TallyAgg: the joined relation's plan does not return a column the query groups or joins by"))
    }
}

/// The other relation's rows as read by the executor: per site, the group each row
/// joining it gives (one entry per row), and each group's key values.
#[derive(Default)]
pub(super) struct Joined {
    /// Per site: a group per joining row.
    pub sites: HashMap<i32, Vec<i64>>,
    /// Per group: its key datums (`None` for NULL), copied into the scan's memory.
    pub keys: Vec<Vec<Option<pg_sys::Datum>>>,
    /// Groups by their keys' bytes.
    numbers: HashMap<Vec<Option<Vec<u8>>>, i64>,
}

impl Joined {
    /// Reads every row of `child`, whose column `site` (from 1) joins `site_id` and
    /// whose columns `keys` are group keys, copying the keys into `cxt`.
    ///
    /// # Safety
    /// `child` is the initialised child plan; `cxt` lives until the groups are returned.
    pub unsafe fn read(child: *mut pg_sys::PlanState, site: i32, keys: &[i32], cxt: pg_sys::MemoryContext) -> Joined {
        unsafe {
            let mut joined = Joined::default();
            let last = keys.iter().copied().chain([site]).max().expect("the join column");
            loop {
                pgrx::check_for_interrupts!();
                let slot = pg_sys::ExecProcNode(child);
                if slot.is_null() || (*slot).tts_flags & pg_sys::TTS_FLAG_EMPTY as u16 != 0 {
                    return joined;
                }
                pg_sys::slot_getsomeattrs(slot, last);
                let value = |at: i32| {
                    let i = at as usize - 1;
                    (!*(*slot).tts_isnull.add(i)).then(|| *(*slot).tts_values.add(i))
                };
                // A NULL joins nothing.
                let Some(site) = value(site) else { continue };
                let desc = (*slot).tts_tupleDescriptor;
                let attrs = (*desc).attrs.as_slice((*desc).natts as usize);
                let row: Vec<Option<(pg_sys::Datum, Vec<u8>)>> =
                    keys.iter().map(|&at| value(at).map(|d| bytes_of(d, &attrs[at as usize - 1]))).collect();
                let identity: Vec<Option<Vec<u8>>> = row.iter().map(|v| v.as_ref().map(|(_, bytes)| bytes.clone())).collect();
                let next = joined.keys.len() as i64;
                let group = *joined.numbers.entry(identity).or_insert(next);
                if group == next {
                    let copied = row.iter().zip(keys).map(|(v, &at)| v.as_ref().map(|(d, _)| copy(*d, &attrs[at as usize - 1], cxt)));
                    joined.keys.push(copied.collect());
                }
                joined.sites.entry(site.value() as i32).or_default().push(group);
            }
        }
    }
}

/// The bytes that identify `datum`, a value of `attr`'s type: its own bytes when
/// passed by value, its content without the varlena header otherwise.
unsafe fn bytes_of(datum: pg_sys::Datum, attr: &pg_sys::FormData_pg_attribute) -> (pg_sys::Datum, Vec<u8>) {
    unsafe {
        if attr.attbyval {
            return (datum, datum.value().to_le_bytes().to_vec());
        }
        let pointer = datum.cast_mut_ptr::<u8>();
        let bytes = match attr.attlen {
            -1 => {
                let value = pg_sys::pg_detoast_datum_packed(pointer.cast());
                std::slice::from_raw_parts(pgrx::varlena::vardata_any(value) as *const u8, pgrx::varlena::varsize_any_exhdr(value)).to_vec()
            }
            len if len > 0 => std::slice::from_raw_parts(pointer, len as usize).to_vec(),
            _ => error!("TallyAgg: a group key of a type without a fixed or varlena length"),
        };
        (datum, bytes)
    }
}

/// `datum` copied into `cxt` (detoasted), unless passed by value.
unsafe fn copy(datum: pg_sys::Datum, attr: &pg_sys::FormData_pg_attribute, cxt: pg_sys::MemoryContext) -> pg_sys::Datum {
    unsafe {
        if attr.attbyval {
            return datum;
        }
        let (pointer, len) = match attr.attlen {
            -1 => {
                let value = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                (value as *const u8, pgrx::varlena::varsize_any(value))
            }
            len => (datum.cast_mut_ptr::<u8>() as *const u8, len as usize),
        };
        let copied = pg_sys::MemoryContextAlloc(cxt, len) as *mut u8;
        std::ptr::copy_nonoverlapping(pointer, copied, len);
        pg_sys::Datum::from(copied)
    }
}
