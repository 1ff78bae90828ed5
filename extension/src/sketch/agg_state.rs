//! Transition states of the sketch aggregates: a Rust value behind an `internal`
//! datum, allocated in the aggregate's memory context (and dropped when Postgres
//! resets it), so a transition updates the unpacked sketch in place.

use pgrx::prelude::*;
use pgrx::Internal;
use pgrx::PgMemoryContexts;

/// Runs `f` in the aggregate's memory context, so what it allocates lives as long
/// as the aggregate's state.
pub fn in_agg_context<R>(fcinfo: pg_sys::FunctionCallInfo, f: impl FnOnce() -> R) -> R {
    let mut ctx = std::ptr::null_mut();
    // SAFETY: fcinfo is the call's own; AggCheckCallContext only reads it.
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut ctx) } == 0 {
        error!("tally sketch aggregate support functions must be called as part of an aggregate");
    }
    // SAFETY: ctx is the live aggregate context Postgres just handed out.
    unsafe { PgMemoryContexts::For(ctx).switch_to(|_| f()) }
}

/// A new state holding `value`.
pub fn new_state<T>(fcinfo: pg_sys::FunctionCallInfo, value: T) -> Internal {
    in_agg_context(fcinfo, || Internal::new(value))
}

/// The state behind `internal`, created with `init` on the first call.
///
/// Every aggregate passes one `T` through all its support functions, so the pointer
/// behind a non-NULL state is always a `T` made by [`new_state`].
pub fn state_mut<T>(fcinfo: pg_sys::FunctionCallInfo, internal: &mut Option<Internal>, init: impl FnOnce() -> T) -> &mut T {
    let internal = internal.get_or_insert_with(|| new_state(fcinfo, init()));
    // SAFETY: see above.
    unsafe { internal.get_mut::<T>() }.unwrap_or_else(|| error!("sketch aggregate state missing"))
}

/// The state behind a non-NULL `internal` (see [`state_mut`]).
pub fn state_ref<T>(internal: &Internal) -> Option<&T> {
    // SAFETY: see state_mut.
    unsafe { internal.get::<T>() }
}
