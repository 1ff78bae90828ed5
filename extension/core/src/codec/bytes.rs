//! Bounds-checked reading of encoded bytes, and LEB128 varints.

use super::DecodeError;

/// A LEB128 varint of a u64 is at most ten bytes (7 payload bits each).
const MAX_VARINT_LEN: usize = 10;

/// Appends `value` as an unsigned LEB128 varint: small counts and lengths, which
/// dominate headers, take one byte.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Maps signed to unsigned so small magnitudes of either sign stay small
/// (0, -1, 1, -2 → 0, 1, 2, 3): deltas and bases go through varints and bit-packing,
/// which only shrink small unsigned numbers.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A read position in untrusted bytes. Every accessor checks bounds and reports what
/// it was reading, so a decoder is a straight sequence of `?`s.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was read: a
    /// standalone encoding with extra bytes is not what the encoder wrote.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let (&first, rest) = self.buf.split_first().ok_or(DecodeError::Truncated(what))?;
        self.buf = rest;
        Ok(first)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if i == MAX_VARINT_LEN - 1 && bits > 1 {
                return Err(DecodeError::Invalid(what));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Invalid(what))
    }

    /// A zigzag varint, the signed counterpart of [`Cursor::varint`].
    pub fn varint_i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.varint(what).map(unzigzag)
    }

    /// A varint count that must not exceed `limit`, as a usize.
    pub fn count(&mut self, limit: usize, what: &'static str) -> Result<usize, DecodeError> {
        let value = self.varint(what)?;
        if value > limit as u64 {
            return Err(DecodeError::TooLarge { what, value, limit: limit as u64 });
        }
        Ok(value as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trips(v: u64) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut cur = Cursor::new(&out);
            prop_assert_eq!(cur.varint("v").unwrap(), v);
            prop_assert!(cur.finish().is_ok());
        }
    }

    proptest! {
        #[test]
        fn zigzag_round_trips(v: i64) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn zigzag_keeps_small_values_small() {
        assert_eq!([0, -1, 1, -2].map(zigzag), [0, 1, 2, 3]);
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let bytes = [0xffu8; 11];
        assert!(Cursor::new(&bytes).varint("v").is_err());
        let mut ten = [0xffu8; 10];
        ten[9] = 0x02;
        assert!(Cursor::new(&ten).varint("v").is_err());
    }

    #[test]
    fn take_past_end_is_truncated() {
        let mut cur = Cursor::new(&[1, 2]);
        assert_eq!(cur.take(3, "x"), Err(DecodeError::Truncated("x")));
        assert_eq!(cur.take(2, "x").unwrap(), &[1, 2]);
    }
}
