//! The adaptive integer block: encodes a sequence with every integer codec (frame of
//! reference, delta, delta-of-delta, run-length), each both tightly bit-packed and
//! byte-aligned under zstd, and keeps the smallest. One tag byte tells the decoder
//! which. Compaction writes a segment once and queries read it many times, so paying
//! eight trial encodings at write time for the best ratio is the right trade.

use std::fmt;

use super::{block, delta, frame, rle, Cursor, DecodeError};

/// Below this many values a zstd frame's own header (about a dozen bytes) outweighs
/// anything it could save, so the zstd variants are not tried.
const MIN_VALUES_FOR_ZSTD: usize = 32;

/// Tag bit marking a payload wrapped in a [`block`] (zstd or raw).
const BLOCKED: u8 = 0x10;

/// The integer transform of a block, before any zstd stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Frame = 0,
    Delta = 1,
    DeltaOfDelta = 2,
    RunLength = 3,
}

impl Transform {
    const ALL: [Transform; 4] = [
        Transform::Frame,
        Transform::Delta,
        Transform::DeltaOfDelta,
        Transform::RunLength,
    ];

    fn from_tag(tag: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|t| *t as u8 == tag)
            .ok_or(DecodeError::Invalid("integer block tag"))
    }

    fn encode_into(self, values: &[i64], byte_aligned: bool, out: &mut Vec<u8>) {
        match self {
            Transform::Frame => frame::encode_into(values, byte_aligned, out),
            Transform::Delta => delta::encode_into(values, byte_aligned, out),
            Transform::DeltaOfDelta => delta::encode_dod_into(values, byte_aligned, out),
            Transform::RunLength => rle::encode_into(values, byte_aligned, out),
        }
    }

    fn decode_from(self, cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
        match self {
            Transform::Frame => frame::decode_from(cur),
            Transform::Delta => delta::decode_from(cur),
            Transform::DeltaOfDelta => delta::decode_dod_from(cur),
            Transform::RunLength => rle::decode_from(cur),
        }
    }
}

/// Which cascade a block uses; reported by [`describe`] for size analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub transform: Transform,
    pub zstd: bool,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}{}",
            self.transform,
            if self.zstd { "+zstd" } else { "" }
        )
    }
}

/// Appends the smallest encoding of `values`.
pub fn encode_into(values: &[i64], out: &mut Vec<u8>) {
    let mut best: Option<Vec<u8>> = None;
    let mut keep = |candidate: Vec<u8>| {
        if best.as_ref().is_none_or(|b| candidate.len() < b.len()) {
            best = Some(candidate);
        }
    };
    for transform in Transform::ALL {
        let mut tight = vec![transform as u8];
        transform.encode_into(values, false, &mut tight);
        keep(tight);
        if values.len() >= MIN_VALUES_FOR_ZSTD {
            let mut aligned = Vec::new();
            transform.encode_into(values, true, &mut aligned);
            let mut blocked = vec![transform as u8 | BLOCKED];
            block::compress_into(&aligned, &mut blocked);
            keep(blocked);
        }
    }
    if let Some(best) = best {
        out.extend_from_slice(&best);
    }
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
    let tag = cur.u8("integer block tag")?;
    let transform = Transform::from_tag(tag & !BLOCKED)?;
    if tag & BLOCKED == 0 {
        return transform.decode_from(cur);
    }
    let raw = block::decompress_from(cur)?;
    let mut inner = Cursor::new(&raw);
    let values = transform.decode_from(&mut inner)?;
    inner.finish()?;
    Ok(values)
}

/// The cascade an encoded block chose, read from its tag without decoding it.
pub fn describe(bytes: &[u8]) -> Result<Choice, DecodeError> {
    let tag = Cursor::new(bytes).u8("integer block tag")?;
    Ok(Choice {
        transform: Transform::from_tag(tag & !BLOCKED)?,
        zstd: tag & BLOCKED != 0,
    })
}

pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(values, &mut out);
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

    fn choice(values: &[i64]) -> Choice {
        describe(&encode(values)).unwrap()
    }

    proptest! {
        #[test]
        fn round_trips(values: Vec<i64>) {
            prop_assert_eq!(decode(&encode(&values)).unwrap(), values);
        }

        #[test]
        fn round_trips_runs(values in proptest::collection::vec(0i64..4, 0..500)) {
            prop_assert_eq!(decode(&encode(&values)).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn picks_the_codec_that_fits_the_data() {
        let constant_runs: Vec<i64> = (0..1000).map(|i| i / 100).collect();
        assert_eq!(choice(&constant_runs).transform, Transform::RunLength);
        let cadence: Vec<i64> = (0..1000).map(|i| 1_700_000_000 + 60 * i).collect();
        assert!(matches!(
            choice(&cadence).transform,
            Transform::Delta | Transform::DeltaOfDelta
        ));
        assert_eq!(decode(&encode(&cadence)).unwrap(), cadence);
    }

    #[test]
    fn bad_tag_is_an_error() {
        assert_eq!(decode(&[7]), Err(DecodeError::Invalid("integer block tag")));
        assert!(decode(&[]).is_err());
    }
}
