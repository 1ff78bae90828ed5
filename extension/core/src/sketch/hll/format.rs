//! postgresql-hll's storage format, schema version 1 (its STORAGE.markdown):
//!
//! ```text
//! byte 0   version << 4 | type      (0 undefined, 1 empty, 2 explicit, 3 sparse, 4 full)
//! byte 1   (regwidth - 1) << 5 | log2m
//! byte 2   sparseon << 6 | expthresh code (63 = auto, 0 = off, n = 2^(n-1))
//! explicit 8-byte big-endian signed hashes, strictly ascending
//! sparse   (log2m + regwidth)-bit chunks `index << regwidth | value` of the non-zero
//!          registers in index order, bit-packed most significant bit first
//! full     every register in regwidth bits, bit-packed the same way
//! ```
//! Registers are written sparse when sparse is on and that takes fewer bits, or, under
//! [`SparseRule::UpTo`], while at most that many registers are filled.

use super::bits::{BitReader, BitWriter};
use super::{Hll, HllError, Params, Repr, MAX_EXPTHRESH};

const VERSION: u8 = 1;
const UNDEFINED: u8 = 0;
const EMPTY: u8 = 1;
const EXPLICIT: u8 = 2;
const SPARSE: u8 = 3;
const FULL: u8 = 4;
const HEADER: usize = 3;

/// When a set of registers (with sparse on) is stored sparse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SparseRule {
    /// Whenever that is smaller than all registers: postgresql-hll's default.
    #[default]
    Smaller,
    /// While at most this many registers are non-zero, whatever the size:
    /// postgresql-hll's `hll_set_max_sparse(n)`.
    UpTo(usize),
}

pub fn encode(hll: &Hll, rule: SparseRule) -> Vec<u8> {
    let p = &hll.params;
    let [b1, b2] = p.header();
    let header = |kind: u8| [(VERSION << 4) | kind, b1, b2];
    match &hll.repr {
        Repr::Undefined => header(UNDEFINED).to_vec(),
        Repr::Empty => header(EMPTY).to_vec(),
        Repr::Explicit(list) => {
            let mut out = Vec::with_capacity(HEADER + 8 * list.len());
            out.extend(header(EXPLICIT));
            for h in list {
                out.extend(h.to_be_bytes());
            }
            out
        }
        Repr::Full(regs) => {
            let width = u32::from(p.regwidth);
            let chunk = u32::from(p.log2m) + width;
            let filled = regs.iter().filter(|&&r| r != 0).count();
            let sparse_bits = filled * chunk as usize;
            let full_bits = regs.len() * width as usize;
            let sparse = match rule {
                SparseRule::Smaller => sparse_bits < full_bits,
                SparseRule::UpTo(n) => filled <= n,
            };
            if p.sparseon && sparse {
                let mut w = BitWriter::with_capacity(HEADER + sparse_bits.div_ceil(8));
                w.push_bytes(&header(SPARSE));
                for (i, &r) in regs.iter().enumerate().filter(|(_, &r)| r != 0) {
                    w.push(((i as u32) << width) | u32::from(r), chunk);
                }
                w.finish()
            } else {
                let mut w = BitWriter::with_capacity(HEADER + full_bits.div_ceil(8));
                w.push_bytes(&header(FULL));
                for &r in regs {
                    w.push(u32::from(r), width);
                }
                w.finish()
            }
        }
    }
}

pub fn decode(bytes: &[u8]) -> Result<Hll, HllError> {
    if bytes.len() < HEADER {
        return Err(HllError::TooShort(bytes.len()));
    }
    let version = bytes[0] >> 4;
    if version != VERSION {
        return Err(HllError::Version(version));
    }
    let kind = bytes[0] & 0xf;
    let params = Params::from_header(bytes[1], bytes[2])?;
    let body = &bytes[HEADER..];
    let size_error = |kind: &'static str, why: &'static str| HllError::Size { kind, len: bytes.len(), why };
    let repr = match kind {
        UNDEFINED | EMPTY if !body.is_empty() => {
            return Err(size_error(if kind == EMPTY { "empty" } else { "undefined" }, "it must be the 3-byte header alone"));
        }
        UNDEFINED => Repr::Undefined,
        EMPTY => Repr::Empty,
        EXPLICIT => {
            if !body.len().is_multiple_of(8) {
                return Err(size_error("explicit", "the elements after the header are not a multiple of 8 bytes"));
            }
            if body.len() / 8 > MAX_EXPTHRESH as usize {
                return Err(size_error("explicit", "it holds more than 16383 elements"));
            }
            let list: Vec<i64> = body.chunks_exact(8).map(|c| i64::from_be_bytes(c.try_into().unwrap_or_default())).collect();
            if let Some(i) = list.windows(2).position(|w| w[0] >= w[1]) {
                return Err(HllError::Unsorted(i + 1));
            }
            Repr::Explicit(list)
        }
        SPARSE => {
            let width = u32::from(params.regwidth);
            let chunk = u32::from(params.log2m) + width;
            let bits = body.len() * 8;
            let filled = bits / chunk as usize;
            if bits - filled * chunk as usize >= 8 {
                return Err(size_error("sparse", "its last register chunk is cut short"));
            }
            let mut regs = vec![0u8; params.registers()];
            let mut reader = BitReader::new(body);
            for _ in 0..filled {
                let c = reader.read(chunk);
                regs[(c >> width) as usize] = (c & ((1 << width) - 1)) as u8;
            }
            Repr::Full(regs)
        }
        FULL => {
            let width = u32::from(params.regwidth);
            if body.len() != (params.registers() * width as usize).div_ceil(8) {
                return Err(size_error("full", "its length does not match 2^log2m registers of regwidth bits"));
            }
            let mut reader = BitReader::new(body);
            Repr::Full((0..params.registers()).map(|_| reader.read(width) as u8).collect())
        }
        other => return Err(HllError::Type(other)),
    };
    Ok(Hll { params, repr })
}
