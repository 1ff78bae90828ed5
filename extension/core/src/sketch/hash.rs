//! The hashes postgresql-hll applies before a value reaches a sketch: MurmurHash3
//! x64 128 of the value's bytes as Postgres holds them in memory, keeping the first
//! 64-bit half. Matching them bit for bit is what lets a sketch built by Tally be
//! unioned with one built by postgresql-hll.

/// The seed of every hash unless a caller gives one. postgresql-hll warns about
/// negative seeds (they differ from its Java sibling) but still uses them, cast to
/// an unsigned 32-bit value; so do these.
pub const DEFAULT_SEED: i32 = 0;

/// Hash of raw bytes: `text` and `bytea` contents without the varlena header.
pub fn hash_bytes(bytes: &[u8], seed: i32) -> i64 {
    // The C routine takes a uint32_t seed and widens it to both 64-bit lanes.
    let seed = u64::from(seed as u32);
    fastmurmur3::murmur3_x64_128(bytes, seed) as u64 as i64
}

/// Hash of a `bigint`: its 8 bytes in the machine's (little-endian) order.
pub fn hash_bigint(value: i64, seed: i32) -> i64 {
    hash_bytes(&value.to_le_bytes(), seed)
}

/// Hash of an `integer`: its 4 bytes.
pub fn hash_integer(value: i32, seed: i32) -> i64 {
    hash_bytes(&value.to_le_bytes(), seed)
}

/// Hash of a `smallint`: its 2 bytes.
pub fn hash_smallint(value: i16, seed: i32) -> i64 {
    hash_bytes(&value.to_le_bytes(), seed)
}

/// Hash of a `boolean`: one byte, 0 or 1.
pub fn hash_boolean(value: bool, seed: i32) -> i64 {
    hash_bytes(&[u8::from(value)], seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from postgresql-hll (`SELECT hll_hash_bigint(x)` and friends
    /// run against the real extension); the SQL tests compare many more side by side.
    #[test]
    fn matches_postgresql_hll_reference_values() {
        assert_eq!(hash_bigint(1, 0), 19_144_387_141_682_250);
        assert_eq!(hash_bytes(b"hello", 0), -3_758_069_500_696_749_310);
    }
}
