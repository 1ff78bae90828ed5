//! Delta coding: each value stored as its zigzagged difference from the previous one
//! (sorted ids, counters), and delta-of-delta for timestamps at a steady cadence,
//! where the difference of differences is near zero. Arithmetic wraps, so extreme
//! values round-trip instead of overflowing.

use super::{bitpack, put_varint, unzigzag, zigzag, Cursor, DecodeError, MAX_VALUES};

/// Writes `[varint n][zigzag varint first][u8 width][packed zigzag deltas]`.
pub fn encode_into(values: &[i64], byte_aligned: bool, out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        return;
    };
    put_varint(out, zigzag(first));
    let deltas: Vec<u64> = values.windows(2).map(|w| zigzag(w[1].wrapping_sub(w[0]))).collect();
    pack(&deltas, byte_aligned, out);
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
    let n = cur.count(MAX_VALUES, "value count")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let first = cur.varint_i64("first value")?;
    // Prefix-sum in place over [first, deltas...]: one allocation, one pass.
    let mut out = Vec::with_capacity(n);
    out.push(first);
    out.extend(unpack(cur, n - 1)?.into_iter().map(unzigzag));
    let mut value = 0i64;
    for slot in &mut out {
        value = value.wrapping_add(*slot);
        *slot = value;
    }
    Ok(out)
}

/// Writes `[varint n][zigzag first][zigzag first delta][u8 width][packed zigzag
/// delta-of-deltas]`; the first delta is absent below two values.
pub fn encode_dod_into(values: &[i64], byte_aligned: bool, out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        return;
    };
    put_varint(out, zigzag(first));
    let deltas: Vec<i64> = values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let Some(&first_delta) = deltas.first() else {
        return;
    };
    put_varint(out, zigzag(first_delta));
    let dods: Vec<u64> = deltas.windows(2).map(|w| zigzag(w[1].wrapping_sub(w[0]))).collect();
    pack(&dods, byte_aligned, out);
}

pub fn decode_dod_from(cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
    let n = cur.count(MAX_VALUES, "value count")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut value = cur.varint_i64("first value")?;
    let mut out = Vec::with_capacity(n);
    out.push(value);
    if n == 1 {
        return Ok(out);
    }
    let mut delta = cur.varint_i64("first delta")?;
    value = value.wrapping_add(delta);
    out.push(value);
    for dod in unpack(cur, n - 2)? {
        delta = delta.wrapping_add(unzigzag(dod));
        value = value.wrapping_add(delta);
        out.push(value);
    }
    Ok(out)
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

pub fn encode_dod(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_dod_into(values, false, &mut out);
    out
}

pub fn decode_dod(bytes: &[u8]) -> Result<Vec<i64>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let values = decode_dod_from(&mut cur)?;
    cur.finish()?;
    Ok(values)
}

fn pack(values: &[u64], byte_aligned: bool, out: &mut Vec<u8>) {
    let width = bitpack::width_for(values, byte_aligned);
    out.push(width);
    bitpack::pack_u64_into(values, width, out);
}

fn unpack(cur: &mut Cursor<'_>, n: usize) -> Result<Vec<u64>, DecodeError> {
    let width = cur.u8("bit width")?;
    bitpack::unpack_u64(cur, n, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delta_round_trips(values: Vec<i64>, aligned: bool) {
            let mut bytes = Vec::new();
            encode_into(&values, aligned, &mut bytes);
            prop_assert_eq!(decode(&bytes).unwrap(), values);
        }

        #[test]
        fn dod_round_trips(values: Vec<i64>, aligned: bool) {
            let mut bytes = Vec::new();
            encode_dod_into(&values, aligned, &mut bytes);
            prop_assert_eq!(decode_dod(&bytes).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
            let _ = decode_dod(&bytes);
        }
    }

    #[test]
    fn steady_timestamps_cost_almost_nothing() {
        let ts: Vec<i64> = (0..10_000).map(|i| 1_700_000_000_000_000 + i * 1_000_000).collect();
        assert!(encode_dod(&ts).len() < 20, "{}", encode_dod(&ts).len());
        // Plain deltas are all 1e6: 21 bits each, still far below the 8 bytes raw.
        assert!(encode(&ts).len() < 10_000 * 21 / 8 + 20);
    }

    #[test]
    fn extremes_wrap_without_overflow() {
        let values = [i64::MAX, i64::MIN, i64::MAX, 0, i64::MIN];
        assert_eq!(decode(&encode(&values)).unwrap(), values);
        assert_eq!(decode_dod(&encode_dod(&values)).unwrap(), values);
    }
}
