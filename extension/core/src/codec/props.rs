//! Custom properties (`Vec<(String, String)>` per row) as columns: a pair count per row
//! and two dictionary columns over the flattened pairs, one for keys and one for
//! values. Keys repeat across events (`plan`, `method`), so their dictionary is tiny
//! and a filter `props.plan = 'pro'` is two code compares.

use super::dict::{self, DictColumn, NULL_CODE};
use super::{ints, Cursor, DecodeError, MAX_VALUES};

/// Decoded properties of a column of rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropsColumn {
    /// Row `r`'s pairs are `offsets[r]..offsets[r + 1]` of `keys` and `values`.
    pub offsets: Vec<u32>,
    pub keys: DictColumn,
    pub values: DictColumn,
}

impl PropsColumn {
    pub fn from_rows(rows: &[&[(String, String)]]) -> Self {
        let mut offsets = vec![0u32];
        let mut total = 0u32;
        for row in rows {
            total += row.len() as u32;
            offsets.push(total);
        }
        let pairs: Vec<&(String, String)> = rows.iter().copied().flatten().collect();
        let keys: Vec<Option<&str>> = pairs.iter().map(|(k, _)| Some(k.as_str())).collect();
        let values: Vec<Option<&str>> = pairs.iter().map(|(_, v)| Some(v.as_str())).collect();
        let (keys, values) = (DictColumn::from_values(&keys), DictColumn::from_values(&values));
        Self { offsets, keys, values }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs of `row` (none for a row past the end).
    pub fn row(&self, row: usize) -> impl Iterator<Item = (&str, &str)> {
        let start = self.offsets.get(row).copied().unwrap_or(0) as usize;
        let end = self.offsets.get(row + 1).copied().unwrap_or(0) as usize;
        (start..end.max(start)).filter_map(|i| Some((self.keys.get(i)?, self.values.get(i)?)))
    }
}

impl PropsColumn {
    /// The values of property `key` as a string column: per row the value of its last
    /// pair with that key (as the row's jsonb object keeps), NULL without one. The
    /// dictionary is the column's value dictionary, so a pair's value code is the
    /// row's code.
    pub fn values_of(&self, key: &str) -> DictColumn {
        let mut codes = vec![NULL_CODE; self.len()];
        if let Some(wanted) = self.keys.code_of(key) {
            for (row, code) in codes.iter_mut().enumerate() {
                let pairs = self.offsets[row] as usize..self.offsets[row + 1] as usize;
                if let Some(i) = pairs.rev().find(|&i| self.keys.codes[i] == wanted) {
                    *code = self.values.codes[i];
                }
            }
        }
        DictColumn { dict: self.values.dict.clone(), codes }
    }
}

/// Writes `[integer block(pair count per row)][dict(keys)][dict(values)]`.
pub fn encode_into(column: &PropsColumn, out: &mut Vec<u8>) {
    let counts: Vec<i64> = column.offsets.windows(2).map(|w| i64::from(w[1] - w[0])).collect();
    ints::encode_into(&counts, out);
    dict::encode_into(&column.keys, out);
    dict::encode_into(&column.values, out);
}

pub fn decode_from(cur: &mut Cursor<'_>) -> Result<PropsColumn, DecodeError> {
    let counts = ints::decode_from(cur)?;
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    let mut total = 0u64;
    offsets.push(0);
    for count in counts {
        let count = u64::try_from(count).map_err(|_| DecodeError::Invalid("property count"))?;
        total += count;
        if total > MAX_VALUES as u64 {
            return Err(DecodeError::TooLarge { what: "property pairs", value: total, limit: MAX_VALUES as u64 });
        }
        offsets.push(total as u32);
    }
    let keys = dict::decode_from(cur)?;
    let values = dict::decode_from(cur)?;
    let pairs = total as usize;
    if keys.len() != pairs || values.len() != pairs {
        return Err(DecodeError::Invalid("property pair count"));
    }
    if keys.codes.contains(&NULL_CODE) || values.codes.contains(&NULL_CODE) {
        return Err(DecodeError::Invalid("null property"));
    }
    Ok(PropsColumn { offsets, keys, values })
}

pub fn encode(column: &PropsColumn) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(column, &mut out);
    out
}

pub fn decode(bytes: &[u8]) -> Result<PropsColumn, DecodeError> {
    let mut cur = Cursor::new(bytes);
    let column = decode_from(&mut cur)?;
    cur.finish()?;
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Rows = Vec<Vec<(String, String)>>;

    fn rows() -> impl Strategy<Value = Rows> {
        let text = prop_oneof![Just(String::new()), "[ab]{1,2}", any::<String>()];
        let pair = (text.clone(), text);
        proptest::collection::vec(proptest::collection::vec(pair, 0..4), 0..60)
    }

    #[test]
    fn values_of_a_key_are_a_string_column() {
        let rows: Vec<Vec<(String, String)>> = vec![
            vec![("plan".into(), "pro".into()), ("method".into(), "google".into())],
            vec![],
            vec![("method".into(), "pro".into())],
            vec![("plan".into(), "free".into()), ("plan".into(), "team".into())],
        ];
        let column = PropsColumn::from_rows(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let plan = column.values_of("plan");
        let got: Vec<Option<&str>> = (0..plan.len()).map(|r| plan.get(r)).collect();
        assert_eq!(got, [Some("pro"), None, None, Some("team")]);
        assert!(column.values_of("missing").codes.iter().all(|&c| c == NULL_CODE));
    }

    proptest! {
        #[test]
        fn round_trips(rows in rows()) {
            let column = PropsColumn::from_rows(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
            let decoded = decode(&encode(&column)).unwrap();
            prop_assert_eq!(decoded.len(), rows.len());
            for (r, row) in rows.iter().enumerate() {
                let back: Vec<(String, String)> = decoded
                    .row(r)
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                prop_assert_eq!(&back, row);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn rows_without_props_cost_a_few_bytes() {
        let rows: Rows = vec![Vec::new(); 10_000];
        let column = PropsColumn::from_rows(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(encode(&column).len() < 30, "{}", encode(&column).len());
    }
}
