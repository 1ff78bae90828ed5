//! Scalar functions over `tally.hll` and the hashes, named as in postgresql-hll so
//! queries written for it run unchanged in schema `tally`.

use std::ffi::{CStr, CString};

use pgrx::prelude::*;
use pgrx::AnyElement;
use tally_core::sketch::hash;
use tally_core::sketch::hll::{Hll, Params};

use super::error::or_raise;
use super::hll_settings::{defaults, encode};

fn decode(value: &[u8]) -> Hll {
    or_raise(Hll::from_bytes(value))
}

/// Estimated distinct values; NULL for an undefined hll.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_cardinality(value: &[u8]) -> Option<f64> {
    or_raise(decode(value).cardinality())
}

/// Union of two hll values with the same parameters (`||`).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_union(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut a = decode(a);
    or_raise(a.union(&decode(b)));
    encode(&a)
}

/// The hll with one more hashed value (`||`).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_add(value: &[u8], hash: i64) -> Vec<u8> {
    let mut h = decode(value);
    h.add(hash);
    encode(&h)
}

/// `hll_add` with its arguments the other way round (`hashval || hll`).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_add_rev(hash: i64, value: &[u8]) -> Vec<u8> {
    hll_add(value, hash)
}

/// An empty hll with the given parameters.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_empty4(log2m: i32, regwidth: i32, expthresh: i64, sparseon: i32) -> Vec<u8> {
    let params = or_raise(Params::new(log2m.into(), regwidth.into(), expthresh, sparseon.into()));
    Hll::new(params).to_bytes()
}

/// An empty hll with the parameters given, the others from the session defaults.
fn empty_with(log2m: Option<i32>, regwidth: Option<i32>, expthresh: Option<i64>) -> Vec<u8> {
    let d = defaults();
    hll_empty4(log2m.unwrap_or(d.log2m.into()), regwidth.unwrap_or(d.regwidth.into()), expthresh.unwrap_or(d.expthresh), d.sparseon.into())
}

#[pg_extern(stable, parallel_safe, strict, sql = false)]
fn hll_empty3(log2m: i32, regwidth: i32, expthresh: i64) -> Vec<u8> {
    empty_with(Some(log2m), Some(regwidth), Some(expthresh))
}

#[pg_extern(stable, parallel_safe, strict, sql = false)]
fn hll_empty2(log2m: i32, regwidth: i32) -> Vec<u8> {
    empty_with(Some(log2m), Some(regwidth), None)
}

#[pg_extern(stable, parallel_safe, strict, sql = false)]
fn hll_empty1(log2m: i32) -> Vec<u8> {
    empty_with(Some(log2m), None, None)
}

#[pg_extern(stable, parallel_safe, sql = false)]
fn hll_empty0() -> Vec<u8> {
    empty_with(None, None, None)
}

/// postgresql-hll's text dump of a value (`Hll::print`).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_print(value: &[u8]) -> CString {
    CString::new(decode(value).print()).unwrap_or_default()
}

/// The parameter or property `what` of an hll, for hll_log2m() and friends.
fn property(value: &[u8], what: fn(&Hll, &[u8]) -> i64) -> i64 {
    what(&decode(value), value)
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_log2m(value: &[u8]) -> i32 {
    property(value, |h, _| h.params().log2m.into()) as i32
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_regwidth(value: &[u8]) -> i32 {
    property(value, |h, _| h.params().regwidth.into()) as i32
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_sparseon(value: &[u8]) -> i32 {
    property(value, |h, _| h.params().sparseon.into()) as i32
}

/// The expthresh a value was built with (-1 for automatic).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_expthresh_specified(value: &[u8]) -> i64 {
    property(value, |h, _| h.params().expthresh)
}

/// The explicit threshold in effect: the automatic one resolved, a given one as it is
/// (as postgresql-hll reports it, even a stored one above the 16383 a list can hold).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_expthresh_effective(value: &[u8]) -> i64 {
    property(value, |h, _| match h.params().expthresh {
        -1 => h.params().explicit_limit() as i64,
        given => given,
    })
}

/// The stored type: 0 undefined, 1 empty, 2 explicit, 3 sparse, 4 full.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_type(value: &[u8]) -> i32 {
    property(value, |_, bytes| i64::from(bytes[0] & 0xf)) as i32
}

/// The storage schema version (always 1).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_schema_version(value: &[u8]) -> i32 {
    property(value, |_, bytes| i64::from(bytes[0] >> 4)) as i32
}

/// postgresql-hll warns about negative seeds (its Java sibling hashes them
/// differently) and goes on; so does Tally.
fn check_seed(seed: i32) {
    if seed < 0 {
        warning!("negative seed values not compatible");
    }
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_boolean(value: bool, seed: i32) -> i64 {
    check_seed(seed);
    hash::hash_boolean(value, seed)
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_smallint(value: i16, seed: i32) -> i64 {
    check_seed(seed);
    hash::hash_smallint(value, seed)
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_integer(value: i32, seed: i32) -> i64 {
    check_seed(seed);
    hash::hash_integer(value, seed)
}

#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_bigint(value: i64, seed: i32) -> i64 {
    check_seed(seed);
    hash::hash_bigint(value, seed)
}

/// Hash of `text` or `bytea` contents (the SQL declarations bind both here).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_varlena(value: &[u8], seed: i32) -> i64 {
    check_seed(seed);
    hash::hash_bytes(value, seed)
}

/// Hash of a value of any type, as postgresql-hll's `hll_hash_any` computes it: values
/// passed by value in 1, 2, 4 or 8 bytes as those bytes (so it equals the typed
/// functions), varlena types as their contents, other fixed-size types (macaddr,
/// interval, uuid, ...) as the bytes of their binary send form. (postgresql-hll reads a
/// C string or an 8-byte type passed by reference, such as macaddr8, as garbage; those
/// hash their bytes and their send form here.)
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_hash_any(value: AnyElement, seed: i32) -> i64 {
    check_seed(seed);
    let datum = value.datum();
    let (mut typlen, mut byval) = (0i16, false);
    // SAFETY: the datum is of the type whose oid Postgres passed along with it, so its
    // length and passing convention decide how to read it; varlena pointers are
    // detoasted before reading.
    unsafe {
        pg_sys::get_typlenbyval(value.oid(), &mut typlen, &mut byval);
        match (typlen, byval) {
            (1, true) => hash::hash_bytes(&[datum.value() as u8], seed),
            (2, true) => hash::hash_smallint(datum.value() as i16, seed),
            (4, true) => hash::hash_integer(datum.value() as i32, seed),
            (8, true) => hash::hash_bigint(datum.value() as i64, seed),
            (-1, _) => {
                let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                hash::hash_bytes(pgrx::varlena::varlena_to_byte_slice(varlena), seed)
            }
            (-2, _) => hash::hash_bytes(CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>()).to_bytes(), seed),
            _ => {
                let (mut send, mut is_varlena) = (pg_sys::Oid::INVALID, false);
                pg_sys::getTypeBinaryOutputInfo(value.oid(), &mut send, &mut is_varlena);
                let bytes = pg_sys::OidSendFunctionCall(send, datum);
                hash::hash_bytes(pgrx::varlena::varlena_to_byte_slice(bytes), seed)
            }
        }
    }
}
