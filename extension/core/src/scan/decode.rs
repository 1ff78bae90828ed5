//! One segment decoded for a relational scan: the columns the query references, and
//! the rows its code filters and time bounds leave.

use crate::codec::dict::DictColumn;
use crate::event::COLUMNS;
use crate::segment::{Column, SegmentError, SegmentReader};

use super::{Bounds, CodeFilter, Selection};

/// The decoded columns (indexed like [`COLUMNS`], `None` where not asked for) and the
/// rows, in storage order, that may pass the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub columns: Vec<Option<Column>>,
    pub rows: Selection,
    /// True when a filter's dictionary had no accepted value, so nothing was decoded.
    pub skipped_by_dictionary: bool,
}

/// Decodes `columns` (indices into [`COLUMNS`]) of `reader` and selects the rows that
/// pass `filters` and, when the segment reaches past them, the time range of `bounds`.
/// A segment whose dictionary rules a filter out is left undecoded; otherwise filter
/// columns are decoded first, and nothing else is decoded when no row is left.
pub fn decode(reader: &SegmentReader<'_>, columns: &[usize], filters: &[CodeFilter], bounds: &Bounds) -> Result<Decoded, SegmentError> {
    let mut decoded: Vec<Option<Column>> = (0..COLUMNS.len()).map(|_| None).collect();
    for filter in filters {
        if !filter.may_pass(reader)? {
            return Ok(Decoded { columns: decoded, rows: Selection::default(), skipped_by_dictionary: true });
        }
    }
    let mut rows: Option<Vec<u32>> = None;
    let ts = crate::segment::index_of("ts")?;
    let zone = reader.zone();
    if bounds.cuts_time() && !(bounds.admits_ts(zone.ts_min) && bounds.admits_ts(zone.ts_max)) {
        let Column::Int(times) = load(reader, &mut decoded, ts)? else { unreachable!("ts is an integer column") };
        rows = Some(keep(rows, zone.rows, |row| bounds.admits_ts(times.values[row])));
    }
    for filter in filters {
        if rows.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
        let Column::Str(dict) = load(reader, &mut decoded, filter.column())? else { unreachable!("code filters are on string columns") };
        let accepted = filter.accepted(dict);
        let codes = &dict.codes;
        rows = Some(keep(rows, zone.rows, |row| accepted[codes[row] as usize]));
    }
    let rows = rows.map_or(Selection::Every(zone.rows), Selection::Rows);
    if !rows.is_empty() {
        for &column in columns {
            load(reader, &mut decoded, column)?;
        }
    }
    Ok(Decoded { columns: decoded, rows, skipped_by_dictionary: false })
}

/// The rows of a segment of `rows` rows with times `ts_min..=ts_max` (its catalog
/// entry) when they are known without reading it: no column to decode, no code
/// filter, and every time inside `bounds` (`count(*)` of whole segments). `None` when
/// the segment must be decoded.
pub fn without_reading(
    rows: usize,
    ts_min: i64,
    ts_max: i64,
    columns: &[usize],
    filters: &[CodeFilter],
    bounds: &Bounds,
) -> Option<Decoded> {
    let inside = bounds.admits_ts(ts_min) && bounds.admits_ts(ts_max);
    (columns.is_empty() && filters.is_empty() && inside).then(|| Decoded {
        columns: (0..COLUMNS.len()).map(|_| None).collect(),
        rows: Selection::Every(rows),
        skipped_by_dictionary: false,
    })
}

/// Column `column`, decoded into `decoded` on first use.
fn load<'d>(reader: &SegmentReader<'_>, decoded: &'d mut [Option<Column>], column: usize) -> Result<&'d Column, SegmentError> {
    if decoded[column].is_none() {
        decoded[column] = Some(reader.column_at(column)?);
    }
    Ok(decoded[column].as_ref().expect("just decoded"))
}

/// The rows of `rows` (every row of `count` when `None`) that pass `test`. Each row is
/// written and the end moved on by whether it passed, without a branch: about half the
/// rows of a filter on a common value pass, which a branch per row mispredicts.
fn keep(rows: Option<Vec<u32>>, count: usize, test: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut rows = rows.unwrap_or_else(|| (0..count as u32).collect());
    let mut kept = 0;
    for i in 0..rows.len() {
        let row = rows[i];
        rows[kept] = row;
        kept += usize::from(test(row as usize));
    }
    rows.truncate(kept);
    rows
}

impl Decoded {
    /// The string column `column` if it was decoded.
    pub fn dict(&self, column: usize) -> Option<&DictColumn> {
        match self.columns.get(column)? {
            Some(Column::Str(dict)) => Some(dict),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::scan::CodeTest;
    use crate::segment::build;

    fn at(name: &str) -> usize {
        COLUMNS.iter().position(|c| *c == name).unwrap()
    }

    fn events() -> Vec<Event> {
        (0..100)
            .map(|i| Event {
                site_id: 1,
                ts: 1_000 + i,
                name: "pageview".into(),
                visitor_id: i % 7,
                session_id: i % 13,
                hostname: "a.test".into(),
                pathname: format!("/p{}", i % 5),
                referrer: (i % 3 == 0).then(|| "https://r.test/".into()),
                ..Event::default()
            })
            .collect()
    }

    /// The rows `decode` keeps, as the events they are, against a plain filter.
    fn check(filters: &[CodeFilter], bounds: &Bounds, expect: impl Fn(&Event) -> bool) {
        let segment = build(&events()).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        let all = reader.events().unwrap();
        let d = decode(&reader, &[at("pathname")], filters, bounds).unwrap();
        let got: Vec<&Event> = d.rows.indices().iter().map(|&r| &all[r as usize]).collect();
        let want: Vec<&Event> = all.iter().filter(|e| expect(e)).collect();
        assert_eq!(got, want);
        if !d.rows.is_empty() {
            let paths = d.dict(at("pathname")).expect("asked for");
            for &r in d.rows.indices().iter() {
                assert_eq!(paths.get(r as usize), Some(all[r as usize].pathname.as_str()));
            }
        }
    }

    #[test]
    fn no_filters_keep_every_row() {
        check(&[], &Bounds::default(), |_| true);
    }

    #[test]
    fn code_filters_and_time_bounds_combine() {
        let path = CodeFilter::new(at("pathname"), CodeTest::In(vec!["/p1".into(), "/p3".into()])).unwrap();
        let referred = CodeFilter::new(at("referrer"), CodeTest::IsNotNull).unwrap();
        let mut bounds = Bounds::default();
        bounds.ts_at_least(1_020);
        bounds.ts_before(1_080);
        check(&[path, referred], &bounds, |e| {
            (e.pathname == "/p1" || e.pathname == "/p3") && e.referrer.is_some() && (1_020..1_080).contains(&e.ts)
        });
    }

    #[test]
    fn nothing_left_decodes_nothing_else() {
        let none = CodeFilter::new(at("name"), CodeTest::Prefix("custom".into())).unwrap();
        let segment = build(&events()).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        let d = decode(&reader, &[at("pathname")], &[none], &Bounds::default()).unwrap();
        assert!(d.rows.is_empty());
        assert!(d.columns[at("pathname")].is_none());
    }

    #[test]
    fn a_dictionary_without_an_accepted_value_skips_the_segment() {
        let segment = build(&events()).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        // Bounds cutting the segment would decode `ts` first.
        let mut bounds = Bounds::default();
        bounds.ts_at_least(1_050);
        for test in [CodeTest::Prefix("/blog".into()), CodeTest::In(vec!["/p9".into(), "/q".into()])] {
            let filter = CodeFilter::new(at("pathname"), test).unwrap();
            assert!(!filter.may_pass(&reader).unwrap());
            let d = decode(&reader, &[at("pathname"), at("ts")], &[filter], &bounds).unwrap();
            assert!(d.skipped_by_dictionary && d.rows.is_empty());
            assert!(d.columns.iter().all(Option::is_none), "nothing decoded: {d:?}");
        }
        for test in [CodeTest::Prefix("/p".into()), CodeTest::In(vec!["/q".into(), "/p4".into()]), CodeTest::IsNull, CodeTest::IsNotNull] {
            let filter = CodeFilter::new(at("pathname"), test).unwrap();
            assert!(filter.may_pass(&reader).unwrap(), "{filter:?}");
        }
        // Every referrer of a segment NULL: IS NOT NULL rules it out.
        let no_referrers: Vec<Event> = events().into_iter().map(|e| Event { referrer: None, ..e }).collect();
        let segment = build(&no_referrers).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        assert!(!CodeFilter::new(at("referrer"), CodeTest::IsNotNull).unwrap().may_pass(&reader).unwrap());
        assert!(CodeFilter::new(at("referrer"), CodeTest::IsNull).unwrap().may_pass(&reader).unwrap());
    }

    #[test]
    fn whole_segments_without_columns_are_not_read() {
        let mut bounds = Bounds::default();
        bounds.ts_at_least(1_000);
        let d = without_reading(100, 1_000, 1_099, &[], &[], &bounds).expect("nothing to read");
        assert_eq!(d.rows, Selection::Every(100));
        assert_eq!(d, decode(&SegmentReader::open(&build(&events()).unwrap().bytes).unwrap(), &[], &[], &bounds).unwrap());
        assert!(without_reading(100, 999, 1_099, &[], &[], &bounds).is_none(), "the bounds cut it");
        assert!(without_reading(100, 1_000, 1_099, &[at("ts")], &[], &bounds).is_none(), "a column to decode");
        let filter = CodeFilter::new(at("name"), CodeTest::IsNotNull).unwrap();
        assert!(without_reading(100, 1_000, 1_099, &[], &[filter], &bounds).is_none(), "a filter to test");
    }

    #[test]
    fn bounds_covering_the_segment_skip_the_time_column() {
        let mut bounds = Bounds::default();
        bounds.ts_at_least(0);
        let segment = build(&events()).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        let d = decode(&reader, &[], &[], &bounds).unwrap();
        assert_eq!(d.rows.len(), 100);
        assert!(d.columns[at("ts")].is_none());
    }
}
