//! Big-endian bit packing of fixed-width values, most significant bit first, the last
//! byte padded with zero bits: how postgresql-hll lays out full registers and sparse
//! (index, value) chunks.

/// Appends `width`-bit values to a byte buffer, four bytes at a time (a byte at a
/// time made packing the registers of a 30-day page breakdown's sketches 12% of it).
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits of `acc` not yet flushed to `bytes` (always < 32 between calls).
    pending: u32,
    acc: u64,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter { bytes: Vec::with_capacity(bytes), pending: 0, acc: 0 }
    }

    /// Appends the low `width` (at most 32) bits of `value`.
    pub fn push(&mut self, value: u32, width: u32) {
        let mask = (1u64 << width) - 1;
        self.acc = (self.acc << width) | (u64::from(value) & mask);
        self.pending += width;
        if self.pending >= 32 {
            self.pending -= 32;
            self.bytes.extend_from_slice(&((self.acc >> self.pending) as u32).to_be_bytes());
        }
    }

    /// Appends whole bytes; only valid on a byte boundary (before any `push`).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.pending, 0);
        self.bytes.extend_from_slice(bytes);
    }

    /// The packed bytes, the last one padded with zeros.
    pub fn finish(mut self) -> Vec<u8> {
        while self.pending >= 8 {
            self.pending -= 8;
            self.bytes.push((self.acc >> self.pending) as u8);
        }
        if self.pending > 0 {
            self.bytes.push((self.acc << (8 - self.pending)) as u8);
        }
        self.bytes
    }
}

/// Reads `width`-bit values from packed bytes. The caller checks the length first:
/// reading past the end yields zero bits rather than panicking.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    have: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0, acc: 0, have: 0 }
    }

    /// The next `width` (at most 32) bits as an integer. Refills four bytes at a
    /// time: byte by byte, unpacking a full sketch's registers was a tenth of a 30-day
    /// page breakdown from rollups.
    pub fn read(&mut self, width: u32) -> u32 {
        if self.have < width {
            let mut next = [0u8; 4];
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            let n = rest.len().min(4);
            next[..n].copy_from_slice(&rest[..n]);
            self.pos += 4;
            self.acc = (self.acc << 32) | u64::from(u32::from_be_bytes(next));
            self.have += 32;
        }
        self.have -= width;
        ((self.acc >> self.have) & ((1u64 << width) - 1)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packs_most_significant_bit_first() {
        let mut w = BitWriter::with_capacity(2);
        for v in [0b10101, 0b00011, 0b11111] {
            w.push(v, 5);
        }
        // 10101 00011 11111 + one pad bit
        assert_eq!(w.finish(), vec![0b1010_1000, 0b1111_1110]);
    }

    proptest! {
        #[test]
        fn round_trips(width in 1u32..=24, values in proptest::collection::vec(any::<u32>(), 0..200)) {
            let mut w = BitWriter::with_capacity(0);
            for &v in &values { w.push(v, width); }
            let bytes = w.finish();
            prop_assert_eq!(bytes.len(), (values.len() * width as usize).div_ceil(8));
            let mut r = BitReader::new(&bytes);
            for &v in &values { prop_assert_eq!(r.read(width), v & ((1 << width) - 1)); }
        }
    }
}
