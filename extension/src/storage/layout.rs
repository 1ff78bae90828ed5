//! The event columns a table has. One library serves every release's SQL
//! (docs/upgrades.md): until `ALTER EXTENSION tally UPDATE` runs, the tables of an
//! older release lack the columns added since, the last ones of [`COLUMNS`]. Those
//! read as NULL and are not written.

use std::ffi::CString;

use pgrx::pg_sys;
use tally_core::event::{self, SqlType, COLUMNS};

/// The SQL type of each event column, as `tally.event` declares it.
pub fn sql_type(column: usize) -> pg_sys::Oid {
    match event::sql_type(column) {
        SqlType::Int4 => pg_sys::INT4OID,
        SqlType::Int8 => pg_sys::INT8OID,
        SqlType::Timestamptz => pg_sys::TIMESTAMPTZOID,
        SqlType::Text => pg_sys::TEXTOID,
        SqlType::Jsonb => pg_sys::JSONBOID,
        SqlType::Bool => pg_sys::BOOLOID,
    }
}

/// How many of [`COLUMNS`], from the first, the relation `relid` has.
pub fn present(relid: pg_sys::Oid) -> usize {
    COLUMNS
        .iter()
        .take_while(|&&column| {
            let name = CString::new(column).expect("column names have no NUL");
            // SAFETY: a catalog lookup by OID and name; an unknown relation has no attributes.
            unsafe { pg_sys::get_attnum(relid, name.as_ptr()) != pg_sys::InvalidAttrNumber as pg_sys::AttrNumber }
        })
        .count()
}

/// `tally.events_hot`.
pub fn events_hot() -> pg_sys::Oid {
    relation(c"events_hot")
}

/// Whether `tally.segments` has its `string_ranges` column, which an older release's
/// SQL lacks until `ALTER EXTENSION tally UPDATE`: segments are then written without
/// ranges, and scans read each segment the ranges would have let them skip. A lookup
/// in the catalog caches, so it costs no query.
pub fn segments_have_string_ranges() -> bool {
    // SAFETY: a catalog lookup by OID and name.
    unsafe { pg_sys::get_attnum(relation(c"segments"), c"string_ranges".as_ptr()) != pg_sys::InvalidAttrNumber as pg_sys::AttrNumber }
}

/// The relation `tally.<name>`.
fn relation(name: &std::ffi::CStr) -> pg_sys::Oid {
    // SAFETY: catalog lookups by name.
    unsafe {
        let nsp = pg_sys::get_namespace_oid(c"tally".as_ptr(), false);
        let relid = pg_sys::get_relname_relid(name.as_ptr(), nsp);
        if relid == pg_sys::InvalidOid {
            pgrx::error!("tally.{} does not exist", name.to_string_lossy());
        }
        relid
    }
}

/// Every event column of `tally.events_hot` as a SELECT list, in [`COLUMNS`] order,
/// with a typed NULL for those the table lacks.
pub fn hot_select_list() -> String {
    let present = present(events_hot());
    let items: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, &column)| {
            if i < present {
                return column.to_owned();
            }
            format!("NULL::{} AS {column}", event::sql_type(i).sql_name())
        })
        .collect();
    items.join(", ")
}
