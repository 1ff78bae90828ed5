//! The rows of a COPY stream inserted into the hot partition of the current transaction,
//! with COPY's own parsing (`NextCopyFrom`) and PostgreSQL's table, constraint and index
//! routines, but without `CopyFrom`'s per-slot bookkeeping.
//!
//! Why not `CopyFrom`: in PostgreSQL 15 each of the up to 1000 slots of its multi-insert
//! buffer pins the partition's tuple descriptor in the resource owner, and a resource
//! owner holding many pins of *one* descriptor finds each new pin, and each release, by
//! walking a chain as long as the pins held (`ResourceOwnerRememberTupleDesc`,
//! `ResourceOwnerForgetTupleDesc`): quadratic in the batch, about a fifth of Postgres's
//! CPU time per ingested event under the ingest bench (PostgreSQL 17 rewrote this). The
//! slots here describe their rows with a private copy of the descriptor, which is not
//! reference-counted, so nothing is remembered per slot.
//!
//! What `CopyFrom` does per row is done here the same way: the values and defaults come
//! from `NextCopyFrom` (binary input functions, encoding checks, `gen`'s default), then
//! `ExecConstraints` (NOT NULL, CHECK), the partition constraint (the row's `gen` must be
//! the partition's), the table AM's `multi_insert` and `ExecInsertIndexTuples`. Tables
//! where `CopyFrom` would do more (triggers, stored generated columns, a partition laid
//! out differently from its parent) are left to `CopyFrom`: [`HotTarget::open`] answers
//! `None`.

use std::ffi::CString;
use std::ptr;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::storage::hot;

/// Rows buffered before one `multi_insert` call. Large enough that a heap page or more
/// is filled per call; small enough that the buffered rows stay in the CPU caches: under
/// the ingest bench 64, 128 and 256 cost the same per event, and 1000 (`CopyFrom`'s
/// buffer) about 0.4 µs more (benches/RESULTS.md).
const BUFFERED_ROWS: usize = 256;

/// The partition of `tally.events_hot` the current transaction writes to, opened for
/// inserting, and the executor state the per-row routines need.
pub struct HotTarget {
    estate: *mut pg_sys::EState,
    leaf: *mut pg_sys::ResultRelInfo,
}

impl HotTarget {
    /// Opens the current generation's partition of `parent` (`tally.events_hot`, opened
    /// and locked by the caller, whose range table `rtable` has it as entry 1), or `None`
    /// when rows must go through `CopyFrom` instead (see the module comment).
    ///
    /// # Safety
    /// `parent` is an open relation and `rtable` a range table holding it, as built for
    /// `BeginCopyFrom`; call inside a transaction.
    pub unsafe fn open(parent: pg_sys::Relation, rtable: *mut pg_sys::List) -> Option<HotTarget> {
        unsafe {
            if !(*parent).trigdesc.is_null() || has_generated_stored(parent) {
                return None;
            }
            let name = CString::new(format!("events_hot_{}", hot::current_generation())).expect("no NUL");
            let leaf_oid = pg_sys::get_relname_relid(name.as_ptr(), (*(*parent).rd_rel).relnamespace);
            if leaf_oid == pg_sys::InvalidOid {
                return None;
            }
            // COPY into the parent locks the partition it routes to the same way.
            let leaf_rel = pg_sys::table_open(leaf_oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let same_layout = pg_sys::build_attrmap_by_name_if_req((*parent).rd_att, (*leaf_rel).rd_att).is_null();
            if !(*(*leaf_rel).rd_rel).relispartition || !(*leaf_rel).trigdesc.is_null() || has_generated_stored(leaf_rel) || !same_layout {
                pg_sys::table_close(leaf_rel, pg_sys::NoLock as pg_sys::LOCKMODE);
                return None;
            }
            let estate = pg_sys::CreateExecutorState();
            pg_sys::ExecInitRangeTable(estate, rtable);
            let root = alloc_result_rel_info();
            pg_sys::ExecInitResultRelation(estate, root, 1);
            let leaf = alloc_result_rel_info();
            pg_sys::InitResultRelInfo(leaf, leaf_rel, 0, root, (*estate).es_instrument);
            pg_sys::CheckValidResultRel(leaf, pg_sys::CmdType::CMD_INSERT);
            pg_sys::ExecOpenIndices(leaf, false);
            Some(HotTarget { estate, leaf })
        }
    }

    /// Reads every row of `cstate` (a `BeginCopyFrom` on the parent) and inserts it;
    /// returns the rows inserted. Closes the target.
    ///
    /// # Safety
    /// `cstate` reads the parent this target was opened for.
    pub unsafe fn copy_from(self, cstate: pg_sys::CopyFromState) -> u64 {
        unsafe {
            let HotTarget { estate, leaf } = self;
            let leaf_rel = (*leaf).ri_RelationDesc;
            let leaf_oid = (*leaf_rel).rd_id;
            let has_constraints = !(*(*leaf_rel).rd_att).constr.is_null();
            let query_cxt = pg_sys::CurrentMemoryContext;
            let econtext = per_tuple_context(estate);
            let row_cxt = (*econtext).ecxt_per_tuple_memory;
            // Not reference-counted (tdrefcount -1): slots of it pin nothing.
            let desc = pg_sys::CreateTupleDescCopy((*leaf_rel).rd_att);
            let ops = pg_sys::table_slot_callbacks(leaf_rel);
            let mut buffer = Buffer { slots: Vec::with_capacity(BUFFERED_ROWS), used: 0, inserted: 0 };
            let bistate = pg_sys::GetBulkInsertState();
            let cid = pg_sys::GetCurrentCommandId(true);
            loop {
                check_for_interrupts!();
                pg_sys::MemoryContextReset(row_cxt);
                if buffer.used == buffer.slots.len() {
                    buffer.slots.push(pg_sys::MakeSingleTupleTableSlot(desc, ops));
                }
                let slot = buffer.slots[buffer.used];
                pg_sys::MemoryContextSwitchTo(row_cxt);
                pg_sys::ExecClearTuple(slot);
                let more = pg_sys::NextCopyFrom(cstate, econtext, (*slot).tts_values, (*slot).tts_isnull);
                pg_sys::MemoryContextSwitchTo(query_cxt);
                if !more {
                    break;
                }
                pg_sys::ExecStoreVirtualTuple(slot);
                (*slot).tts_tableOid = leaf_oid;
                if has_constraints {
                    pg_sys::ExecConstraints(leaf, slot, estate);
                }
                pg_sys::ExecPartitionCheck(leaf, slot, estate, true);
                // The values live in the row context, reset for the next row.
                pg_sys::ExecMaterializeSlot(slot);
                buffer.used += 1;
                if buffer.used == BUFFERED_ROWS {
                    buffer.flush(estate, leaf, cid, bistate, row_cxt);
                }
            }
            buffer.flush(estate, leaf, cid, bistate, row_cxt);
            pg_sys::FreeBulkInsertState(bistate);
            pg_sys::table_finish_bulk_insert(leaf_rel, 0);
            for slot in buffer.slots {
                pg_sys::ExecDropSingleTupleTableSlot(slot);
            }
            pg_sys::FreeTupleDesc(desc);
            // The partition and its indexes were opened here, not through the range
            // table, so they are closed here: ExecCloseResultRelations closes only the
            // root's indexes, and CopyFrom closes its partitions in
            // ExecCleanupTupleRouting, which this path does not use. Left open, each
            // commit warns of a relcache reference leak.
            pg_sys::ExecCloseIndices(leaf);
            pg_sys::table_close(leaf_rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            pg_sys::ExecCloseResultRelations(estate);
            pg_sys::ExecCloseRangeTableRelations(estate);
            pg_sys::FreeExecutorState(estate);
            buffer.inserted
        }
    }
}

/// Slots holding materialized rows not yet inserted.
struct Buffer {
    slots: Vec<*mut pg_sys::TupleTableSlot>,
    used: usize,
    inserted: u64,
}

impl Buffer {
    /// Inserts the buffered rows and their index entries, as `CopyFrom` flushes its
    /// multi-insert buffer.
    unsafe fn flush(
        &mut self,
        estate: *mut pg_sys::EState,
        leaf: *mut pg_sys::ResultRelInfo,
        cid: pg_sys::CommandId,
        bistate: pg_sys::BulkInsertState,
        row_cxt: pg_sys::MemoryContext,
    ) {
        if self.used == 0 {
            return;
        }
        unsafe {
            // table_multi_insert may leak memory into the current context.
            let previous = pg_sys::MemoryContextSwitchTo(row_cxt);
            pg_sys::table_multi_insert((*leaf).ri_RelationDesc, self.slots.as_mut_ptr(), self.used as i32, cid, 0, bistate);
            pg_sys::MemoryContextSwitchTo(previous);
            for &slot in &self.slots[..self.used] {
                if (*leaf).ri_NumIndices > 0 {
                    let recheck = pg_sys::ExecInsertIndexTuples(leaf, slot, estate, false, false, ptr::null_mut(), ptr::null_mut());
                    pg_sys::list_free(recheck);
                }
                pg_sys::ExecClearTuple(slot);
            }
            self.inserted += self.used as u64;
            pg_sys::pgstat_progress_update_param(pg_sys::PROGRESS_COPY_TUPLES_PROCESSED as i32, self.inserted as i64);
        }
        self.used = 0;
    }
}

unsafe fn has_generated_stored(rel: pg_sys::Relation) -> bool {
    unsafe {
        let constr = (*(*rel).rd_att).constr;
        !constr.is_null() && (*constr).has_generated_stored
    }
}

/// `makeNode(ResultRelInfo)`.
unsafe fn alloc_result_rel_info() -> *mut pg_sys::ResultRelInfo {
    unsafe {
        let rri = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>()).cast::<pg_sys::ResultRelInfo>();
        (*rri).type_ = pg_sys::NodeTag::T_ResultRelInfo;
        rri
    }
}

/// `GetPerTupleExprContext(estate)`.
unsafe fn per_tuple_context(estate: *mut pg_sys::EState) -> *mut pg_sys::ExprContext {
    unsafe {
        if (*estate).es_per_tuple_exprcontext.is_null() {
            pg_sys::MakePerTupleExprContext(estate)
        } else {
            (*estate).es_per_tuple_exprcontext
        }
    }
}
