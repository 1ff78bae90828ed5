//! The backend's side of [`tally_core::interrupt`]: a cancel (`pg_cancel_backend`,
//! a client's cancel request) or an expired `statement_timeout` stops a scan at the
//! next batch instead of when it is done, and so does a scan holding more memory than
//! `tally.query_memory_mb`.
//!
//! Postgres processes interrupts with `CHECK_FOR_INTERRUPTS()`, which raises the ERROR
//! (57014) by unwinding. Raised in the middle of a threaded scan, that unwinding would
//! wait for every worker to finish its queue, so the check catches it, tells the core
//! to stop ([`Cancelled`]), and the error is raised again once the workers are gone.

use std::any::Any;
use std::cell::RefCell;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use tally_core::interrupt::Cancelled;

use crate::{gucs, heap};

/// Why the work was stopped.
enum Stop {
    /// The ERROR `CHECK_FOR_INTERRUPTS()` raised.
    Interrupt(Box<dyn Any + Send>),
    /// Bytes held beyond those held when the work began.
    Memory(usize),
}

/// Interrupts and memory seen by the backend's thread during one piece of work.
pub(crate) struct Interrupts {
    stopped: RefCell<Option<Stop>>,
    /// Rust bytes held when the work began, and how many more it may hold.
    start: usize,
    budget: usize,
}

impl Interrupts {
    /// Checks for work starting now, with `tally.query_memory_mb` as its budget.
    pub fn new() -> Self {
        let budget = usize::try_from(gucs::QUERY_MEMORY_MB.get()).unwrap_or(0) << 20;
        Interrupts { stopped: RefCell::new(None), start: heap::live_bytes(), budget }
    }

    /// Processes pending interrupts and weighs the memory held; `Err` when the work
    /// must stop. Only the backend's own thread may call it (the core guarantees it:
    /// see [`tally_core::interrupt`]).
    pub fn check(&self) -> Result<(), Cancelled> {
        let held = heap::live_bytes().saturating_sub(self.start);
        if held > self.budget {
            *self.stopped.borrow_mut() = Some(Stop::Memory(held));
            return Err(Cancelled);
        }
        // SAFETY: a plain read of the flag Postgres's signal handlers set; this is the
        // backend's thread.
        if unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) } == 0 {
            return Ok(());
        }
        match std::panic::catch_unwind(|| {
            pg_sys::check_for_interrupts!();
        }) {
            Ok(()) => Ok(()),
            Err(error) => {
                *self.stopped.borrow_mut() = Some(Stop::Interrupt(error));
                Err(Cancelled)
            }
        }
    }

    /// Raises the ERROR that made [`Interrupts::check`] stop the work.
    pub fn raise(&self) -> ! {
        match self.stopped.borrow_mut().take() {
            Some(Stop::Interrupt(error)) => std::panic::resume_unwind(error),
            Some(Stop::Memory(held)) => {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                    format!("the query's scan holds {} MB, more than tally.query_memory_mb ({} MB)", held >> 20, self.budget >> 20),
                    "tally.query",
                )
                .set_hint("Ask for fewer groups (fewer or coarser dimensions, a shorter date range), or have a superuser raise tally.query_memory_mb.")
                .report(PgLogLevel::ERROR);
                unreachable!("ERROR does not return")
            }
            None => error!("tally.query: the scan stopped without a reason"),
        }
    }
}
