//! The rows of a compaction pass held column by column, as the hot table hands them
//! over: what segments are built from without an [`crate::event::Event`] per row. An
//! event's ~20 strings each took an allocation (and a free after encoding), a third
//! of a pass's CPU; here each column interns its strings once per pass, rows hold
//! codes, and a segment's dictionary is the sorted strings of the codes it uses.
//!
//! [`build_rows`] writes the same bytes as [`super::build`] of the same events in the
//! same order (tested), so the two paths cannot drift apart.

use rustc_hash::FxHashMap;

use crate::codec::dict::{same, DictColumn, NULL_CODE};
use crate::event::COLUMNS;

use super::builder::{assemble, Segment};
use super::column::encode_block;
use super::runs::Runs;
#[cfg(test)]
use super::schema::text_field;
use super::schema::{index_of, kind, Kind, Values};
use super::{SegmentError, ZoneMap, MAX_ROWS};

/// One column of a [`Batch`].
#[derive(Debug)]
enum BatchColumn {
    Int(Vec<i64>),
    NullableInt(Vec<Option<i64>>),
    Str(Interned),
    Props(Vec<Vec<(String, String)>>),
}

/// A string column: the distinct strings of the pass (code `k > 0` is `values[k - 1]`)
/// and a code per row.
#[derive(Debug, Default)]
struct Interned {
    values: Vec<String>,
    index: FxHashMap<String, u32>,
    codes: Vec<u32>,
}

impl Interned {
    fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => NULL_CODE,
            // Rows of one visit arrive together and share most values: no hashing then.
            Some(s) if self.codes.last().is_some_and(|&last| last != NULL_CODE && same(&self.values[last as usize - 1], s)) => {
                self.codes[self.codes.len() - 1]
            }
            Some(s) => match self.index.get(s) {
                Some(&code) => code,
                None => {
                    self.values.push(s.to_owned());
                    let code = self.values.len() as u32;
                    self.index.insert(s.to_owned(), code);
                    code
                }
            },
        };
        self.codes.push(code);
    }

    /// The rows `rows` of this column as a column of their own, holding only the
    /// strings they use (codes remapped through a table, no string hashed).
    fn with_rows(&self, rows: &[u32]) -> Interned {
        let mut out = Interned::default();
        let mut remap = vec![NULL_CODE; self.values.len() + 1];
        out.codes = rows
            .iter()
            .map(|&row| {
                let code = self.codes[row as usize];
                if code != NULL_CODE && remap[code as usize] == NULL_CODE {
                    let value = &self.values[code as usize - 1];
                    out.values.push(value.clone());
                    out.index.insert(value.clone(), out.values.len() as u32);
                    remap[code as usize] = out.values.len() as u32;
                }
                remap[code as usize]
            })
            .collect();
        out
    }

    /// The column of rows `order`: the strings their codes use, sorted, and their codes
    /// remapped (`DictColumn::sorted`, as [`crate::codec::dict::DictBuilder`] ends).
    fn dict_column(&self, order: &[u32]) -> DictColumn {
        let codes: Vec<u32> = order.iter().map(|&row| self.codes[row as usize]).collect();
        let mut used: Vec<u32> = codes.iter().copied().filter(|&c| c != NULL_CODE).collect();
        used.sort_unstable();
        used.dedup();
        DictColumn::sorted(&self.values, used, codes)
    }
}

/// Rows column by column, indexed like [`COLUMNS`]. Fill it a row at a time: one push
/// per column, each column with the push of its kind.
#[derive(Debug)]
pub struct Batch {
    columns: Vec<BatchColumn>,
}

impl Default for Batch {
    fn default() -> Self {
        let columns = (0..COLUMNS.len())
            .map(|c| match kind(c) {
                Kind::Int => BatchColumn::Int(Vec::new()),
                Kind::NullableInt => BatchColumn::NullableInt(Vec::new()),
                Kind::Str => BatchColumn::Str(Interned::default()),
                Kind::Props => BatchColumn::Props(Vec::new()),
            })
            .collect();
        Batch { columns }
    }
}

impl Batch {
    /// How column `column` (an index into [`COLUMNS`]) is pushed.
    pub fn kind(&self, column: usize) -> Kind {
        match self.columns[column] {
            BatchColumn::Int(_) => Kind::Int,
            BatchColumn::NullableInt(_) => Kind::NullableInt,
            BatchColumn::Str(_) => Kind::Str,
            BatchColumn::Props(_) => Kind::Props,
        }
    }

    /// Pushes a value of an integer column (`Kind::Int`, or `NullableInt` with `Some`).
    pub fn push_int(&mut self, column: usize, value: Option<i64>) {
        match &mut self.columns[column] {
            BatchColumn::Int(v) => v.push(value.unwrap_or_default()),
            BatchColumn::NullableInt(v) => v.push(value),
            _ => panic!("{} is not an integer column", COLUMNS[column]),
        }
    }

    pub fn push_str(&mut self, column: usize, value: Option<&str>) {
        match &mut self.columns[column] {
            BatchColumn::Str(s) => s.push(value),
            _ => panic!("{} is not a string column", COLUMNS[column]),
        }
    }

    pub fn push_props(&mut self, column: usize, value: Vec<(String, String)>) {
        match &mut self.columns[column] {
            BatchColumn::Props(p) => p.push(value),
            _ => panic!("{} is not a properties column", COLUMNS[column]),
        }
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.ints("ts").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A batch of the rows `rows` (indices into this one) in that order, to push more
    /// rows after: what a chunked reader keeps of a chunk for the next one.
    pub fn with_rows(&self, rows: &[u32]) -> Batch {
        let pick = |v: &[i64]| rows.iter().map(|&r| v[r as usize]).collect();
        let columns = self
            .columns
            .iter()
            .map(|column| match column {
                BatchColumn::Int(v) => BatchColumn::Int(pick(v)),
                BatchColumn::NullableInt(v) => BatchColumn::NullableInt(rows.iter().map(|&r| v[r as usize]).collect()),
                BatchColumn::Str(s) => BatchColumn::Str(s.with_rows(rows)),
                BatchColumn::Props(p) => BatchColumn::Props(rows.iter().map(|&r| p[r as usize].clone()).collect()),
            })
            .collect();
        Batch { columns }
    }

    /// The integer column `name` (`site_id`, `ts`, ...), one value per row.
    pub fn ints(&self, name: &str) -> &[i64] {
        match index_of(name).ok().map(|c| &self.columns[c]) {
            Some(BatchColumn::Int(v)) => v,
            _ => panic!("{name} is not an integer column"),
        }
    }
}

/// Encodes the rows `rows` (indices into `batch`, ascending) as one segment: the bytes
/// [`super::build`] writes for those rows as events.
pub fn build_rows(batch: &Batch, rows: &[u32]) -> Result<Segment, SegmentError> {
    if rows.len() > MAX_ROWS {
        return Err(SegmentError::TooManyRows { rows: rows.len(), limit: MAX_ROWS });
    }
    let (visitors, sessions, ts) = (batch.ints("visitor_id"), batch.ints("session_id"), batch.ints("ts"));
    let mut keys: Vec<(i64, i64, i64, u32)> =
        rows.iter().map(|&r| (visitors[r as usize], sessions[r as usize], ts[r as usize], r)).collect();
    keys.sort_unstable();
    let order: Vec<u32> = keys.iter().map(|k| k.3).collect();
    let zone = ZoneMap {
        rows: rows.len(),
        ts_min: rows.iter().map(|&r| ts[r as usize]).min().unwrap_or(0),
        ts_max: rows.iter().map(|&r| ts[r as usize]).max().unwrap_or(0),
    };
    let runs = Runs::from_sorted_keys(keys.iter().map(|k| (k.0, k.1)));
    drop(keys);
    assemble(zone, &runs, rows.len(), |column, blocks| {
        let values = match &batch.columns[column] {
            BatchColumn::Int(v) => Values::Int(order.iter().map(|&r| v[r as usize]).collect()),
            BatchColumn::NullableInt(v) => Values::NullableInt(order.iter().map(|&r| v[r as usize]).collect()),
            BatchColumn::Str(s) => Values::Str(s.dict_column(&order)),
            BatchColumn::Props(p) => Values::Props(order.iter().map(|&r| p[r as usize].as_slice()).collect()),
        };
        Ok(encode_block(values, &runs, blocks))
    })
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::datagen::{Config, DataGen};
    use crate::event::Event;
    use crate::segment::build;

    /// `event` as a row of `batch`, column by column (what the hot table scan does).
    fn push_event(batch: &mut Batch, e: &Event) {
        let ints = [("site_id", Some(i64::from(e.site_id))), ("ts", Some(e.ts)), ("visitor_id", Some(e.visitor_id))];
        let more = [
            ("session_id", Some(e.session_id)),
            ("screen_width", e.screen_width.map(i64::from)),
            ("engagement_ms", e.engagement_ms.map(i64::from)),
            ("revenue_micros", e.revenue_micros),
            ("scroll_depth", e.scroll_depth.map(i64::from)),
            ("interactive", e.interactive.map(i64::from)),
        ];
        for (name, value) in ints.into_iter().chain(more) {
            batch.push_int(index_of(name).unwrap(), value);
        }
        for column in 0..COLUMNS.len() {
            if let Some(field) = text_field(column) {
                batch.push_str(column, field(e));
            }
        }
        batch.push_props(index_of("props").unwrap(), e.props.clone());
    }

    #[test]
    fn rows_of_a_batch_encode_as_their_events() {
        let events: Vec<Event> = DataGen::new(Config { events: 3_000, sites: 3, days: 2, ..Config::default() }).collect();
        assert!(events.iter().any(|e| !e.props.is_empty()) && events.iter().any(|e| e.revenue_micros.is_some()));
        let mut batch = Batch::default();
        for e in &events {
            push_event(&mut batch, e);
        }
        // Each site's rows, as compaction slices them, and every row at once.
        for site in 1..=3 {
            let rows: Vec<u32> = (0..events.len() as u32).filter(|&r| events[r as usize].site_id == site).collect();
            let of_site: Vec<Event> = rows.iter().map(|&r| events[r as usize].clone()).collect();
            assert_eq!(build_rows(&batch, &rows).unwrap(), build(&of_site).unwrap(), "site {site}");
        }
        let all: Vec<u32> = (0..events.len() as u32).collect();
        assert_eq!(build_rows(&batch, &all).unwrap(), build(&events).unwrap());
    }

    #[test]
    fn rows_kept_for_a_later_chunk_encode_as_their_events() {
        let events: Vec<Event> = DataGen::new(Config { events: 2_000, sites: 2, days: 2, ..Config::default() }).collect();
        let mut batch = Batch::default();
        for e in &events[..1_200] {
            push_event(&mut batch, e);
        }
        // Every other row of site 1 kept, then the rest of the events pushed after them.
        let kept: Vec<u32> = (0..1_200u32).filter(|&r| events[r as usize].site_id == 1 && r % 2 == 0).collect();
        let mut next = batch.with_rows(&kept);
        assert_eq!(next.len(), kept.len());
        for e in &events[1_200..] {
            push_event(&mut next, e);
        }
        let expected: Vec<Event> = kept.iter().map(|&r| events[r as usize].clone()).chain(events[1_200..].iter().cloned()).collect();
        let all: Vec<u32> = (0..next.len() as u32).collect();
        assert_eq!(build_rows(&next, &all).unwrap(), build(&expected).unwrap());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever strings repeat (in runs or not), are NULL, empty, prefixes of each
        /// other, of one length or long with a long common prefix, the interned rows
        /// (and the rows kept from them for a later chunk) encode as their events do
        /// through `DictBuilder`.
        #[test]
        fn interned_strings_encode_as_their_events(
            pool in vec("[ab/é]{0,3}|[ab]{14,19}", 1..8),
            picks in vec((any::<u8>(), any::<u8>(), any::<u8>()), 200),
            keep_every in 1..4u32,
        ) {
            let mut events: Vec<Event> = DataGen::new(Config { events: 200, sites: 2, days: 2, ..Config::default() }).collect();
            let pick = |i: u8| pool[usize::from(i) % pool.len()].clone();
            for (e, (path, referrer, country)) in events.iter_mut().zip(picks) {
                e.pathname = pick(path);
                e.referrer = (referrer % 4 != 0).then(|| pick(referrer / 4));
                e.country = (country % 3 != 0).then(|| pick(country / 3));
            }
            let mut batch = Batch::default();
            for e in &events[..120] {
                push_event(&mut batch, e);
            }
            let all: Vec<u32> = (0..120).collect();
            prop_assert_eq!(build_rows(&batch, &all).unwrap(), build(&events[..120]).unwrap());
            let kept: Vec<u32> = (0..120).filter(|r| r % keep_every == 0).collect();
            let mut next = batch.with_rows(&kept);
            for e in &events[120..] {
                push_event(&mut next, e);
            }
            let expected: Vec<Event> = kept.iter().map(|&r| events[r as usize].clone()).chain(events[120..].iter().cloned()).collect();
            let all: Vec<u32> = (0..next.len() as u32).collect();
            prop_assert_eq!(build_rows(&next, &all).unwrap(), build(&expected).unwrap());
        }
    }
}
