//! Filters a scan evaluates on dictionary codes: a segment's string column is a sorted
//! dictionary plus a code per row, so `col = 'x'`, `col IN (…)`, `col LIKE 'x%'` and
//! `col IS [NOT] NULL` become one lookup per distinct value and an integer test per row.

use crate::codec::dict::{DictColumn, NULL_CODE};
use crate::event::COLUMNS;
use crate::segment::{Kind, SegmentError, SegmentReader, StringRange, StringRanges};

/// What a row's string must satisfy. Comparisons are bytewise, as Postgres's `=` and
/// `LIKE` are under a deterministic collation; the caller only builds filters there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTest {
    /// Equal to one of the values (`=` is a list of one; NULLs in an `IN` list match
    /// nothing and are left out).
    In(Vec<String>),
    /// Starts with the prefix (`LIKE 'prefix%'`).
    Prefix(String),
    IsNull,
    IsNotNull,
}

impl CodeTest {
    /// The test of `LIKE pattern` (default escape `\\`) when it is a plain prefix
    /// (`'abc%'`, `'abc%%'`) or a plain string (`'abc'`, equality); `None` for any other
    /// pattern (`_`, an escape, `%` inside), which Postgres alone evaluates.
    pub fn like(pattern: &str) -> Option<CodeTest> {
        let literal_end = pattern.find(['%', '_', '\\']).unwrap_or(pattern.len());
        let (literal, rest) = pattern.split_at(literal_end);
        if rest.is_empty() {
            Some(CodeTest::In(vec![literal.to_owned()]))
        } else if rest.bytes().all(|b| b == b'%') {
            Some(CodeTest::Prefix(literal.to_owned()))
        } else {
            None
        }
    }
}

/// A [`CodeTest`] on one string column (an index into [`COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFilter {
    column: usize,
    test: CodeTest,
}

impl CodeFilter {
    /// A filter on column `column` of [`COLUMNS`]; `None` unless it is a string
    /// (dictionary-coded) column.
    pub fn new(column: usize, test: CodeTest) -> Option<Self> {
        (column < COLUMNS.len() && crate::segment::kind_of(column) == Kind::Str).then_some(Self { column, test })
    }

    pub fn column(&self) -> usize {
        self.column
    }

    pub fn test(&self) -> &CodeTest {
        &self.test
    }

    /// For every code of `dict` (index = code, [`NULL_CODE`] first), whether a row with
    /// that code passes.
    pub fn accepted(&self, dict: &DictColumn) -> Vec<bool> {
        let mut accepted = vec![false; dict.dict.len() + 1];
        match &self.test {
            CodeTest::In(values) => {
                for value in values {
                    if let Some(code) = dict.code_of(value) {
                        accepted[code as usize] = true;
                    }
                }
            }
            CodeTest::Prefix(prefix) => {
                // Sorted dictionary: the strings with a prefix are one run of codes.
                let start = dict.dict.partition_point(|s| s.as_str() < prefix.as_str());
                let len = dict.dict[start..].iter().take_while(|s| s.starts_with(prefix.as_str())).count();
                accepted[start + 1..start + 1 + len].fill(true);
            }
            CodeTest::IsNull => accepted[NULL_CODE as usize] = true,
            CodeTest::IsNotNull => {
                accepted.fill(true);
                accepted[NULL_CODE as usize] = false;
            }
        }
        accepted
    }

    /// Whether a row of the segment `reader` may pass, judged from the column's
    /// dictionary alone: false when no value in it is accepted (`IS NULL` is always
    /// possible, as NULL has no dictionary entry).
    pub fn may_pass(&self, reader: &SegmentReader<'_>) -> Result<bool, SegmentError> {
        match &self.test {
            CodeTest::In(values) => {
                let mut wanted: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
                wanted.sort_unstable();
                reader.dictionary_has(self.column, |value| wanted.binary_search(&value).is_ok())
            }
            CodeTest::Prefix(prefix) => reader.dictionary_has(self.column, |value| value.starts_with(prefix.as_bytes())),
            CodeTest::IsNull => Ok(true),
            CodeTest::IsNotNull => reader.dictionary_has(self.column, |_| true),
        }
    }

    /// Whether a row of a segment whose string columns span `ranges` (its catalog
    /// entry) may pass: false when every value of the column sorts outside what the
    /// test accepts, or the column is all NULL and the test wants a value.
    pub fn may_pass_ranges(&self, ranges: &StringRanges) -> bool {
        let (min, max) = match ranges.get(self.column) {
            None => return true,
            Some(StringRange::Null) => return self.test == CodeTest::IsNull,
            Some(StringRange::Between(min, max)) => (&**min, &**max),
        };
        match &self.test {
            CodeTest::In(values) => values.iter().any(|v| (min..=max).contains(&v.as_bytes())),
            // Every string with the prefix sorts at or after it, and a smallest value
            // after the prefix that does not start with it sorts after all of them.
            CodeTest::Prefix(prefix) => {
                let prefix = prefix.as_bytes();
                max >= prefix && (min <= prefix || min.starts_with(prefix))
            }
            CodeTest::IsNull | CodeTest::IsNotNull => true,
        }
    }

    /// A readable form for EXPLAIN: `pathname LIKE 'x%'`.
    pub fn describe(&self) -> String {
        let name = COLUMNS[self.column];
        match &self.test {
            CodeTest::In(values) if values.len() == 1 => format!("{name} = {:?}", values[0]),
            CodeTest::In(values) => format!("{name} IN ({} values)", values.len()),
            CodeTest::Prefix(prefix) => format!("{name} LIKE {prefix:?}%"),
            CodeTest::IsNull => format!("{name} IS NULL"),
            CodeTest::IsNotNull => format!("{name} IS NOT NULL"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::segment::build;
    use proptest::prelude::*;

    fn column(name: &str, test: CodeTest) -> CodeFilter {
        CodeFilter::new(COLUMNS.iter().position(|c| *c == name).unwrap(), test).unwrap()
    }

    fn passing(filter: &CodeFilter, values: &[Option<&str>]) -> Vec<Option<String>> {
        let dict = DictColumn::from_values(values);
        let accepted = filter.accepted(&dict);
        dict.codes.iter().filter(|&&c| accepted[c as usize]).map(|&c| dict.resolve(c).map(str::to_owned)).collect()
    }

    const PATHS: &[Option<&str>] = &[Some("/a"), Some("/blog/x"), None, Some("/blog"), Some("/blog/y"), Some("/c"), None, Some("/bloh")];

    #[test]
    fn only_string_columns_take_code_filters() {
        let ts = COLUMNS.iter().position(|c| *c == "ts").unwrap();
        assert!(CodeFilter::new(ts, CodeTest::IsNull).is_none());
        assert!(CodeFilter::new(COLUMNS.len(), CodeTest::IsNull).is_none());
    }

    #[test]
    fn in_lists_match_values_present() {
        let f = column("pathname", CodeTest::In(vec!["/c".into(), "/missing".into(), "/a".into()]));
        assert_eq!(passing(&f, PATHS), vec![Some("/a".into()), Some("/c".into())]);
    }

    #[test]
    fn prefixes_match_a_run_of_codes() {
        let f = column("pathname", CodeTest::Prefix("/blog".into()));
        assert_eq!(passing(&f, PATHS), vec![Some("/blog/x".into()), Some("/blog".into()), Some("/blog/y".into())]);
        let all = column("pathname", CodeTest::Prefix(String::new()));
        assert_eq!(passing(&all, PATHS).len(), 6, "LIKE '%' matches every non-NULL value");
        let none = column("pathname", CodeTest::Prefix("/z".into()));
        assert!(passing(&none, PATHS).is_empty());
    }

    #[test]
    fn like_patterns_that_are_prefixes() {
        assert_eq!(CodeTest::like("/blog%"), Some(CodeTest::Prefix("/blog".into())));
        assert_eq!(CodeTest::like("/blog%%"), Some(CodeTest::Prefix("/blog".into())));
        assert_eq!(CodeTest::like("%"), Some(CodeTest::Prefix(String::new())));
        assert_eq!(CodeTest::like("/blog"), Some(CodeTest::In(vec!["/blog".into()])));
        assert_eq!(CodeTest::like(""), Some(CodeTest::In(vec![String::new()])));
        for other in ["/b_og%", "%blog", "/blog%x", "/a\\%%", "/a%_"] {
            assert_eq!(CodeTest::like(other), None, "{other}");
        }
    }

    #[test]
    fn null_tests() {
        assert_eq!(passing(&column("referrer", CodeTest::IsNull), PATHS), vec![None, None]);
        assert_eq!(passing(&column("referrer", CodeTest::IsNotNull), PATHS).len(), 6);
        assert!(passing(&column("referrer", CodeTest::IsNull), &[Some("x")]).is_empty());
    }

    fn a_test() -> impl Strategy<Value = CodeTest> {
        prop_oneof![
            proptest::collection::vec("[ab/]{0,3}", 1..3).prop_map(CodeTest::In),
            "[ab/]{0,3}".prop_map(CodeTest::Prefix),
            Just(CodeTest::IsNull),
            Just(CodeTest::IsNotNull),
        ]
    }

    proptest! {
        /// A segment that the catalog's ranges rule out has no row the test accepts.
        #[test]
        fn ranges_rule_out_only_segments_without_a_passing_row(
            referrers in proptest::collection::vec(proptest::option::of("[ab/]{0,4}"), 1..8),
            test in a_test(),
        ) {
            let events: Vec<Event> = referrers
                .iter()
                .enumerate()
                .map(|(i, r)| Event { ts: i as i64, name: "pageview".into(), referrer: r.clone(), ..Event::default() })
                .collect();
            let ranges = build(&events).unwrap().strings;
            let filter = column("referrer", test);
            prop_assert!(ranges.get(filter.column()).is_some());
            let values: Vec<Option<&str>> = referrers.iter().map(|r| r.as_deref()).collect();
            if !passing(&filter, &values).is_empty() {
                prop_assert!(filter.may_pass_ranges(&ranges));
            }
        }
    }

    #[test]
    fn ranges_rule_out_prefixes_and_values_outside_them() {
        let events: Vec<Event> = ["/p/1", "/p/20"]
            .iter()
            .enumerate()
            .map(|(i, p)| Event { ts: i as i64, name: "pageview".into(), pathname: (*p).into(), ..Event::default() })
            .collect();
        let ranges = build(&events).unwrap().strings;
        let passes = |test| column("pathname", test).may_pass_ranges(&ranges);
        assert!(!passes(CodeTest::Prefix("/blog".into())), "sorts before every path");
        assert!(!passes(CodeTest::Prefix("/q".into())), "sorts after every path");
        assert!(!passes(CodeTest::Prefix("/p/3".into())), "inside the range's prefix but after its largest value");
        assert!(passes(CodeTest::Prefix("/p/".into())) && passes(CodeTest::Prefix("/p/2".into())) && passes(CodeTest::Prefix("/".into())));
        assert!(!passes(CodeTest::In(vec!["/a".into(), "/z".into()])));
        assert!(passes(CodeTest::In(vec!["/p/15".into()])), "inside the range, so possible");
        assert!(!column("referrer", CodeTest::IsNotNull).may_pass_ranges(&ranges), "every referrer is NULL");
        assert!(column("referrer", CodeTest::IsNull).may_pass_ranges(&StringRanges::default()), "no ranges: may pass");
    }
}
