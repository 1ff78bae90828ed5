//! Stopping long work when its caller asks: a cancelled query or an expired
//! `statement_timeout` must end within about 100 ms, not when the scan is done.
//!
//! The core knows nothing of Postgres, so the caller hands in a check ([`Interrupt`])
//! that the work calls between units (a segment, a view). Only the thread that called
//! in runs it (in Postgres only the backend's own thread may process interrupts and
//! raise the error): `&dyn Fn` is neither `Send` nor `Sync`, so the compiler keeps it
//! off the worker threads, which stop at the next unit once the calling thread has.

/// The caller asked to stop; the work was abandoned and its partial result dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Asks the caller whether to go on; cheap enough to call once per unit of work.
pub type Interrupt<'a> = &'a dyn Fn() -> Result<(), Cancelled>;

/// A check for work nobody cancels (tests, benches, trusted batch jobs).
pub fn never() -> Result<(), Cancelled> {
    Ok(())
}
