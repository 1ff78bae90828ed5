//! Dictionary encoding for low-cardinality strings: the distinct values once, sorted,
//! and a small integer code per row. Query kernels filter and group on the codes and
//! touch the strings only to print results; sorted order means a range of strings is
//! a range of codes.

use std::collections::BTreeSet;

use super::{block, ints, put_varint, Cursor, DecodeError, MAX_VALUES};

/// The code of SQL NULL; code `k > 0` means `dict[k - 1]`.
pub const NULL_CODE: u32 = 0;

/// A decoded string column: sorted distinct values and one code per row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DictColumn {
    pub dict: Vec<String>,
    pub codes: Vec<u32>,
}

impl DictColumn {
    /// Builds the sorted dictionary and the codes of `values`.
    pub fn from_values(values: &[Option<&str>]) -> Self {
        let distinct: BTreeSet<&str> = values.iter().copied().flatten().collect();
        let dict: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
        let codes = values
            .iter()
            .map(|v| match *v {
                None => NULL_CODE,
                Some(s) => dict
                    .binary_search_by(|d| d.as_str().cmp(s))
                    .map_or(NULL_CODE, |i| i as u32 + 1),
            })
            .collect();
        Self { dict, codes }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The string a code stands for; `None` for [`NULL_CODE`] or an unknown code.
    pub fn resolve(&self, code: u32) -> Option<&str> {
        let index = code.checked_sub(1)?;
        self.dict.get(index as usize).map(String::as_str)
    }

    /// The value of `row`, `None` for NULL or a row past the end.
    pub fn get(&self, row: usize) -> Option<&str> {
        self.codes.get(row).and_then(|&c| self.resolve(c))
    }

    /// The code of `value`, so a filter `col = 'x'` becomes an integer compare.
    pub fn code_of(&self, value: &str) -> Option<u32> {
        self.dict
            .binary_search_by(|d| d.as_str().cmp(value))
            .ok()
            .map(|i| i as u32 + 1)
    }
}

/// Most bytes a decoded dictionary may expand to. Front coding lets a small input
/// describe long strings, so the decoder caps the total; 64 MiB is far above any
/// real segment's distinct strings (URLs are bounded by the gateway).
const MAX_DICTIONARY_BYTES: usize = 1 << 26;

/// Writes `[block(dictionary)][integer block(codes)]`.
///
/// The dictionary is front-coded: sorted strings share long prefixes (`/blog/…`,
/// `https://www.…`), so each stores only the byte count it shares with the previous
/// one and its suffix: `[varint count][varint shared…][varint suffix length…][suffixes]`,
/// number streams first so zstd sees the text back to back.
pub fn encode_into(column: &DictColumn, out: &mut Vec<u8>) {
    let mut shared = Vec::with_capacity(column.dict.len());
    let mut previous: &[u8] = &[];
    for s in &column.dict {
        let common = previous
            .iter()
            .zip(s.as_bytes())
            .take_while(|(a, b)| a == b)
            .count();
        shared.push(common);
        previous = s.as_bytes();
    }
    let mut dictionary = Vec::new();
    put_varint(&mut dictionary, column.dict.len() as u64);
    for &common in &shared {
        put_varint(&mut dictionary, common as u64);
    }
    for (s, &common) in column.dict.iter().zip(&shared) {
        put_varint(&mut dictionary, (s.len() - common) as u64);
    }
    for (s, &common) in column.dict.iter().zip(&shared) {
        dictionary.extend_from_slice(&s.as_bytes()[common..]);
    }
    block::compress_into(&dictionary, out);
    let codes: Vec<i64> = column.codes.iter().map(|&c| i64::from(c)).collect();
    ints::encode_into(&codes, out);
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<DictColumn, DecodeError> {
    let dictionary = block::decompress_from(cur)?;
    let dict = decode_dictionary(&dictionary)?;
    let codes = ints::decode_from(cur)?
        .into_iter()
        .map(|c| match u32::try_from(c) {
            Ok(code) if code as usize <= dict.len() => Ok(code),
            _ => Err(DecodeError::Invalid("dictionary code")),
        })
        .collect::<Result<Vec<u32>, _>>()?;
    Ok(DictColumn { dict, codes })
}

fn decode_dictionary(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut cur = Cursor::new(bytes);
    // Every string has at least two one-byte varints, which bounds the count by the input.
    let count = cur.count(cur.remaining().min(MAX_VALUES), "dictionary size")?;
    let mut varints = |what| -> Result<Vec<usize>, DecodeError> {
        (0..count)
            .map(|_| cur.count(MAX_DICTIONARY_BYTES, what))
            .collect()
    };
    let shared = varints("shared prefix length")?;
    let suffixes = varints("suffix length")?;
    let mut dict = Vec::with_capacity(count);
    let mut previous: Vec<u8> = Vec::new();
    let mut total = 0usize;
    for (common, len) in shared.into_iter().zip(suffixes) {
        let prefix = previous
            .get(..common)
            .ok_or(DecodeError::Invalid("shared prefix length"))?;
        total = total.saturating_add(common + len);
        if total > MAX_DICTIONARY_BYTES {
            return Err(DecodeError::TooLarge {
                what: "dictionary bytes",
                value: total as u64,
                limit: MAX_DICTIONARY_BYTES as u64,
            });
        }
        let mut value = prefix.to_vec();
        value.extend_from_slice(cur.take(len, "dictionary suffix")?);
        let s =
            String::from_utf8(value).map_err(|_| DecodeError::Invalid("UTF-8 in dictionary"))?;
        previous = s.as_bytes().to_vec();
        dict.push(s);
    }
    cur.finish()?;
    Ok(dict)
}

pub fn encode(column: &DictColumn) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(column, &mut out);
    out
}

pub fn decode(bytes: &[u8]) -> Result<DictColumn, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let column = decode_from(&mut cur)?;
    cur.finish()?;
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings() -> impl Strategy<Value = Vec<Option<String>>> {
        let value = prop_oneof![
            Just(None),
            Just(Some(String::new())),
            "[a-c]{0,3}".prop_map(Some),
            any::<String>().prop_map(Some),
        ];
        proptest::collection::vec(value, 0..200)
    }

    proptest! {
        #[test]
        fn round_trips(values in strings()) {
            let column = DictColumn::from_values(&values.iter().map(Option::as_deref).collect::<Vec<_>>());
            let decoded = decode(&encode(&column)).unwrap();
            let back: Vec<Option<String>> =
                (0..decoded.len()).map(|r| decoded.get(r).map(str::to_owned)).collect();
            prop_assert_eq!(back, values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn codes_follow_sorted_order_and_null_is_zero() {
        let column = DictColumn::from_values(&[Some("b"), None, Some("a"), Some("b")]);
        assert_eq!(column.dict, ["a", "b"]);
        assert_eq!(column.codes, [2, NULL_CODE, 1, 2]);
        assert_eq!(column.code_of("b"), Some(2));
        assert_eq!(column.code_of("c"), None);
    }

    #[test]
    fn front_coding_shares_prefixes() {
        let paths: Vec<String> = (0..100)
            .map(|i| format!("/blog/some-long-post-title-{i}"))
            .collect();
        let values: Vec<Option<&str>> = paths.iter().map(|p| Some(p.as_str())).collect();
        let bytes = encode(&DictColumn::from_values(&values));
        assert!(
            bytes.len() < paths.iter().map(String::len).sum::<usize>() / 4,
            "{}",
            bytes.len()
        );
    }

    #[test]
    fn bad_prefix_lengths_are_rejected() {
        let mut bytes = Vec::new();
        block::compress_into(&[1, 3, 1, b'x'], &mut bytes);
        ints::encode_into(&[1], &mut bytes);
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::Invalid("shared prefix length"))
        );
    }

    #[test]
    fn out_of_range_codes_are_rejected() {
        let mut bytes = Vec::new();
        block::compress_into(&[1, 0, 1, b'x'], &mut bytes);
        ints::encode_into(&[0, 1, 2], &mut bytes);
        assert_eq!(decode(&bytes), Err(DecodeError::Invalid("dictionary code")));
    }
}
