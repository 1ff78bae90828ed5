//! The adaptive integer block: picks among every integer codec (frame of reference,
//! delta, delta-of-delta, run-length), each either tightly bit-packed or byte-aligned
//! under zstd, the smallest (zstd only where it saves enough to pay for its decoding).
//! One tag byte tells the decoder which. Tight sizes are computed exactly without
//! encoding, and zstd is run only where it can win (see [`encode_into`]), so compaction
//! keeps up with ingest on one core.

use std::fmt;

use super::bitpack::{bits, packed_len};
use super::{block, delta, frame, rle, zigzag, Cursor, DecodeError};

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
    const ALL: [Transform; 4] = [Transform::Frame, Transform::Delta, Transform::DeltaOfDelta, Transform::RunLength];

    fn from_tag(tag: u8) -> Result<Self, DecodeError> {
        Self::ALL.into_iter().find(|t| *t as u8 == tag).ok_or(DecodeError::Invalid("integer block tag"))
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
        write!(f, "{:?}{}", self.transform, if self.zstd { "+zstd" } else { "" })
    }
}

/// Appends the smallest encoding of `values` (ties go to the earlier transform, tight
/// before zstd; zstd must save [`ZSTD_MIN_SAVING_PERCENT`]).
///
/// The tight sizes of all four transforms are computed exactly from one pass of
/// statistics (bit widths, run count), so only the winner is bit-packed. A zstd stage
/// is tried only on the byte-aligned transform whose order-0 byte entropy is lowest,
/// and only when that entropy says it could beat the best tight size: zstd's literal
/// coder cannot go far below it, and the typed transforms already removed the runs
/// its match finder would exploit.
pub fn encode_into(values: &[i64], out: &mut Vec<u8>) {
    let stats = Stats::of(values);
    let (mut best, mut best_len) = (Transform::Frame, usize::MAX);
    for transform in Transform::ALL {
        let len = stats.tight_len(transform);
        if len < best_len {
            (best, best_len) = (transform, len);
        }
    }
    if values.len() >= MIN_VALUES_FOR_ZSTD {
        if let Some(blocked) = smaller_blocked(values, &stats, best_len) {
            out.extend_from_slice(&blocked);
            return;
        }
    }
    out.push(best as u8);
    best.encode_into(values, false, out);
}

/// The best zstd-wrapped encoding if one beats `tight_len` bytes.
fn smaller_blocked(values: &[i64], stats: &Stats, tight_len: usize) -> Option<Vec<u8>> {
    let mut aligned = Vec::new();
    let mut candidate: Option<(f64, Transform)> = None;
    for transform in Transform::ALL {
        // A byte-aligned encoding this much larger than the best tight one would need
        // zstd to beat order-0 entropy by more than it does on these streams.
        if stats.aligned_len(transform) > tight_len.saturating_mul(4) {
            continue;
        }
        aligned.clear();
        transform.encode_into(values, true, &mut aligned);
        let estimate = entropy_bytes(&aligned);
        if candidate.is_none_or(|(e, _)| estimate < e) {
            candidate = Some((estimate, transform));
        }
    }
    let (estimate, transform) = candidate?;
    // Huffman tables and the frame header cost a few dozen bytes on top of the entropy.
    if estimate * ENTROPY_MARGIN >= tight_len as f64 {
        return None;
    }
    aligned.clear();
    transform.encode_into(values, true, &mut aligned);
    let mut blocked = vec![transform as u8 | BLOCKED];
    block::compress_into(&aligned, &mut blocked);
    (blocked.len() * 100 < tight_len * (100 - ZSTD_MIN_SAVING_PERCENT)).then_some(blocked)
}

/// zstd is kept only when it saves at least this share of the tight size: decoding it
/// costs more than unpacking bits, and blocks it shrinks by a few percent (time stamps,
/// page codes) are the ones every query decodes. Measured on datagen day segments:
/// 12.62 -> 13.19 bytes/event, and a third less time for a scan by entry page, up to a
/// tenth less for top pages and goals (benches/RESULTS.md, "zstd only where it saves").
const ZSTD_MIN_SAVING_PERCENT: usize = 15;

/// zstd is tried when the order-0 estimate is below `tight / ENTROPY_MARGIN`: a margin
/// above 1 leaves room for the matches zstd finds beyond order-0 statistics.
const ENTROPY_MARGIN: f64 = 0.85;

/// Order-0 entropy of `bytes`, in bytes: about what zstd's Huffman literals cost.
fn entropy_bytes(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            c * (n / c).log2()
        })
        .sum();
    bits / 8.0
}

/// What the four transforms' sizes depend on, gathered in one pass.
struct Stats {
    n: usize,
    min: i64,
    max: i64,
    first: i64,
    first_delta: i64,
    /// OR of the zigzagged deltas and delta-of-deltas: their packing width.
    delta_bits: u64,
    dod_bits: u64,
    runs: usize,
    longest_run: usize,
}

impl Stats {
    fn of(values: &[i64]) -> Self {
        let first = values.first().copied().unwrap_or(0);
        let mut stats = Stats {
            n: values.len(),
            min: first,
            max: first,
            first,
            first_delta: values.get(1).map_or(0, |v| v.wrapping_sub(first)),
            delta_bits: 0,
            dod_bits: 0,
            runs: usize::from(!values.is_empty()),
            longest_run: 0,
        };
        let (mut previous, mut previous_delta, mut run) = (first, stats.first_delta, 1usize);
        for (i, &v) in values.iter().enumerate().skip(1) {
            let delta = v.wrapping_sub(previous);
            stats.delta_bits |= zigzag(delta);
            if i >= 2 {
                stats.dod_bits |= zigzag(delta.wrapping_sub(previous_delta));
            }
            previous_delta = delta;
            if v == previous {
                run += 1;
            } else {
                stats.longest_run = stats.longest_run.max(run);
                stats.runs += 1;
                run = 1;
            }
            stats.min = stats.min.min(v);
            stats.max = stats.max.max(v);
            previous = v;
        }
        if !values.is_empty() {
            stats.longest_run = stats.longest_run.max(run);
        }
        stats
    }

    /// Bytes of `[tag][transform payload]` bit-packed tightly.
    fn tight_len(&self, transform: Transform) -> usize {
        1 + self.payload_len(transform, |w| w)
    }

    /// Bytes of the transform payload with byte-aligned packing (before zstd).
    fn aligned_len(&self, transform: Transform) -> usize {
        self.payload_len(transform, |w| w.div_ceil(8) * 8)
    }

    /// Mirrors the layouts written by [`frame`], [`delta`] and [`rle`].
    fn payload_len(&self, transform: Transform, width: impl Fn(u8) -> u8) -> usize {
        let n = self.n;
        let range = bits(self.max.wrapping_sub(self.min) as u64);
        let frame_len = |count: usize| varint_len(count as u64) + varint_len(zigzag(self.min)) + 1 + packed_len(count, width(range));
        match transform {
            Transform::Frame => frame_len(n),
            Transform::Delta if n == 0 => varint_len(0),
            Transform::Delta => varint_len(n as u64) + varint_len(zigzag(self.first)) + 1 + packed_len(n - 1, width(bits(self.delta_bits))),
            Transform::DeltaOfDelta => {
                let mut len = varint_len(n as u64);
                if n >= 1 {
                    len += varint_len(zigzag(self.first));
                }
                if n >= 2 {
                    len += varint_len(zigzag(self.first_delta)) + 1 + packed_len(n - 2, width(bits(self.dod_bits)));
                }
                len
            }
            Transform::RunLength => {
                let runs = self.runs;
                let lengths = bits(self.longest_run.saturating_sub(1) as u64);
                // An empty input's frame has base 0, which is what `min` holds then.
                varint_len(runs as u64) + frame_len(runs) + 1 + packed_len(runs, width(lengths))
            }
        }
    }
}

/// Bytes of `value` as a LEB128 varint.
fn varint_len(value: u64) -> usize {
    usize::from(bits(value).max(1)).div_ceil(7)
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
    Ok(Choice { transform: Transform::from_tag(tag & !BLOCKED)?, zstd: tag & BLOCKED != 0 })
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

        #[test]
        fn predicted_sizes_match_encodings(
            values in proptest::collection::vec(prop_oneof![Just(i64::MIN), Just(i64::MAX), 0i64..4, -300i64..300, any::<i64>()], 0..400),
        ) {
            let stats = Stats::of(&values);
            for transform in Transform::ALL {
                let mut tight = vec![transform as u8];
                transform.encode_into(&values, false, &mut tight);
                prop_assert_eq!(stats.tight_len(transform), tight.len(), "{:?}", transform);
                let mut aligned = Vec::new();
                transform.encode_into(&values, true, &mut aligned);
                prop_assert_eq!(stats.aligned_len(transform), aligned.len(), "{:?}", transform);
            }
        }
    }

    #[test]
    fn picks_the_codec_that_fits_the_data() {
        let constant_runs: Vec<i64> = (0..1000).map(|i| i / 100).collect();
        assert_eq!(choice(&constant_runs).transform, Transform::RunLength);
        let cadence: Vec<i64> = (0..1000).map(|i| 1_700_000_000 + 60 * i).collect();
        assert!(matches!(choice(&cadence).transform, Transform::Delta | Transform::DeltaOfDelta));
        assert_eq!(decode(&encode(&cadence)).unwrap(), cadence);
    }

    #[test]
    fn bad_tag_is_an_error() {
        assert_eq!(decode(&[7]), Err(DecodeError::Invalid("integer block tag")));
        assert!(decode(&[]).is_err());
    }
}
