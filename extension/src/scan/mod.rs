//! `SELECT … FROM tally.events` on the segments themselves: a planner hook gives the
//! relation behind the view, `tally.events_scan` (always empty), a custom scan node,
//! TallyScan, as its only path. The node reads the catalog rows of the segments the
//! query's `site_id` and `ts` predicates leave (as the querying role, so row-level
//! security applies as to any query), decodes only the columns the query references,
//! runs the filters it can on dictionary codes, adds the hot rows, and hands Postgres
//! ordinary tuples: the quals it decides exactly (site and time bounds, dictionary
//! filters) are not evaluated again per row, the executor checks every other qual, and
//! joins, sorts and aggregates run on top unchanged. The decisions (bounds, code
//! filters, decoding) are `tally_core::scan`; this module binds them to the planner
//! and executor.
//!
//! A second hook offers TallyAgg for `GROUP BY` and aggregates over the relation
//! alone: the scan computes the groups on the decoded column vectors
//! (`tally_core::scan::agg`) and hands Postgres one tuple per group instead of one per
//! event. TimescaleDB's VectorAgg node over DecompressChunk is the model.

mod agg_exec;
mod agg_join;
mod agg_path;
mod ahead;
mod exec;
mod list;
mod ordered;
mod path;
mod quals;
mod source;
mod tuple;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Installs the planner hook and registers the plan node (for plans read back from
/// their text form, e.g. by parallel workers). Called from `_PG_init`.
pub fn init() {
    path::install();
    exec::register();
    agg_path::install();
    agg_exec::register();
}

/// The OID of `tally.events_scan`, the relation TallyScan replaces; `None` while the
/// extension is not created in this database.
fn relation() -> Option<pg_sys::Oid> {
    // SAFETY: catalog lookups by name, valid in any transaction.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"tally".as_ptr(), true);
        if schema == pg_sys::InvalidOid {
            return None;
        }
        let relid = pg_sys::get_relname_relid(c"events_scan".as_ptr(), schema);
        (relid != pg_sys::InvalidOid).then_some(relid)
    }
}

/// Loads the library when the view `tally.events` is planned: the view's `WHERE
/// tally.scan_ready()` is folded at planning time (the function is immutable), which
/// loads this library, whose `_PG_init` installs the planner hook before the scan is
/// planned. With `tally` in shared_preload_libraries (as the README sets it up) the
/// hook is there already; this keeps a session that loads it late from reading the
/// empty relation.
#[pg_extern(immutable, parallel_safe)]
fn scan_ready() -> bool {
    true
}

/// A table of callbacks Postgres keeps a pointer to. Its raw name pointers are to
/// static C strings, never written, so sharing it between threads is sound.
struct Methods<T>(T);

// SAFETY: see above; Postgres only reads the tables.
unsafe impl<T> Sync for Methods<T> {}
