//! Column codecs: pure functions from typed values to bytes and back, one concept per
//! module. Every decoder takes untrusted bytes (a segment read from disk, possibly
//! corrupt) and returns [`DecodeError`] instead of panicking; allocations are bounded
//! by the input length or by [`MAX_VALUES`].
//!
//! Each codec has `encode_into`/`decode_from` working on a shared output buffer and
//! [`Cursor`], so codecs nest (a dictionary's codes are an [`ints`] block, RLE run
//! values are a frame-of-reference block), plus `encode`/`decode` for a standalone
//! byte string that must be consumed exactly.

pub mod bitpack;
pub mod block;
mod bytes;
pub mod delta;
pub mod dict;
mod error;
pub mod frame;
pub mod ints;
pub mod props;
pub mod rle;

pub use bytes::{put_varint, unzigzag, zigzag, Cursor};
pub use error::DecodeError;

/// Most values one decoded block may hold. Segments are planned at 64K-1M events
/// (ARCHITECTURE.md), so 4Mi leaves 4x headroom while capping what a hostile header
/// can make a decoder allocate at 32 MiB per 64-bit column.
pub const MAX_VALUES: usize = 1 << 22;
