//! How much one query may ask for. A viewer's query runs inside a Postgres backend, so
//! its size must be bounded before any work starts: each limit below caps one way a
//! request grows memory or time (buckets, groups, tests per distinct value), set well
//! above what the dashboard or a reasonable API client sends. [`super::parse`] checks
//! them and names the field at fault.

use regex::{RegexSet, RegexSetBuilder};

/// Most days any date range spans, `Nd` and custom ranges alike: ten years, longer
/// ones are a typo more often than a question (and every day is a bucket of `time:day`).
pub const MAX_DAYS: i64 = 3_660;

/// Most days a range grouped by `time:hour` spans: a year of hours is 8,784 buckets,
/// more than any chart shows; `time:day` answers longer ranges.
pub const MAX_HOURLY_DAYS: i64 = 366;

/// Deepest nesting of `and`, `or` and `not`: the filter tree is walked recursively,
/// and a dashboard nests two levels.
pub const MAX_FILTER_DEPTH: usize = 8;

/// Most conditions (`is`, `contains`, `matches` leaves) in one query: each is tested
/// against every distinct value of its attribute.
pub const MAX_FILTER_LEAVES: usize = 64;

/// Most values over all conditions of one query: a long `is` list of pages still fits.
pub const MAX_FILTER_VALUES: usize = 1_000;

/// Longest filter value in bytes: the longest URL ingest accepts.
pub const MAX_VALUE_LEN: usize = 4_096;

/// Most regular expressions (`matches` values) in one query.
pub const MAX_PATTERNS: usize = 32;

/// Compiled size of one regular expression (its NFA) and of its lazy DFA's cache: a
/// short pattern with counted repetitions (`(a{100}){100}`) otherwise compiles to
/// megabytes. The `regex` crate's defaults are 10 MB and 2 MB.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// `patterns` compiled with the size limits above: what a `matches` filter tests.
pub(crate) fn regex_set<I: IntoIterator<Item = S>, S: AsRef<str>>(patterns: I) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_DFA_SIZE_LIMIT).build()
}
