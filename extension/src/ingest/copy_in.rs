//! `COPY tally.events_hot (COLUMNS) FROM STDIN (FORMAT binary)`, fed from memory inside
//! the backend instead of from the client.
//!
//! PostgreSQL's own COPY machinery (`BeginCopyFrom` with a data-source callback,
//! `CopyFrom`, `EndCopyFrom`) does the work, so partition routing, multi-insert
//! batching, indexes, constraints and triggers behave exactly as for the gateway's COPY
//! over the wire; where the table has none of the things only `CopyFrom` handles,
//! [`HotTarget`](super::multi_insert::HotTarget) inserts the rows `NextCopyFrom` reads
//! with the same routines at less cost per row. The checks `DoCopy` makes before it calls them (INSERT privilege on
//! the columns, no row-level security in force, not a read-only transaction) are made
//! here the same way, so calling this grants nothing a client's COPY would not.

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CString};
use std::ptr;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use tally_core::event::COLUMNS;

use super::multi_insert::HotTarget;
use super::HINT;

/// The bytes the running COPY reads, in order, and how far it has read. Only one COPY
/// runs at a time in a backend; the callback has no argument to carry this.
struct Source {
    chunks: Vec<(*const u8, usize)>,
    chunk: usize,
    offset: usize,
}

thread_local! {
    static SOURCE: RefCell<Option<Source>> = const { RefCell::new(None) };
}

/// Clears [`SOURCE`] when the COPY ends, also when it ends in an ERROR (unwinding).
struct Installed;

impl Installed {
    fn new(chunks: &[&[u8]]) -> Installed {
        let chunks = chunks.iter().map(|c| (c.as_ptr(), c.len())).collect();
        SOURCE.with(|s| {
            let mut s = s.borrow_mut();
            assert!(s.is_none(), "tally.ingest_batch cannot run inside itself");
            *s = Some(Source { chunks, chunk: 0, offset: 0 });
        });
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        SOURCE.with(|s| s.borrow_mut().take());
    }
}

/// COPY's data-source callback: copies up to `maxread` bytes of [`SOURCE`] into
/// `outbuf`; 0 means end of data.
unsafe extern "C-unwind" fn read_source(outbuf: *mut c_void, _minread: c_int, maxread: c_int) -> c_int {
    SOURCE.with(|s| {
        let mut s = s.borrow_mut();
        let Some(src) = s.as_mut() else { return 0 };
        let mut written = 0usize;
        let room = maxread.max(0) as usize;
        while written < room && src.chunk < src.chunks.len() {
            let (base, len) = src.chunks[src.chunk];
            let n = (len - src.offset).min(room - written);
            // SAFETY: the chunks borrow the function's argument, alive for the whole call
            // (Installed is dropped before it returns); outbuf has room for maxread bytes.
            unsafe { ptr::copy_nonoverlapping(base.add(src.offset), outbuf.cast::<u8>().add(written), n) };
            written += n;
            src.offset += n;
            if src.offset == len {
                src.chunk += 1;
                src.offset = 0;
            }
        }
        written as c_int
    })
}

/// COPYs the binary stream made of `chunks` (header, rows, trailer) of the first
/// `fields` event columns into `tally.events_hot`; returns the rows inserted.
pub fn copy_into_events_hot(chunks: &[&[u8]], fields: usize) -> u64 {
    let lock = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
    unsafe {
        let nsp = pg_sys::get_namespace_oid(c"tally".as_ptr(), false);
        let relid = pg_sys::get_relname_relid(c"events_hot".as_ptr(), nsp);
        if relid == pg_sys::InvalidOid {
            error!("tally.events_hot does not exist");
        }
        let rel = pg_sys::table_open(relid, lock);
        // What DoCopy does for `COPY tally.events_hot (COLUMNS) FROM ...`: a range-table
        // entry CopyFrom builds its executor state from, carrying the permissions to check.
        let pstate = pg_sys::make_parsestate(ptr::null_mut());
        let rte = (*pg_sys::addRangeTableEntryForRelation(pstate, rel, lock, ptr::null_mut(), false, false)).p_rte;
        (*rte).requiredPerms = pg_sys::ACL_INSERT as pg_sys::AclMode;
        let mut attnames: *mut pg_sys::List = ptr::null_mut();
        for column in &COLUMNS[..fields] {
            let name = CString::new(*column).expect("column names have no NUL");
            let attnum = pg_sys::attnameAttNum(rel, name.as_ptr(), false);
            if attnum <= 0 {
                error!("tally.events_hot has no column {column}");
            }
            (*rte).insertedCols = pg_sys::bms_add_member((*rte).insertedCols, attnum - pg_sys::FirstLowInvalidHeapAttributeNumber);
            attnames = pg_sys::lappend(attnames, pg_sys::makeString(pg_sys::pstrdup(name.as_ptr())).cast());
        }
        pg_sys::ExecCheckRTPerms((*pstate).p_rtable, true);
        if pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, false) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as c_int {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "tally.ingest_batch writes with COPY, which row-level security does not allow",
                "tally.ingest_batch",
            )
            .set_hint("Call it as the gateway's login role, which has BYPASSRLS (see the README, \"Users, roles and access\").")
            .report(PgLogLevel::ERROR);
        }
        if pg_sys::XactReadOnly {
            pg_sys::PreventCommandIfReadOnly(c"tally.ingest_batch".as_ptr());
        }
        let format =
            pg_sys::makeDefElem(pg_sys::pstrdup(c"format".as_ptr()), pg_sys::makeString(pg_sys::pstrdup(c"binary".as_ptr())).cast(), -1);
        let options = pg_sys::lappend(ptr::null_mut(), format.cast());
        let _source = Installed::new(chunks);
        let copied = PgTryBuilder::new(|| {
            let target = HotTarget::open(rel, (*pstate).p_rtable);
            let cstate = pg_sys::BeginCopyFrom(pstate, rel, ptr::null_mut(), ptr::null(), false, Some(read_source), attnames, options);
            let copied = match target {
                Some(target) => target.copy_from(cstate),
                None => pg_sys::CopyFrom(cstate),
            };
            pg_sys::EndCopyFrom(cstate);
            copied
        })
        .catch_others(|e| match e {
            // A value COPY could not take (bad binary data, NULL in a NOT NULL column):
            // the same error, with a hint on where such a stream comes from.
            pg_sys::panic::CaughtError::PostgresError(report) | pg_sys::panic::CaughtError::ErrorReport(report) => {
                let again = ErrorReport::new(report.sql_error_code(), report.message().to_string(), "tally.ingest_batch");
                let again = match report.detail() {
                    Some(detail) => again.set_detail(detail.to_string()),
                    None => again,
                };
                again.set_hint(HINT).report(PgLogLevel::ERROR);
                unreachable!("an ERROR report does not return")
            }
            other => other.rethrow(),
        })
        .execute();
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        copied
    }
}
