//! Text and binary input and output of `tally.hll` (and the output of every sketch). The bytes are postgresql-hll's
//! storage format; text is those bytes as a `bytea` literal (`\x...`), exactly what
//! postgresql-hll prints, so values copy between the two as text or binary. Also the
//! type modifiers of `hll(log2m, regwidth, expthresh, sparseon)` columns.

use std::ffi::{CStr, CString};
use std::fmt::Write;

use pgrx::prelude::*;
use pgrx::{Array, Internal};
use tally_core::sketch::hll::{Hll, Typmod};

use super::error::or_raise;
use super::hll_settings::defaults;

/// Errors unless `bytes` are an hll that fits type modifier `typmod` (-1: any).
fn check(bytes: &[u8], typmod: i32) {
    let hll = or_raise(Hll::from_bytes(bytes));
    if typmod >= 0 {
        or_raise(Typmod::from_i32(typmod).check(&hll.params()));
    }
}

/// Text input: a bytea literal whose bytes must decode as an hll (with the column's
/// parameters, when it declares them: COPY and literals pass them here).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_in(input: &CStr, _typelem: pg_sys::Oid, typmod: i32) -> Vec<u8> {
    // byteain accepts both bytea text formats (hex and escape), as postgresql-hll does.
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::byteain, &[input.into_datum()]) }.unwrap_or_default();
    check(&bytes, typmod);
    bytes
}

/// `hll(...)` modifiers to the integer Postgres stores; missing ones take the session
/// defaults.
#[pg_extern(stable, parallel_safe, strict, sql = false)]
fn hll_typmod_in(mods: Array<'_, &CStr>) -> i32 {
    let mods: Vec<&str> = mods.iter().map(|m| m.and_then(|m| m.to_str().ok()).unwrap_or("")).collect();
    or_raise(Typmod::parse(&mods, defaults())).to_i32()
}

/// The stored integer as `(log2m,regwidth,expthresh,sparseon)`.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_typmod_out(typmod: i32) -> CString {
    CString::new(Typmod::from_i32(typmod).to_string()).unwrap_or_default()
}

/// The `hll` to `hll(...)` cast Postgres applies when storing into a column that
/// declares parameters: the value unchanged if it has them, else an error.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_typmod_cast(value: &[u8], typmod: i32, _explicit: bool) -> Vec<u8> {
    check(value, typmod);
    value.to_vec()
}

/// Text output of every sketch type: `\x` and the bytes in hex, as bytea prints.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn sketch_out(value: &[u8]) -> CString {
    let mut text = String::with_capacity(2 + 2 * value.len());
    text.push_str("\\x");
    for b in value {
        let _ = write!(text, "{b:02x}");
    }
    CString::new(text).unwrap_or_default()
}

/// Binary input (COPY BINARY, the wire protocol): the raw bytes, checked like text
/// input, against the column's parameters too (postgresql-hll skips that check here).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_recv(buf: Internal, _typelem: pg_sys::Oid, typmod: i32) -> Vec<u8> {
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::bytearecv, &[buf.unwrap()]) }.unwrap_or_default();
    check(&bytes, typmod);
    bytes
}

/// Binary output of every sketch type: the raw bytes.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn sketch_send(value: &[u8]) -> Vec<u8> {
    value.to_vec()
}

/// The `bytea` to `tally.hll` cast: the same bytes, checked.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_from_bytea(bytes: &[u8]) -> Vec<u8> {
    or_raise(Hll::from_bytes(bytes));
    bytes.to_vec()
}
