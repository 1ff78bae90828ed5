//! TallyScan handing out rows in `ts` order, for a path the planner took for its
//! pathkeys (`ORDER BY ts [DESC] LIMIT n` with a Limit directly above, no Sort): the
//! scan's sources are merged by [`TsMerge`], which opens a segment only when a row of
//! it may come next, so a Limit that has its rows stops the scan after the few
//! segments that hold them. Each opened segment keeps its decoded columns, and its
//! text datums in a memory context of its own, until its last row is out.

use pgrx::pg_sys;
use tally_core::scan::{Decoded, Direction, Step, TsMerge};

use super::exec::Run;
use super::tuple::{self, Texts};
use crate::query::interrupts::Interrupts;

/// Rows handed out between two checks of interrupts and memory.
const ROWS_PER_CHECK: u32 = 1 << 12;

/// An opened source with rows left.
struct Open {
    decoded: Decoded,
    texts: Texts,
    /// Its text datums; a child of the scan's sources context, so a rescan or the end
    /// of the query frees it with the rest.
    cxt: pg_sys::MemoryContext,
}

/// The merge of one scan (made when the scan starts, dropped on rescan).
pub(super) struct Ordered {
    merge: TsMerge,
    open: Vec<Option<Open>>,
    /// The context of the source whose last row is in the slot, deleted at the next row.
    retired: Option<pg_sys::MemoryContext>,
    interrupts: Interrupts,
    since_check: u32,
}

impl Ordered {
    /// The merge of `run`'s sources (read already).
    pub(super) fn new(run: &Run, direction: Direction) -> Self {
        let ranges = run.sources.ranges();
        Self {
            merge: TsMerge::new(&ranges, direction),
            open: (0..ranges.len()).map(|_| None).collect(),
            retired: None,
            interrupts: Interrupts::new(),
            since_check: 0,
        }
    }

    /// Stores the next row in `slot`; false at the end.
    ///
    /// # Safety
    /// `slot` is the scan's slot; `run` is the running scan whose sources this merges.
    pub(super) unsafe fn next(&mut self, run: &mut Run, slot: *mut pg_sys::TupleTableSlot) -> bool {
        unsafe {
            if let Some(cxt) = self.retired.take() {
                pg_sys::MemoryContextDelete(cxt);
            }
            loop {
                match self.merge.step() {
                    Step::Done => return false,
                    Step::Open(source) => {
                        let decoded = run.decode_source(source);
                        let ts = run.ts_values(&decoded);
                        self.merge.opened(source, &decoded.rows.indices(), ts);
                        if !decoded.rows.is_empty() {
                            let mut texts = Texts::default();
                            texts.reset(&decoded);
                            self.open[source] = Some(Open { decoded, texts, cxt: run.child_context(c"TallyScan ordered segment") });
                        }
                        self.check();
                    }
                    Step::Emit { source, row, last } => {
                        let open = self.open[source].as_mut().expect("an emitted row's source is open");
                        tuple::fill(slot, &open.decoded, row as usize, &run.columns, &mut open.texts, open.cxt);
                        if last {
                            let open = self.open[source].take().expect("just used");
                            self.retired = Some(open.cxt);
                        }
                        self.since_check += 1;
                        if self.since_check >= ROWS_PER_CHECK {
                            self.since_check = 0;
                            self.check();
                        }
                        return true;
                    }
                }
            }
        }
    }

    /// Stops the scan on a cancel or when the opened segments hold more memory than
    /// `tally.query_memory_mb`.
    fn check(&self) {
        if self.interrupts.check().is_err() {
            self.interrupts.raise();
        }
    }
}
