//! The recipe of `hll_add_agg` and `hll_union_agg`: transition, combine, serialize,
//! deserialize and final functions, all parallel safe. The state is an unpacked
//! `Hll` kept in the aggregate's memory context, so a transition costs one register
//! update rather than a decode and encode of the bytes; a union gathers the hashes of
//! explicit sets and folds them in at once (`HllUnion`).
//!
//! Semantics follow postgresql-hll (as Debian's 2.18 behaves): over no rows both
//! aggregates yield NULL; `hll_add_agg` over only NULLs an empty hll with the given
//! parameters; `hll_union_agg` over only NULLs NULL.

use pgrx::prelude::*;
use pgrx::Internal;
use tally_core::sketch::hll::{Hll, HllUnion, Params};

use super::agg_state::{new_state, state_mut, state_ref};
use super::error::or_raise;
use super::hll_settings::{defaults, encode};

/// The transition state: empty until a union aggregate has seen its first value (it
/// takes its parameters from that value).
type State = HllUnion;

/// Shared body of the five `hll_add_agg` transitions: parameters missing from the
/// call take the session defaults (`tally.hll_default_*`).
fn add_trans(
    fcinfo: pg_sys::FunctionCallInfo,
    mut internal: Option<Internal>,
    hash: Option<i64>,
    params: [Option<i64>; 4],
) -> Option<Internal> {
    let state: &mut State = state_mut(fcinfo, &mut internal, || {
        let d = defaults();
        let [log2m, regwidth, expthresh, sparseon] = params;
        HllUnion::of(Hll::new(or_raise(Params::new(
            log2m.unwrap_or(d.log2m.into()),
            regwidth.unwrap_or(d.regwidth.into()),
            expthresh.unwrap_or(d.expthresh),
            sparseon.unwrap_or(d.sparseon.into()),
        ))))
    });
    if let (Some(h), Some(hash)) = (state.set_mut(), hash) {
        h.add(hash);
    }
    internal
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_add_trans0(state: Option<Internal>, hash: Option<i64>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    add_trans(fcinfo, state, hash, [None; 4])
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_add_trans1(state: Option<Internal>, hash: Option<i64>, log2m: Option<i32>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    add_trans(fcinfo, state, hash, [log2m.map(i64::from), None, None, None])
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_add_trans2(
    state: Option<Internal>,
    hash: Option<i64>,
    log2m: Option<i32>,
    regwidth: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<Internal> {
    add_trans(fcinfo, state, hash, [log2m.map(i64::from), regwidth.map(i64::from), None, None])
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_add_trans3(
    state: Option<Internal>,
    hash: Option<i64>,
    log2m: Option<i32>,
    regwidth: Option<i32>,
    expthresh: Option<i64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<Internal> {
    add_trans(fcinfo, state, hash, [log2m.map(i64::from), regwidth.map(i64::from), expthresh, None])
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_add_trans4(
    state: Option<Internal>,
    hash: Option<i64>,
    log2m: Option<i32>,
    regwidth: Option<i32>,
    expthresh: Option<i64>,
    sparseon: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<Internal> {
    add_trans(fcinfo, state, hash, [log2m.map(i64::from), regwidth.map(i64::from), expthresh, sparseon.map(i64::from)])
}

/// `hll_union_agg` transition: the first value fixes the parameters, later ones
/// must match them.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_union_trans(mut state: Option<Internal>, value: Option<&[u8]>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    let current: &mut State = state_mut(fcinfo, &mut state, HllUnion::default);
    if let Some(bytes) = value {
        or_raise(current.add(or_raise(Hll::from_bytes(bytes))));
    }
    state
}

/// Combines two partial states of a parallel aggregate.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_agg_combine(a: Option<Internal>, b: Option<Internal>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    let mut a = a;
    let mine: &mut State = state_mut(fcinfo, &mut a, HllUnion::default);
    if let Some(other) = b.as_ref().and_then(state_ref::<State>) {
        or_raise(mine.merge(other));
    }
    a
}

/// A state as bytes for a parallel worker to hand over: the hll's storage bytes, or
/// no bytes for a union aggregate that has seen nothing yet.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_agg_serialize(state: Internal) -> Vec<u8> {
    state_ref::<State>(&state).and_then(HllUnion::current).map(|h| h.to_bytes()).unwrap_or_default()
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_agg_deserialize(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    let union: State = if bytes.is_empty() { HllUnion::default() } else { HllUnion::of(or_raise(Hll::from_bytes(bytes))) };
    new_state(fcinfo, union)
}

/// Final function of both aggregates: the packed hll.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn hll_agg_pack(state: Option<Internal>) -> Option<Vec<u8>> {
    state.as_ref().and_then(state_ref::<State>).and_then(HllUnion::current).map(|h| encode(&h))
}
