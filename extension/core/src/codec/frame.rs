//! Frame of reference: signed integers stored as their minimum plus bit-packed
//! unsigned offsets from it, so a column of values in `[1_000_000, 1_000_100]` costs
//! 7 bits a value, not 20, and any i64 range (up to the full 2^64) still round-trips.

use super::{bitpack, put_varint, zigzag, Cursor, DecodeError, MAX_VALUES};

/// Writes `[varint n][zigzag varint base][u8 width][packed offsets]`.
pub fn encode_into(values: &[i64], byte_aligned: bool, out: &mut Vec<u8>) {
    let base = values.iter().copied().min().unwrap_or(0);
    let offsets: Vec<u64> = values.iter().map(|&v| v.wrapping_sub(base) as u64).collect();
    let width = bitpack::width_for(&offsets, byte_aligned);
    put_varint(out, values.len() as u64);
    put_varint(out, zigzag(base));
    out.push(width);
    bitpack::pack_u64_into(&offsets, width, out);
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
    let n = cur.count(MAX_VALUES, "value count")?;
    let base = cur.varint_i64("frame base")?;
    let width = cur.u8("bit width")?;
    let offsets = bitpack::unpack_u64(cur, n, width)?;
    Ok(offsets.into_iter().map(|o| base.wrapping_add(o as i64)).collect())
}

pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(values, false, &mut out);
    out
}

pub fn decode(bytes: &[u8]) -> Result<Vec<i64>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let values = decode_from(&mut cur)?;
    cur.finish()?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(values: Vec<i64>, aligned: bool) {
            let mut bytes = Vec::new();
            encode_into(&values, aligned, &mut bytes);
            prop_assert_eq!(decode(&bytes).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn narrow_ranges_pack_narrow() {
        let values: Vec<i64> = (0..1024).map(|i| 1_000_000 + i % 100).collect();
        assert!(encode(&values).len() <= 6 + 1024 * 7 / 8);
        assert_eq!(decode(&encode(&[i64::MIN, i64::MAX, 0])).unwrap(), [i64::MIN, i64::MAX, 0]);
    }
}
