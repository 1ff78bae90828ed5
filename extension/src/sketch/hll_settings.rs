//! postgresql-hll's session functions (`hll_set_defaults`, `hll_set_max_sparse`,
//! `hll_set_output_version`) over the `tally.hll_*` backend settings of `gucs.rs`, and what
//! reads them: the parameters of a value made without all four, and the storage form
//! of the values functions return.

use std::ffi::{CStr, CString};

use pgrx::prelude::*;
use tally_core::sketch::hll::{Hll, Params, SparseRule};

use super::error::{invalid_argument, or_raise};
use crate::gucs;

/// The parameters of values made without them (`tally.hll_default_*`).
pub fn defaults() -> Params {
    or_raise(Params::new(
        gucs::HLL_DEFAULT_LOG2M.get().into(),
        gucs::HLL_DEFAULT_REGWIDTH.get().into(),
        gucs::HLL_DEFAULT_EXPTHRESH.get().into(),
        gucs::HLL_DEFAULT_SPARSEON.get().into(),
    ))
}

/// The storage bytes of `hll` with registers stored sparse as `tally.hll_max_sparse`
/// says: what every function returning an hll to SQL gives.
pub fn encode(hll: &Hll) -> Vec<u8> {
    let rule = match gucs::HLL_MAX_SPARSE.get() {
        n if n < 0 => SparseRule::Smaller,
        n => SparseRule::UpTo(n as usize),
    };
    hll.to_bytes_with(rule)
}

/// Sets `name` for the rest of the backend's life, whatever becomes of the current
/// transaction, as postgresql-hll's globals are set. A value from source
/// `PGC_S_OVERRIDE` replaces the setting's reset value and the value every open
/// transaction and subtransaction would restore (guc.c: "the behavior is not
/// transactional"), while parallel workers still receive it with the other settings.
fn set(name: &CStr, value: i64) {
    let value = CString::new(value.to_string()).unwrap_or_default();
    // SAFETY: both strings are NUL-terminated and live through the call; an invalid
    // value raises an ERROR (elevel 0 picks ERROR for this source).
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_BACKEND,
            pg_sys::GucSource::PGC_S_OVERRIDE,
            pg_sys::GucAction::GUC_ACTION_SET,
            true,
            0,
            false,
        );
    }
}

/// Only schema version 1 exists; returns the version in use.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_set_output_version(version: i32) -> i32 {
    if version != 1 {
        invalid_argument(format!("hll output version must be 1, got {version}"), "Version 1 is the only hll storage format.");
    }
    1
}

/// Sets `tally.hll_max_sparse` and returns its previous value.
#[pg_extern(volatile, parallel_unsafe, strict, sql = false)]
fn hll_set_max_sparse(max_sparse: i32) -> i32 {
    if max_sparse < -1 {
        invalid_argument(
            format!("hll max sparse must be -1 or more, got {max_sparse}"),
            "-1 stores registers sparse whenever that is smaller; n >= 0 while at most n are filled.",
        );
    }
    let old = gucs::HLL_MAX_SPARSE.get();
    set(c"tally.hll_max_sparse", max_sparse.into());
    old
}

/// Sets the `tally.hll_default_*` settings and returns their previous values (log2m,
/// regwidth, expthresh, sparseon); the SQL function spreads them into its OUT columns.
#[pg_extern(volatile, parallel_unsafe, strict, sql = false)]
fn hll_set_defaults4(log2m: i32, regwidth: i32, expthresh: i64, sparseon: i32) -> Vec<i64> {
    let old = defaults();
    let new = or_raise(Params::new(log2m.into(), regwidth.into(), expthresh, sparseon.into()));
    set(c"tally.hll_default_log2m", new.log2m.into());
    set(c"tally.hll_default_regwidth", new.regwidth.into());
    set(c"tally.hll_default_expthresh", new.expthresh);
    set(c"tally.hll_default_sparseon", new.sparseon.into());
    vec![old.log2m.into(), old.regwidth.into(), old.expthresh, old.sparseon.into()]
}
