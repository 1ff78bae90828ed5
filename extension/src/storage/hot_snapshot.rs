//! Reading events under a snapshot that saw every compaction it needs to.
//!
//! A compaction moves a hot partition's rows into segments and TRUNCATEs the partition
//! in one transaction. TRUNCATE is not MVCC-safe: a reader whose snapshot predates the
//! compaction's commit but who reads the partition after it finds it empty, and does
//! not see the segments either, so it misses those events. Readers therefore lock the
//! hot partitions first (once locked, a compaction waits for them before truncating)
//! and then check that no partition was truncated by a transaction their snapshot does
//! not see: the partition's `pg_class` row is rewritten by TRUNCATE, so its `xmin`
//! names the last truncating transaction.
//!
//! When the snapshot is older: a READ COMMITTED statement reads under a fresh
//! snapshot instead (its own statement's snapshot is only a lower bound there);
//! a REPEATABLE READ or SERIALIZABLE transaction cannot, and fails with a
//! serialization error (SQLSTATE 40001) to be retried, as Postgres does for other
//! changes such a snapshot cannot see.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use super::hot::HOT_PARTITIONS;

/// `tally.events_hot` and each of its partitions.
fn hot_relations() -> Vec<pg_sys::Oid> {
    // SAFETY: catalog lookups by name, valid in any transaction.
    unsafe {
        let namespace = pg_sys::get_namespace_oid(c"tally".as_ptr(), false);
        std::iter::once("events_hot".to_owned())
            .chain((0..HOT_PARTITIONS).map(|gen| format!("events_hot_{gen}")))
            .map(|name| {
                let name = std::ffi::CString::new(name).expect("no NUL");
                let relation = pg_sys::get_relname_relid(name.as_ptr(), namespace);
                if relation == pg_sys::InvalidOid {
                    error!("tally.{} does not exist", name.to_string_lossy());
                }
                relation
            })
            .collect()
    }
}

/// Takes the lock every read of hot rows takes (ACCESS SHARE) on `tally.events_hot`
/// and its partitions, held until the transaction ends; returns them.
pub fn lock_hot_relations() -> Vec<pg_sys::Oid> {
    let relations = hot_relations();
    for &relation in &relations {
        // SAFETY: a lock on an existing relation, released at transaction end.
        unsafe { pg_sys::LockRelationOid(relation, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    }
    relations
}

/// Runs `read` (SPI reads of segments and hot rows under the active snapshot) after
/// locking the hot partitions, under a snapshot that has seen every compaction that
/// truncated one of them (see the module's documentation).
pub fn reading<T>(read: impl FnOnce() -> T) -> T {
    let relations = lock_hot_relations();
    // SAFETY: the active snapshot is the running statement's; one pushed here is popped
    // below, or by the (sub)transaction's abort if `read` fails.
    unsafe {
        let snapshot = pg_sys::GetActiveSnapshot();
        if snapshot.is_null() || sees_every_truncation(&relations, snapshot) {
            return read();
        }
        if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                "could not serialize access to tally.events: a compaction this transaction's snapshot does not see moved hot rows into segments",
                "tally.events",
            )
            .set_hint("Retry the transaction.")
            .report(PgLogLevel::ERROR);
        }
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let answer = read();
        pg_sys::PopActiveSnapshot();
        answer
    }
}

/// Whether `snapshot` sees the last change of the `pg_class` row of each of `relations`.
///
/// # Safety
/// `snapshot` is a valid MVCC snapshot.
unsafe fn sees_every_truncation(relations: &[pg_sys::Oid], snapshot: pg_sys::Snapshot) -> bool {
    relations.iter().all(|&relation| unsafe {
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, pg_sys::Datum::from(relation));
        if tuple.is_null() {
            error!("tally.events_hot: relation {relation:?} disappeared");
        }
        let xmin = pg_sys::HeapTupleHeaderGetXmin((*tuple).t_data);
        pg_sys::ReleaseSysCache(tuple);
        pg_sys::TransactionIdIsCurrentTransactionId(xmin) || !pg_sys::XidInMVCCSnapshot(xmin, snapshot)
    })
}
