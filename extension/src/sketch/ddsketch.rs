//! `tally.ddsketch`: quantiles of durations with 1% relative error, mergeable exactly
//! (see `tally_core::sketch::ddsketch`). Input, the aggregate recipe and the
//! quantile functions; declared in `sql/ddsketch.sql`.

use std::ffi::CStr;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::Internal;
use tally_core::sketch::ddsketch::DDSketch;

use super::agg_state::{new_state, state_mut, state_ref};
use super::error::or_raise;

fn decode(bytes: &[u8]) -> DDSketch {
    or_raise(DDSketch::from_bytes(bytes))
}

/// Text input: a bytea literal whose bytes must decode as a ddsketch.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_in(input: &CStr, _typelem: pg_sys::Oid, _typmod: i32) -> Vec<u8> {
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::byteain, &[input.into_datum()]) }.unwrap_or_default();
    decode(&bytes);
    bytes
}

/// Binary input: the raw bytes, checked.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_recv(buf: Internal) -> Vec<u8> {
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::bytearecv, &[buf.unwrap()]) }.unwrap_or_default();
    decode(&bytes);
    bytes
}

/// The `bytea` to `tally.ddsketch` cast: the same bytes, checked.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_from_bytea(bytes: &[u8]) -> Vec<u8> {
    decode(bytes);
    bytes.to_vec()
}

fn invalid(message: String, hint: &str) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message, "tally.ddsketch").set_hint(hint).report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Transition of `ddsketch_agg(value)`: NULLs are skipped like in `avg`.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn ddsketch_trans(mut state: Option<Internal>, value: Option<f64>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    if let Some(v) = value {
        if !v.is_finite() {
            invalid(format!("ddsketch_agg cannot take {v}"), "Quantile sketches take finite values; filter out NaN and infinities.");
        }
        state_mut(fcinfo, &mut state, DDSketch::new).add(v);
    }
    state
}

/// Transition of `ddsketch_union_agg(sketch)`.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn ddsketch_union_trans(mut state: Option<Internal>, value: Option<&[u8]>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    if let Some(bytes) = value {
        let incoming = decode(bytes);
        state_mut(fcinfo, &mut state, DDSketch::new).merge(&incoming);
    }
    state
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn ddsketch_combine(mut a: Option<Internal>, b: Option<Internal>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Internal> {
    if let Some(other) = b.as_ref().and_then(state_ref::<DDSketch>) {
        let other = other.clone();
        state_mut(fcinfo, &mut a, DDSketch::new).merge(&other);
    }
    a
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_serialize(state: Internal) -> Vec<u8> {
    state_ref::<DDSketch>(&state).map(DDSketch::to_bytes).unwrap_or_default()
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_deserialize(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    new_state(fcinfo, decode(bytes))
}

/// Final function of both aggregates: NULL when no value was seen, like `avg`.
#[pg_extern(immutable, parallel_safe, sql = false)]
fn ddsketch_final(state: Option<Internal>) -> Option<Vec<u8>> {
    state.as_ref().and_then(state_ref::<DDSketch>).filter(|s| s.count() > 0).map(DDSketch::to_bytes)
}

fn check_quantile(q: f64) {
    if !(0.0..=1.0).contains(&q) {
        invalid(format!("quantile {q} is outside [0, 1]"), "Ask for e.g. 0.5 (median), 0.9 or 0.99.");
    }
}

/// The q-quantile of the sketched values, within 1% of the exact one.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_quantile(sketch: &[u8], q: f64) -> Option<f64> {
    check_quantile(q);
    decode(sketch).quantile(q)
}

/// Several quantiles at once, decoding the sketch once.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_quantiles(sketch: &[u8], qs: Vec<f64>) -> Vec<Option<f64>> {
    let s = decode(sketch);
    qs.into_iter()
        .map(|q| {
            check_quantile(q);
            s.quantile(q)
        })
        .collect()
}

/// How many values the sketch holds.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn ddsketch_count(sketch: &[u8]) -> i64 {
    decode(sketch).count() as i64
}
