//! Query-wide string codes. Every segment has its own dictionary; the scan maps each
//! segment's codes onto one code space per column, so groups and filter results
//! computed for one segment carry over to the next without comparing strings.

use rustc_hash::FxHashMap;

use crate::codec::dict::{DictColumn, NULL_CODE};

/// Code 0 is NULL, as in segment dictionaries; code `k > 0` is `values[k - 1]`.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    codes: FxHashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, value: &str) -> u32 {
        if let Some(&code) = self.codes.get(value) {
            return code;
        }
        self.values.push(value.to_owned());
        let code = self.values.len() as u32;
        self.codes.insert(value.to_owned(), code);
        code
    }

    /// Codes in use, NULL included: the length a per-code table needs.
    pub fn len(&self) -> usize {
        self.values.len() + 1
    }

    pub fn value(&self, code: u32) -> Option<&str> {
        code.checked_sub(1).and_then(|i| self.values.get(i as usize)).map(String::as_str)
    }

    /// The query code of every code of `column`'s dictionary (index 0: NULL).
    pub fn translation(&mut self, column: &DictColumn) -> Vec<u32> {
        let mut table = Vec::with_capacity(column.dict.len() + 1);
        table.push(NULL_CODE);
        table.extend(column.dict.iter().map(|v| self.intern(v)));
        table
    }

    /// `column`'s row codes in the query's code space.
    pub fn translate(&mut self, column: &DictColumn) -> Vec<u32> {
        let table = self.translation(column);
        column.codes.iter().map(|&c| table.get(c as usize).copied().unwrap_or(NULL_CODE)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_with_different_dictionaries_share_codes() {
        let mut interner = Interner::default();
        let a = DictColumn::from_values(&[Some("/b"), None, Some("/a")]);
        let b = DictColumn::from_values(&[Some("/a"), Some("/c")]);
        let (ca, cb) = (interner.translate(&a), interner.translate(&b));
        assert_eq!(ca[0], interner.intern("/b"));
        assert_eq!(ca[1], NULL_CODE);
        assert_eq!(ca[2], cb[0]);
        assert_eq!(interner.value(cb[1]), Some("/c"));
        assert_eq!(interner.len(), 4);
    }
}
