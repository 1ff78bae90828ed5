//! Dictionary encoding for low-cardinality strings: the distinct values once, sorted,
//! and a small integer code per row. Query kernels filter and group on the codes and
//! touch the strings only to print results; sorted order means a range of strings is
//! a range of codes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
        let mut builder = DictBuilder::with_capacity(values.len());
        for &value in values {
            builder.push(value);
        }
        builder.finish()
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

    /// The column of `codes`, each `k > 0` standing for `strings[k - 1]` and listed once
    /// in `used`: its dictionary the strings of `used`, sorted, and `codes` remapped to
    /// it in place. What a builder ends with, whatever order it met the strings in.
    pub(crate) fn sorted(strings: &[impl AsRef<str>], mut used: Vec<u32>, mut codes: Vec<u32>) -> Self {
        let string = |code: u32| strings[code as usize - 1].as_ref();
        used.sort_unstable_by(|&a, &b| string(a).cmp(string(b)));
        // remap[code] = sorted code; slot 0 keeps NULL_CODE.
        let mut remap = vec![NULL_CODE; strings.len() + 1];
        for (rank, &code) in used.iter().enumerate() {
            remap[code as usize] = rank as u32 + 1;
        }
        for code in &mut codes {
            *code = remap[*code as usize];
        }
        DictColumn { dict: used.iter().map(|&code| string(code).to_owned()).collect(), codes }
    }

    /// The code of `value`, so a filter `col = 'x'` becomes an integer compare.
    pub fn code_of(&self, value: &str) -> Option<u32> {
        self.dict.binary_search_by(|d| d.as_str().cmp(value)).ok().map(|i| i as u32 + 1)
    }
}

/// String equality without a libc `memcmp` call for the short strings (codes, names,
/// paths) that make up most columns: the call overhead dominated building segments.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.as_ptr() == b.as_ptr() {
        return true;
    }
    let mut x = a.chunks_exact(8);
    let mut y = b.chunks_exact(8);
    for (p, q) in (&mut x).zip(&mut y) {
        if word(p) != word(q) {
            return false;
        }
    }
    word(x.remainder()) == word(y.remainder())
}

/// Up to 8 bytes as a zero-padded integer (slice `==` would call `memcmp`).
#[inline]
fn word(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// A dictionary key hashed with [`FxHasher`] and compared with [`same`].
#[derive(Clone, Copy)]
struct Key<'a>(&'a str);

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        same(self.0, other.0)
    }
}

impl Eq for Key<'_> {}

impl std::hash::Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

/// FxHash (rustc's hasher): a multiply and rotate per 8 bytes. Dictionary keys come
/// from one segment's own rows, so HashDoS resistance buys nothing here.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        self.add(word(rest) ^ (rest.len() as u64) << 59);
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds a [`DictColumn`] one value at a time, so a caller can code many columns in
/// one pass over its rows.
///
/// One hash lookup per value (none when it repeats the previous one, as sorted segment
/// columns mostly do) assigns codes in order of first appearance; [`DictBuilder::finish`]
/// sorts the distinct values once and remaps the codes, instead of comparing strings
/// O(log d) times per row.
pub struct DictBuilder<'a> {
    first_seen: Vec<&'a str>,
    index: HashMap<Key<'a>, u32, BuildHasherDefault<FxHasher>>,
    codes: Vec<u32>,
    previous: Option<(&'a str, u32)>,
}

impl<'a> DictBuilder<'a> {
    pub fn with_capacity(rows: usize) -> Self {
        Self { first_seen: Vec::new(), index: HashMap::default(), codes: Vec::with_capacity(rows), previous: None }
    }

    #[inline]
    pub fn push(&mut self, value: Option<&'a str>) {
        let code = match value {
            None => NULL_CODE,
            Some(s) => match self.previous {
                Some((p, code)) if same(p, s) => code,
                _ => {
                    let first_seen = &mut self.first_seen;
                    let code = *self.index.entry(Key(s)).or_insert_with(|| {
                        first_seen.push(s);
                        first_seen.len() as u32
                    });
                    self.previous = Some((s, code));
                    code
                }
            },
        };
        self.codes.push(code);
    }

    pub fn finish(self) -> DictColumn {
        let seen = (1..=self.first_seen.len() as u32).collect();
        DictColumn::sorted(&self.first_seen, seen, self.codes)
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
        let common = previous.iter().zip(s.as_bytes()).take_while(|(a, b)| a == b).count();
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
    let wide = ints::decode_from(cur)?;
    // One range check over all codes, then a plain narrowing copy: both vectorize,
    // where a fallible map per code did not.
    if wide.iter().any(|&c| c < 0 || c as u64 > dict.len() as u64) {
        return Err(DecodeError::Invalid("dictionary code"));
    }
    let codes: Vec<u32> = wide.iter().map(|&c| c as u32).collect();
    Ok(DictColumn { dict, codes })
}

fn decode_dictionary(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut dict: Vec<String> = Vec::new();
    walk_dictionary(bytes, |value| {
        // One allocation per string: queries decode a dictionary per segment they read.
        let value = std::str::from_utf8(value).map_err(|_| DecodeError::Invalid("UTF-8 in dictionary"))?;
        dict.push(value.to_owned());
        Ok(true)
    })?;
    Ok(dict)
}

/// Whether some value of the dictionary of the column block at `cur` (as
/// [`decode_from`] reads it) passes `test`, decoding neither the codes nor a string
/// per value: a scan skips a segment whose dictionary has no value its filter accepts
/// before decoding anything else of it.
pub fn any_value(cur: &mut Cursor<'_>, mut test: impl FnMut(&[u8]) -> bool) -> Result<bool, DecodeError> {
    let dictionary = block::decompress_from(cur)?;
    let mut found = false;
    walk_dictionary(&dictionary, |value| {
        found = test(value);
        Ok(!found)
    })?;
    Ok(found)
}

/// Calls `visit` with each value of a front-coded dictionary, in sorted order, until
/// it returns false.
fn walk_dictionary(bytes: &[u8], mut visit: impl FnMut(&[u8]) -> Result<bool, DecodeError>) -> Result<(), DecodeError> {
    let mut cur = Cursor::new(bytes);
    // Every string has at least two one-byte varints, which bounds the count by the input.
    let count = cur.count(cur.remaining().min(MAX_VALUES), "dictionary size")?;
    let mut varints = |what| -> Result<Vec<usize>, DecodeError> { (0..count).map(|_| cur.count(MAX_DICTIONARY_BYTES, what)).collect() };
    let shared = varints("shared prefix length")?;
    let suffixes = varints("suffix length")?;
    // The previous value, whose first bytes the next one shares.
    let mut value: Vec<u8> = Vec::new();
    let mut total = 0usize;
    for (common, len) in shared.into_iter().zip(suffixes) {
        if common > value.len() {
            return Err(DecodeError::Invalid("shared prefix length"));
        }
        total = total.saturating_add(common + len);
        if total > MAX_DICTIONARY_BYTES {
            return Err(DecodeError::TooLarge { what: "dictionary bytes", value: total as u64, limit: MAX_DICTIONARY_BYTES as u64 });
        }
        value.truncate(common);
        value.extend_from_slice(cur.take(len, "dictionary suffix")?);
        if !visit(&value)? {
            return Ok(());
        }
    }
    cur.finish()
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
        let value = prop_oneof![Just(None), Just(Some(String::new())), "[a-c]{0,3}".prop_map(Some), any::<String>().prop_map(Some),];
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
        let paths: Vec<String> = (0..100).map(|i| format!("/blog/some-long-post-title-{i}")).collect();
        let values: Vec<Option<&str>> = paths.iter().map(|p| Some(p.as_str())).collect();
        let bytes = encode(&DictColumn::from_values(&values));
        assert!(bytes.len() < paths.iter().map(String::len).sum::<usize>() / 4, "{}", bytes.len());
    }

    #[test]
    fn bad_prefix_lengths_are_rejected() {
        let mut bytes = Vec::new();
        block::compress_into(&[1, 3, 1, b'x'], &mut bytes);
        ints::encode_into(&[1], &mut bytes);
        assert_eq!(decode(&bytes), Err(DecodeError::Invalid("shared prefix length")));
    }

    #[test]
    fn out_of_range_codes_are_rejected() {
        let mut bytes = Vec::new();
        block::compress_into(&[1, 0, 1, b'x'], &mut bytes);
        ints::encode_into(&[0, 1, 2], &mut bytes);
        assert_eq!(decode(&bytes), Err(DecodeError::Invalid("dictionary code")));
    }
}
