//! The rows of one segment that a scan keeps, in storage order.

use std::borrow::Cow;

/// The rows of a segment that may pass the query.
///
/// A segment whose every row passes is not listed row by row: a `count(*)` of 10M
/// events would otherwise write 40 MB of row numbers only to take their number, and a
/// row-returning scan walks the rows without a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every row of a segment of this many rows.
    Every(usize),
    /// These rows, ascending.
    Rows(Vec<u32>),
}

impl Default for Selection {
    fn default() -> Self {
        Selection::Rows(Vec::new())
    }
}

impl Selection {
    pub fn len(&self) -> usize {
        match self {
            Selection::Every(rows) => *rows,
            Selection::Rows(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th selected row.
    pub fn get(&self, i: usize) -> Option<u32> {
        match self {
            Selection::Every(rows) => (i < *rows).then_some(i as u32),
            Selection::Rows(rows) => rows.get(i).copied(),
        }
    }

    /// The selected rows as a list, written out only for [`Selection::Every`].
    pub fn indices(&self) -> Cow<'_, [u32]> {
        match self {
            Selection::Every(rows) => Cow::Owned((0..*rows as u32).collect()),
            Selection::Rows(rows) => Cow::Borrowed(rows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_reads_as_its_list() {
        let every = Selection::Every(3);
        let listed = Selection::Rows(vec![0, 1, 2]);
        assert_eq!(every.indices(), listed.indices());
        assert_eq!((every.len(), every.get(2), every.get(3)), (3, Some(2), None));
        assert_eq!((listed.len(), listed.get(2), listed.get(3)), (3, Some(2), None));
        assert!(Selection::default().is_empty() && Selection::Every(0).is_empty());
    }
}
