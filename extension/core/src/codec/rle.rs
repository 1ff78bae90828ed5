//! Run-length encoding: a sequence as (value, length) pairs. Sorted by visitor and
//! session, a segment's per-visit columns (referrer, UTM tags, country, browser) repeat
//! for every event of a visit, so each run of several events costs one value.

use super::{bitpack, frame, put_varint, Cursor, DecodeError, MAX_VALUES};

/// Splits `values` into runs of equal values: the run values and their lengths.
pub fn runs<T: PartialEq + Copy>(values: &[T]) -> (Vec<T>, Vec<u32>) {
    let mut run_values = Vec::new();
    let mut lengths: Vec<u32> = Vec::new();
    for &v in values {
        match (run_values.last(), lengths.last_mut()) {
            (Some(last), Some(len)) if *last == v && *len < u32::MAX => *len += 1,
            _ => {
                run_values.push(v);
                lengths.push(1);
            }
        }
    }
    (run_values, lengths)
}

/// Runs up to this long are written as one fixed-size fill (then partly overwritten by
/// the next run): per-visit columns have runs of a few rows, where a loop per run
/// costs more than the copies.
const SHORT_RUN: usize = 8;

/// Repeats each value by its length. Errors if the counts differ or the total exceeds
/// [`MAX_VALUES`], so a corrupt length cannot make it allocate without bound.
pub fn expand<T: Copy + Default + PartialEq>(values: &[T], lengths: &[u32]) -> Result<Vec<T>, DecodeError> {
    if values.len() != lengths.len() {
        return Err(DecodeError::Invalid("run count"));
    }
    let total = total_len(lengths)?;
    // One value for every run (a segment's site, hostname or currency): one fill.
    if let Some(&first) = values.first() {
        if values.iter().all(|&v| v == first) {
            return Ok(vec![first; total]);
        }
    }
    let mut out = vec![T::default(); total + SHORT_RUN];
    let mut at = 0usize;
    for (&v, &len) in values.iter().zip(lengths) {
        let len = len as usize;
        let end = at + len.max(SHORT_RUN);
        out[at..end].fill(v);
        at += len;
    }
    out.truncate(total);
    Ok(out)
}

/// Sum of run lengths, refused above [`MAX_VALUES`].
pub fn total_len(lengths: &[u32]) -> Result<usize, DecodeError> {
    let total: u64 = lengths.iter().map(|&l| u64::from(l)).sum();
    if total > MAX_VALUES as u64 {
        return Err(DecodeError::TooLarge { what: "run total", value: total, limit: MAX_VALUES as u64 });
    }
    Ok(total as usize)
}

/// Writes `[varint runs][frame-of-reference run values][u8 width][packed length-1]`.
pub fn encode_into(values: &[i64], byte_aligned: bool, out: &mut Vec<u8>) {
    let (run_values, lengths) = runs(values);
    put_varint(out, lengths.len() as u64);
    frame::encode_into(&run_values, byte_aligned, out);
    let minus_one: Vec<u64> = lengths.iter().map(|&l| u64::from(l - 1)).collect();
    let width = bitpack::width_for(&minus_one, byte_aligned);
    out.push(width);
    bitpack::pack_u64_into(&minus_one, width, out);
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<Vec<i64>, DecodeError> {
    let n_runs = cur.count(MAX_VALUES, "run count")?;
    let run_values = frame::decode_from(cur)?;
    let width = cur.u8("bit width")?;
    if width > 32 {
        return Err(DecodeError::Invalid("run length width"));
    }
    let lengths = bitpack::unpack_u32(cur, n_runs, width)?
        .into_iter()
        .map(|l| l.checked_add(1).ok_or(DecodeError::Invalid("run length")))
        .collect::<Result<Vec<u32>, _>>()?;
    expand(&run_values, &lengths)
}

pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(values, false, &mut out);
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

    proptest! {
        #[test]
        fn round_trips(values in proptest::collection::vec(prop_oneof![Just(i64::MIN), Just(0i64), Just(7), any::<i64>()], 0..300), aligned: bool) {
            let mut bytes = Vec::new();
            encode_into(&values, aligned, &mut bytes);
            prop_assert_eq!(decode(&bytes).unwrap(), values);
        }

        #[test]
        fn runs_then_expand_is_identity(runs_of in proptest::collection::vec((0u8..3, 1usize..20), 0..60)) {
            // Runs shorter and longer than SHORT_RUN, adjacent equal values merging.
            let values: Vec<u8> = runs_of.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
            let (v, l) = runs(&values);
            prop_assert_eq!(expand(&v, &l).unwrap(), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn long_runs_are_tiny() {
        let values: Vec<i64> = (0..100_000).map(|i| i / 10_000).collect();
        assert!(encode(&values).len() < 40);
    }

    #[test]
    fn oversized_totals_are_refused() {
        assert!(matches!(expand(&[1u8, 2], &[u32::MAX, u32::MAX]), Err(DecodeError::TooLarge { .. })));
        assert!(expand(&[1u8], &[1, 2]).is_err());
    }
}
