//! The range of each string column's values in a segment, kept in the catalog beside
//! it (`tally.segments.string_ranges`) so that a filter on a string column skips a
//! segment without reading it: `pathname LIKE '/blog%'` reads no segment whose paths
//! all sort outside `/blog…`, where the segment's own dictionary would first have to
//! be detoasted and decompressed to tell.
//!
//! Encoding: varint count, then per recorded column: varint index into
//! [`crate::event::COLUMNS`], u8 tag (0: every row NULL, 1: a range), and for a range
//! the smallest and largest value, each a varint length and its bytes.

use crate::codec::dict::DictColumn;
use crate::codec::{put_varint, Cursor, DecodeError};
use crate::event::COLUMNS;

/// The longest value a range records: a column with a longer smallest or largest value
/// has no range (which filters read as "may pass"), so the catalog rows stay small.
const MAX_BOUND: usize = 256;

/// What a segment's values of one string column span, in byte order (the order of
/// its sorted dictionary, and of Postgres's `=` and `LIKE` on the bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringRange {
    /// Every row is NULL.
    Null,
    /// The smallest and the largest non-NULL value.
    Between(Box<[u8]>, Box<[u8]>),
}

impl StringRange {
    /// The range of a column whose dictionary is `column`'s (sorted, the values its
    /// codes use); `None` when a bound is too long to record.
    pub(crate) fn of(column: &DictColumn) -> Option<StringRange> {
        match (column.dict.first(), column.dict.last()) {
            (Some(min), Some(max)) if min.len() <= MAX_BOUND && max.len() <= MAX_BOUND => {
                Some(StringRange::Between(min.as_bytes().into(), max.as_bytes().into()))
            }
            (Some(_), Some(_)) => None,
            _ => Some(StringRange::Null),
        }
    }
}

/// The recorded ranges of a segment's string columns, indexed like
/// [`crate::event::COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringRanges(Vec<Option<StringRange>>);

impl Default for StringRanges {
    fn default() -> Self {
        StringRanges(vec![None; COLUMNS.len()])
    }
}

impl StringRanges {
    /// The range of column `column`, when recorded.
    pub fn get(&self, column: usize) -> Option<&StringRange> {
        self.0.get(column).and_then(Option::as_ref)
    }

    pub(crate) fn set(&mut self, column: usize, range: Option<StringRange>) {
        self.0[column] = range;
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.0.iter().flatten().count() as u64);
        for (column, range) in self.0.iter().enumerate() {
            let Some(range) = range else { continue };
            put_varint(&mut out, column as u64);
            match range {
                StringRange::Null => out.push(0),
                StringRange::Between(min, max) => {
                    out.push(1);
                    for bound in [min, max] {
                        put_varint(&mut out, bound.len() as u64);
                        out.extend_from_slice(bound);
                    }
                }
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StringRanges, DecodeError> {
        let mut ranges = StringRanges::default();
        let mut cur = Cursor::new(bytes);
        for _ in 0..cur.count(COLUMNS.len(), "string range count")? {
            let column = cur.count(COLUMNS.len() - 1, "string range column")?;
            let range = match cur.u8("string range tag")? {
                0 => StringRange::Null,
                1 => {
                    let mut bound = || -> Result<Box<[u8]>, DecodeError> {
                        let len = cur.count(MAX_BOUND, "string range bound length")?;
                        Ok(cur.take(len, "string range bound")?.into())
                    };
                    StringRange::Between(bound()?, bound()?)
                }
                _ => return Err(DecodeError::Invalid("string range tag")),
            };
            ranges.set(column, Some(range));
        }
        cur.finish()?;
        Ok(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::segment::{build, index_of};
    use proptest::prelude::*;

    #[test]
    fn a_segment_records_the_first_and_last_value_of_each_string_column() {
        let events: Vec<Event> = ["/b", "/a", "/c"]
            .iter()
            .enumerate()
            .map(|(i, path)| Event { ts: i as i64, name: "pageview".into(), pathname: (*path).into(), ..Event::default() })
            .collect();
        let ranges = build(&events).unwrap().strings;
        let path = index_of("pathname").unwrap();
        assert_eq!(ranges.get(path), Some(&StringRange::Between(b"/a".as_slice().into(), b"/c".as_slice().into())));
        assert_eq!(ranges.get(index_of("referrer").unwrap()), Some(&StringRange::Null));
        assert_eq!(ranges.get(index_of("ts").unwrap()), None, "not a string column");
        let long = Event { pathname: "/x".repeat(MAX_BOUND), ..events[0].clone() };
        assert_eq!(build(&[long]).unwrap().strings.get(path), None, "too long to record");
    }

    #[test]
    fn damaged_ranges_are_refused() {
        let mut ranges = StringRanges::default();
        ranges.set(6, Some(StringRange::Between(b"a".as_slice().into(), b"b".as_slice().into())));
        let bytes = ranges.encode();
        assert!(StringRanges::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(StringRanges::decode(&[1, COLUMNS.len() as u8, 0]).is_err(), "no such column");
        assert!(StringRanges::decode(&[1, 6, 2]).is_err(), "no such tag");
    }

    proptest! {
        #[test]
        fn ranges_read_back_as_written(
            entries in proptest::collection::vec((0..COLUMNS.len(), proptest::option::of((".{0,8}", ".{0,8}"))), 0..6)
        ) {
            let mut ranges = StringRanges::default();
            for (column, range) in entries {
                let range = match range {
                    None => StringRange::Null,
                    Some((a, b)) => StringRange::Between(a.as_bytes().into(), b.as_bytes().into()),
                };
                ranges.set(column, Some(range));
            }
            prop_assert_eq!(StringRanges::decode(&ranges.encode()).unwrap(), ranges);
        }
    }
}
