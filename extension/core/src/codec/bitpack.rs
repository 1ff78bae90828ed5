//! Fixed-width bit-packing of unsigned integers: every value takes exactly `width`
//! bits, `width` being that of the largest value.
//!
//! Full blocks of [`BLOCK_LEN`] values use BP128 (the `bitpacking` crate's SIMD
//! `BitPacker4x`), which unpacks billions of values per second; the last partial block
//! is packed LSB-first by scalar code so a 10-row segment does not pay for 128 slots.
//! 64-bit values wider than 32 bits are split into a low and a high 32-bit plane, so
//! both halves still take the SIMD path.

use bitpacking::{BitPacker, BitPacker4x};

use super::{put_varint, Cursor, DecodeError, MAX_VALUES};

/// Values per BP128 block (fixed by `BitPacker4x`: four SSE lanes × 32 values).
pub const BLOCK_LEN: usize = BitPacker4x::BLOCK_LEN;

/// Bits needed to store `v`.
pub fn bits(v: u64) -> u8 {
    (u64::BITS - v.leading_zeros()) as u8
}

/// Bits needed to store every value of `values`.
pub fn width_of(values: &[u64]) -> u8 {
    bits(values.iter().fold(0, |acc, &v| acc | v))
}

/// The packing width for `values`: the tight [`width_of`], or with `byte_aligned`
/// rounded up to whole bytes so a following zstd stage sees byte-aligned symbols it
/// can entropy-code (skewed codes shrink further that way than bit-packed).
pub fn width_for(values: &[u64], byte_aligned: bool) -> u8 {
    let width = width_of(values);
    if byte_aligned {
        width.div_ceil(8) * 8
    } else {
        width
    }
}

/// Bytes [`pack_u64_into`] writes for `n` values of `width` bits.
pub fn packed_len(n: usize, width: u8) -> usize {
    if width > 32 {
        return packed_len(n, 32) + packed_len(n, width - 32);
    }
    let width = usize::from(width);
    let full = n / BLOCK_LEN;
    let tail = n % BLOCK_LEN;
    full * BLOCK_LEN * width / 8 + (tail * width).div_ceil(8)
}

/// Packs `values`, each of which must fit in `width` (≤ 32) bits.
pub fn pack_u32_into(values: &[u32], width: u8, out: &mut Vec<u8>) {
    debug_assert!(width <= 32);
    if width == 0 {
        return;
    }
    let packer = BitPacker4x::new();
    let block_bytes = BLOCK_LEN * usize::from(width) / 8;
    let blocks = values.chunks_exact(BLOCK_LEN);
    let tail = blocks.remainder();
    for block in blocks {
        let start = out.len();
        out.resize(start + block_bytes, 0);
        packer.compress(block, &mut out[start..], width);
    }
    pack_scalar(tail, width, out);
}

/// Unpacks `n` values of `width` bits written by [`pack_u32_into`].
pub fn unpack_u32(cur: &mut Cursor<'_>, n: usize, width: u8) -> Result<Vec<u32>, DecodeError> {
    check_count(n)?;
    if width > 32 {
        return Err(DecodeError::Invalid("bit width of a 32-bit plane"));
    }
    if width == 0 {
        return Ok(vec![0; n]);
    }
    let bytes = cur.take(packed_len(n, width), "bit-packed values")?;
    let mut out = vec![0u32; n];
    let packer = BitPacker4x::new();
    let block_bytes = BLOCK_LEN * usize::from(width) / 8;
    let full = n / BLOCK_LEN;
    let (blocks, tail_bytes) = bytes.split_at(full * block_bytes);
    let mut out_blocks = out.chunks_exact_mut(BLOCK_LEN);
    for (dst, src) in (&mut out_blocks).zip(blocks.chunks_exact(block_bytes)) {
        packer.decompress(src, dst, width);
    }
    unpack_scalar(tail_bytes, out_blocks.into_remainder(), width)?;
    Ok(out)
}

/// Packs `values`, each of which must fit in `width` (≤ 64) bits.
///
/// Each plane is narrowed a block at a time into a stack buffer, so no intermediate
/// `Vec<u32>` is built.
pub fn pack_u64_into(values: &[u64], width: u8, out: &mut Vec<u8>) {
    debug_assert!(width <= 64);
    pack_plane(values, 0, width.min(32), out);
    if width > 32 {
        pack_plane(values, 32, width - 32, out);
    }
}

/// Packs bits `shift..shift + 32` of every value as [`pack_u32_into`] would.
fn pack_plane(values: &[u64], shift: u32, width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let packer = BitPacker4x::new();
    let block_bytes = BLOCK_LEN * usize::from(width) / 8;
    let mut buffer = [0u32; BLOCK_LEN];
    let blocks = values.chunks_exact(BLOCK_LEN);
    let tail = blocks.remainder();
    out.reserve(packed_len(values.len(), width));
    for block in blocks {
        for (slot, &v) in buffer.iter_mut().zip(block) {
            *slot = (v >> shift) as u32;
        }
        let start = out.len();
        out.resize(start + block_bytes, 0);
        packer.compress(&buffer, &mut out[start..], width);
    }
    for (slot, &v) in buffer.iter_mut().zip(tail) {
        *slot = (v >> shift) as u32;
    }
    pack_scalar(&buffer[..tail.len()], width, out);
}

/// Unpacks `n` values of `width` bits written by [`pack_u64_into`]. Planes are
/// unpacked a block at a time into a stack buffer and widened straight into the
/// output, so no intermediate `Vec<u32>` is built.
pub fn unpack_u64(cur: &mut Cursor<'_>, n: usize, width: u8) -> Result<Vec<u64>, DecodeError> {
    check_count(n)?;
    if width > 64 {
        return Err(DecodeError::Invalid("bit width"));
    }
    let (low_width, high_width) = (width.min(32), width.saturating_sub(32));
    let low = cur.take(packed_len(n, low_width), "bit-packed values")?;
    let high = cur.take(packed_len(n, high_width), "bit-packed values")?;
    let mut out = Vec::with_capacity(n);
    for_each_block(low, n, low_width, |block| {
        out.extend(block.iter().map(|&v| u64::from(v)));
    })?;
    if high_width > 0 {
        let mut slots = out.iter_mut();
        for_each_block(high, n, high_width, |block| {
            // The block goes first in the zip so no slot is consumed past its end.
            for (&h, slot) in block.iter().zip(&mut slots) {
                *slot |= u64::from(h) << 32;
            }
        })?;
    }
    Ok(out)
}

/// Unpacks `n` values of `width` (≤ 32) bits from exactly [`packed_len`] bytes,
/// handing them to `f` one block (at most [`BLOCK_LEN`] values) at a time.
fn for_each_block(bytes: &[u8], n: usize, width: u8, mut f: impl FnMut(&[u32])) -> Result<(), DecodeError> {
    let mut buffer = [0u32; BLOCK_LEN];
    let full = n / BLOCK_LEN;
    let tail = n % BLOCK_LEN;
    if width == 0 {
        (0..full).for_each(|_| f(&buffer));
        f(&buffer[..tail]);
        return Ok(());
    }
    let packer = BitPacker4x::new();
    let block_bytes = BLOCK_LEN * usize::from(width) / 8;
    let (blocks, tail_bytes) = bytes.split_at((full * block_bytes).min(bytes.len()));
    for src in blocks.chunks_exact(block_bytes) {
        packer.decompress(src, &mut buffer, width);
        f(&buffer);
    }
    unpack_scalar(tail_bytes, &mut buffer[..tail], width)?;
    f(&buffer[..tail]);
    Ok(())
}

/// Self-describing encoding: `[varint n][u8 width][packed values]`.
pub fn encode_into(values: &[u64], out: &mut Vec<u8>) {
    let width = width_of(values);
    put_varint(out, values.len() as u64);
    out.push(width);
    pack_u64_into(values, width, out);
}

/// Reads what [`encode_into`] wrote.
pub fn decode_from(cur: &mut Cursor<'_>) -> Result<Vec<u64>, DecodeError> {
    let n = cur.count(MAX_VALUES, "value count")?;
    let width = cur.u8("bit width")?;
    unpack_u64(cur, n, width)
}

pub fn encode(values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(values, &mut out);
    out
}

pub fn decode(bytes: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let values = decode_from(&mut cur)?;
    cur.finish()?;
    Ok(values)
}

/// The 32-bit flavour of [`encode`], for columns (codes, lengths) that never need more.
pub fn encode_u32(values: &[u32]) -> Vec<u8> {
    let width = bits(u64::from(values.iter().fold(0, |acc, &v| acc | v)));
    let mut out = Vec::new();
    put_varint(&mut out, values.len() as u64);
    out.push(width);
    pack_u32_into(values, width, &mut out);
    out
}

pub fn decode_u32(bytes: &[u8]) -> Result<Vec<u32>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let n = cur.count(MAX_VALUES, "value count")?;
    let width = cur.u8("bit width")?;
    let values = unpack_u32(&mut cur, n, width)?;
    cur.finish()?;
    Ok(values)
}

fn check_count(n: usize) -> Result<(), DecodeError> {
    if n > MAX_VALUES {
        return Err(DecodeError::TooLarge { what: "value count", value: n as u64, limit: MAX_VALUES as u64 });
    }
    Ok(())
}

/// LSB-first packing of a partial block. `width` ≤ 32 and fewer than 8 bits pending
/// keep the accumulator under 40 bits.
fn pack_scalar(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mask = low_mask(width);
    let mut acc = 0u64;
    let mut pending = 0u32;
    for &v in values {
        acc |= (u64::from(v) & mask) << pending;
        pending += u32::from(width);
        while pending >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            pending -= 8;
        }
    }
    if pending > 0 {
        out.push(acc as u8);
    }
}

fn unpack_scalar(bytes: &[u8], out: &mut [u32], width: u8) -> Result<(), DecodeError> {
    let mask = low_mask(width);
    let mut input = bytes.iter();
    let mut acc = 0u64;
    let mut pending = 0u32;
    for slot in out {
        while pending < u32::from(width) {
            let byte = input.next().ok_or(DecodeError::Truncated("bit-packed tail"))?;
            acc |= u64::from(*byte) << pending;
            pending += 8;
        }
        *slot = (acc & mask) as u32;
        acc >>= width;
        pending -= u32::from(width);
    }
    Ok(())
}

fn low_mask(width: u8) -> u64 {
    (1u64 << width) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masked(values: Vec<u64>, width: u8) -> Vec<u64> {
        let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
        values.into_iter().map(|v| v & mask).collect()
    }

    proptest! {
        #[test]
        fn round_trips_any_width(
            width in 0u8..=64,
            // Up to three BP128 blocks plus a tail, so both paths run.
            values in proptest::collection::vec(any::<u64>(), 0..400),
        ) {
            let values = masked(values, width);
            let bytes = encode(&values);
            prop_assert_eq!(decode(&bytes).unwrap(), values);
        }

        #[test]
        fn u32_round_trips(values in proptest::collection::vec(any::<u32>(), 0..300)) {
            prop_assert_eq!(decode_u32(&encode_u32(&values)).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
            let _ = decode_u32(&bytes);
        }
    }

    #[test]
    fn size_is_width_times_count() {
        let values: Vec<u64> = (0..1000).map(|i| i % 16).collect();
        let bytes = encode(&values);
        assert_eq!(bytes.len(), 2 + 1 + 1000 * 4 / 8);
        assert_eq!(packed_len(1000, 4), 500);
        assert_eq!(packed_len(3, 33), 12 + 1);
    }

    #[test]
    fn truncation_and_bad_widths_are_errors() {
        let bytes = encode(&[1, 2, 3, 1 << 40]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        assert_eq!(decode(&[1, 65]), Err(DecodeError::Invalid("bit width")));
        assert!(decode_u32(&[1, 33, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut bytes = Vec::new();
        put_varint(&mut bytes, u64::MAX);
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(DecodeError::TooLarge { .. })));
    }
}
