//! Block compression: a byte string stored raw or zstd-compressed, whichever is
//! smaller. It is the last stage of every cascade, catching redundancy the typed
//! codecs cannot see (shared URL prefixes in a dictionary, skewed byte-aligned codes).

use std::borrow::Cow;
use std::cell::RefCell;

use zstd::bulk::{Compressor, Decompressor};

use super::{put_varint, Cursor, DecodeError};

/// zstd level for compaction output. Compaction must keep up with ingest on one core,
/// and the blocks zstd sees are small, byte-aligned integer planes and front-coded
/// dictionaries where a higher level finds almost nothing more (measured on datagen
/// site × day segments; see BENCH_NOTES.md): level 9 cost 3–4x the CPU of the whole
/// build for a fraction of a percent. Decompression speed does not depend on the level.
const ZSTD_LEVEL: i32 = 3;

/// Largest decompressed/compressed ratio a decoder accepts, and so the encoder keeps
/// raw anything that compresses better. It bounds what a forged length makes the
/// decoder allocate by the input size; the typed codecs remove the long runs that
/// could legitimately exceed it before zstd sees them.
const MAX_RATIO: usize = 1024;

/// Slack on [`MAX_RATIO`] so tiny blocks (a few bytes of zstd frame) are not refused.
const RATIO_SLACK: usize = 4096;

const MODE_RAW: u8 = 0;
const MODE_ZSTD: u8 = 1;

/// A compression context and output buffer per thread: creating a zstd context (and
/// sizing its tables) per block cost more than compressing the small blocks themselves.
struct Scratch {
    compressor: Compressor<'static>,
    frame: Vec<u8>,
}

thread_local! {
    static COMPRESS: RefCell<Option<Scratch>> = const { RefCell::new(None) };
    static DECOMPRESS: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Writes `[0][varint len][bytes]` or `[1][varint raw len][varint zstd len][frame]`.
pub fn compress_into(raw: &[u8], out: &mut Vec<u8>) {
    let stored = with_zstd_if_smaller(raw, |compressed| {
        out.push(MODE_ZSTD);
        put_varint(out, raw.len() as u64);
        put_varint(out, compressed.len() as u64);
        out.extend_from_slice(compressed);
    });
    if !stored {
        out.push(MODE_RAW);
        put_varint(out, raw.len() as u64);
        out.extend_from_slice(raw);
    }
}

/// Reads what [`compress_into`] wrote, borrowing when it was stored raw.
pub fn decompress_from<'a>(cur: &mut Cursor<'a>) -> Result<Cow<'a, [u8]>, DecodeError> {
    match cur.u8("block mode")? {
        MODE_RAW => {
            let len = cur.count(cur.remaining(), "raw block length")?;
            Ok(Cow::Borrowed(cur.take(len, "raw block")?))
        }
        MODE_ZSTD => {
            let raw_len = cur.count(usize::MAX, "decompressed length")?;
            let len = cur.count(cur.remaining(), "zstd block length")?;
            let frame = cur.take(len, "zstd block")?;
            let limit = ratio_limit(frame.len());
            if raw_len > limit {
                return Err(DecodeError::TooLarge { what: "decompressed length", value: raw_len as u64, limit: limit as u64 });
            }
            let raw = decompress_frame(frame, raw_len)?;
            if raw.len() != raw_len {
                return Err(DecodeError::Invalid("decompressed length"));
            }
            Ok(Cow::Owned(raw))
        }
        _ => Err(DecodeError::Invalid("block mode")),
    }
}

pub fn compress(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress_into(raw, &mut out);
    out
}

pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let raw = decompress_from(&mut cur)?.into_owned();
    cur.finish()?;
    Ok(raw)
}

fn ratio_limit(compressed_len: usize) -> usize {
    compressed_len.saturating_mul(MAX_RATIO).saturating_add(RATIO_SLACK)
}

/// Compresses `raw` with the thread's context and hands the frame to `store` if it is
/// worth keeping; returns whether it was.
fn with_zstd_if_smaller(raw: &[u8], store: impl FnOnce(&[u8])) -> bool {
    COMPRESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let Ok(compressor) = Compressor::new(ZSTD_LEVEL) else {
                return false;
            };
            *slot = Some(Scratch { compressor, frame: Vec::new() });
        }
        let Some(Scratch { compressor, frame }) = slot.as_mut() else {
            return false;
        };
        frame.clear();
        frame.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        if compressor.compress_to_buffer(raw, frame).is_err() {
            return false;
        }
        // A varint of the compressed length is the extra header field zstd mode carries.
        let header = 10;
        let keep = frame.len() + header < raw.len() && raw.len() <= ratio_limit(frame.len());
        if keep {
            store(frame);
        }
        keep
    })
}

/// Decompresses one frame of `raw_len` bytes with the thread's context.
fn decompress_frame(frame: &[u8], raw_len: usize) -> Result<Vec<u8>, DecodeError> {
    let zstd_error = |e: std::io::Error| DecodeError::Zstd(e.to_string());
    DECOMPRESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Decompressor::new().map_err(zstd_error)?);
        }
        match slot.as_mut() {
            Some(decompressor) => decompressor.decompress(frame, raw_len).map_err(zstd_error),
            None => Err(DecodeError::Invalid("zstd context")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(raw: Vec<u8>, repeat in 1usize..50) {
            let raw = raw.repeat(repeat);
            prop_assert_eq!(decompress(&compress(&raw)).unwrap(), raw);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decompress(&bytes);
        }
    }

    #[test]
    fn compressible_input_shrinks_and_noise_stays_raw() {
        let text = b"/blog/posts/2024/".repeat(200);
        assert!(compress(&text).len() < text.len() / 10);
        let noise: Vec<u8> = (0..255u8).collect();
        assert_eq!(compress(&noise)[0], MODE_RAW);
    }

    #[test]
    fn zstd_bombs_are_refused() {
        let zeros = vec![0u8; 1 << 22];
        let frame = zstd::bulk::compress(&zeros, 3).unwrap();
        let mut bytes = vec![MODE_ZSTD];
        put_varint(&mut bytes, zeros.len() as u64);
        put_varint(&mut bytes, frame.len() as u64);
        bytes.extend_from_slice(&frame);
        assert!(matches!(decompress(&bytes), Err(DecodeError::TooLarge { .. })));
    }
}
