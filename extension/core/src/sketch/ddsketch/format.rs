//! Storage bytes of a DDSketch:
//!
//! ```text
//! u8      version (1)
//! f64 LE  relative accuracy (must be RELATIVE_ACCURACY)
//! varint  zero count
//! store   positive, then negative: zigzag varint offset, varint length, counts
//! f64 LE  min, f64 LE max            (only when the sketch is not empty)
//! ```

use super::store::{Store, MAX_BUCKETS};
use super::{DDSketch, RELATIVE_ACCURACY};
use crate::codec::{put_varint, zigzag, Cursor, DecodeError};

const VERSION: u8 = 1;

/// Why bytes are not a DDSketch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DDSketchError {
    #[error("ddsketch bytes are malformed: {0}")]
    Decode(#[from] DecodeError),
    #[error("unknown ddsketch version {0}; only version 1 exists")]
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
        put_varint(&mut out, zigzag(i64::from(store.offset())));
        put_varint(&mut out, store.counts().len() as u64);
        for &c in store.counts() {
            put_varint(&mut out, c);
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

fn store_at(c: &mut Cursor) -> Result<Store, DecodeError> {
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
    if version != VERSION {
        return Err(DDSketchError::Version(version));
    }
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
