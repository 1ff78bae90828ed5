//! Storage bytes of a DDSketch:
//!
//! ```text
//! u8      version (2; 1 is still read)
//! f64 LE  relative accuracy (must be RELATIVE_ACCURACY)
//! varint  zero count
//! store   positive, then negative:
//!           version 2: varint number of non-empty buckets, then per bucket a zigzag
//!                      varint index (the first absolute, then the gap to the previous
//!                      one) and a varint count
//!           version 1: zigzag varint offset, varint length, every bucket's count
//! f64 LE  min, f64 LE max            (only when the sketch is not empty)
//! ```
//!
//! Version 2 stores only the non-empty buckets: a rollup row's sketch of a few visit
//! durations spread from seconds to minutes spans hundreds of (1%-wide) buckets, which
//! version 1 wrote one byte each, half of every rollup row's bytes.

use super::store::{Store, MAX_BUCKETS};
use super::{DDSketch, RELATIVE_ACCURACY};
use crate::codec::{put_varint, zigzag, Cursor, DecodeError};

const VERSION: u8 = 2;
/// The dense store encoding, read so that sketches stored before version 2 still load.
const VERSION_DENSE: u8 = 1;

/// Why bytes are not a DDSketch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DDSketchError {
    #[error("ddsketch bytes are malformed: {0}")]
    Decode(#[from] DecodeError),
    #[error("unknown ddsketch version {0}; versions 1 and 2 exist")]
    Version(u8),
    #[error("ddsketch was built with relative accuracy {0}; this build reads only {RELATIVE_ACCURACY}")]
    Accuracy(f64),
    #[error("ddsketch holds more values than a 64-bit count")]
    Overflow,
    #[error("ddsketch minimum {min} and maximum {max} do not fit its buckets")]
    Bounds { min: f64, max: f64 },
}

pub fn encode(s: &DDSketch) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend(RELATIVE_ACCURACY.to_le_bytes());
    put_varint(&mut out, s.zeros);
    for store in [&s.positive, &s.negative] {
        put_varint(&mut out, store.buckets().count() as u64);
        let mut previous = 0;
        for (index, count) in store.buckets() {
            put_varint(&mut out, zigzag(i64::from(index) - previous));
            put_varint(&mut out, count);
            previous = i64::from(index);
        }
    }
    if s.count() > 0 {
        out.extend(s.min.to_le_bytes());
        out.extend(s.max.to_le_bytes());
    }
    out
}

fn f64_at(c: &mut Cursor, what: &'static str) -> Result<f64, DecodeError> {
    let bytes = c.take(8, what)?;
    Ok(f64::from_le_bytes(bytes.try_into().map_err(|_| DecodeError::Truncated(what))?))
}

/// A version 2 store: the non-empty buckets, in increasing index order, spread back
/// over a dense store of at most MAX_BUCKETS buckets (checked before it is allocated).
fn sparse_store_at(c: &mut Cursor) -> Result<Store, DecodeError> {
    let n = c.count(MAX_BUCKETS, "bucket count")?;
    let mut buckets: Vec<(i64, u64)> = Vec::with_capacity(n);
    for i in 0..n {
        let step = c.varint_i64("bucket index")?;
        let index = match buckets.last() {
            None => step,
            Some(_) if step <= 0 => return Err(DecodeError::Invalid("bucket index")),
            Some(&(previous, _)) => previous.checked_add(step).ok_or(DecodeError::Invalid("bucket index"))?,
        };
        let count = c.varint("bucket")?;
        if count == 0 || (i > 0 && index - buckets[0].0 >= MAX_BUCKETS as i64) {
            return Err(DecodeError::Invalid("bucket"));
        }
        buckets.push((index, count));
    }
    let Some(&(lo, _)) = buckets.first() else {
        return Ok(Store::from_parts(0, Vec::new()));
    };
    let hi = buckets.last().map_or(lo, |&(hi, _)| hi);
    let offset = i32::try_from(lo).map_err(|_| DecodeError::Invalid("bucket index"))?;
    i32::try_from(hi).map_err(|_| DecodeError::Invalid("bucket index"))?;
    let mut counts = vec![0; (hi - lo + 1) as usize];
    for (index, count) in buckets {
        counts[(index - lo) as usize] = count;
    }
    Ok(Store::from_parts(offset, counts))
}

/// A version 1 store: every bucket from the offset.
fn dense_store_at(c: &mut Cursor) -> Result<Store, DecodeError> {
    let offset = c.varint_i64("bucket offset")?;
    let offset = i32::try_from(offset).map_err(|_| DecodeError::Invalid("bucket offset"))?;
    let len = c.count(MAX_BUCKETS, "bucket count")?;
    if i64::from(offset) + len as i64 > i64::from(i32::MAX) {
        return Err(DecodeError::Invalid("bucket offset"));
    }
    let counts = (0..len).map(|_| c.varint("bucket")).collect::<Result<Vec<_>, _>>()?;
    Ok(Store::from_parts(offset, counts))
}

pub fn decode(bytes: &[u8]) -> Result<DDSketch, DDSketchError> {
    let mut c = Cursor::new(bytes);
    let version = c.u8("version")?;
    let store_at = match version {
        VERSION => sparse_store_at,
        VERSION_DENSE => dense_store_at,
        _ => return Err(DDSketchError::Version(version)),
    };
    let accuracy = f64_at(&mut c, "relative accuracy")?;
    if accuracy != RELATIVE_ACCURACY {
        return Err(DDSketchError::Accuracy(accuracy));
    }
    let zeros = c.varint("zero count")?;
    let positive = store_at(&mut c)?;
    let negative = store_at(&mut c)?;
    let total = [positive.checked_total(), negative.checked_total(), Some(zeros)]
        .into_iter()
        .try_fold(0u64, |acc, t| t.and_then(|t| acc.checked_add(t)))
        .ok_or(DDSketchError::Overflow)?;
    let mut sketch = DDSketch { positive, negative, zeros, ..DDSketch::default() };
    if total > 0 {
        sketch.min = f64_at(&mut c, "minimum")?;
        sketch.max = f64_at(&mut c, "maximum")?;
        if !(sketch.min.is_finite() && sketch.max.is_finite() && sketch.min <= sketch.max) {
            return Err(DDSketchError::Bounds { min: sketch.min, max: sketch.max });
        }
    }
    c.finish()?;
    Ok(sketch)
}
