//! Scalar functions over `tally.hll` and the hashes, named as in postgresql-hll so
//! queries written for it run unchanged in schema `tally`.

use pgrx::prelude::*;
use tally_core::sketch::hash;
use tally_core::sketch::hll::{Hll, Params};

use super::error::or_raise;

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
    a.to_bytes()
}

/// The hll with one more hashed value (`||`).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_add(value: &[u8], hash: i64) -> Vec<u8> {
    let mut h = decode(value);
    h.add(hash);
    h.to_bytes()
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

/// The explicit threshold in effect (the automatic one resolved).
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn hll_expthresh_effective(value: &[u8]) -> i64 {
    property(value, |h, _| h.params().explicit_limit() as i64)
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
