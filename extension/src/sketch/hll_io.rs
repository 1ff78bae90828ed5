//! Text and binary input and output of `tally.hll` (and the output of every sketch). The bytes are postgresql-hll's
//! storage format; text is those bytes as a `bytea` literal (`\x...`), exactly what
//! postgresql-hll prints, so values copy between the two as text or binary.

use std::ffi::{CStr, CString};
use std::fmt::Write;

use pgrx::prelude::*;
use pgrx::Internal;
use tally_core::sketch::hll::Hll;

use super::error::or_raise;

/// Text input: a bytea literal whose bytes must decode as an hll.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_in(input: &CStr, _typelem: pg_sys::Oid, _typmod: i32) -> Vec<u8> {
    // byteain accepts both bytea text formats (hex and escape), as postgresql-hll does.
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::byteain, &[input.into_datum()]) }.unwrap_or_default();
    or_raise(Hll::from_bytes(&bytes));
    bytes
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

/// Binary input (COPY BINARY, the wire protocol): the raw bytes, checked.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_recv(buf: Internal) -> Vec<u8> {
    let bytes: Vec<u8> = unsafe { pgrx::direct_function_call(pg_sys::bytearecv, &[buf.unwrap()]) }.unwrap_or_default();
    or_raise(Hll::from_bytes(&bytes));
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
