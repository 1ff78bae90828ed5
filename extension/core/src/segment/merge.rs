//! Merging segments column by column, what compaction's tier merges do: each input's
//! columns are decoded once, the output rows are the inputs' rows in (visitor_id,
//! session_id, ts) order (ties in input order), strings are re-coded into one
//! dictionary per column by translating codes, and the blocks are encoded as
//! [`super::build`] encodes them.
//! The bytes equal `build` of the inputs' events concatenated (tested); materializing
//! those events (a `String` per field and row, allocated and freed) made a merge cost
//! three times a build.

use crate::codec::dict::{DictColumn, NULL_CODE};
use crate::event::COLUMNS;

use super::builder::{assemble, Segment};
use super::column::{encode_block, Column, IntColumn};
use super::runs::Runs;
use super::schema::{kind, Kind, Values};
use super::{SegmentError, SegmentReader, ZoneMap, MAX_ROWS};

/// One segment holding every row of `readers`.
pub fn merge(readers: &[SegmentReader<'_>]) -> Result<Segment, SegmentError> {
    let rows: usize = readers.iter().map(|r| r.zone().rows).sum();
    if rows > MAX_ROWS {
        return Err(SegmentError::TooManyRows { rows, limit: MAX_ROWS });
    }
    // (visitor, session, ts, input, row): the input and row last, so ties keep input order.
    let mut keys: Vec<(i64, i64, i64, u32, u32)> = Vec::with_capacity(rows);
    for (input, reader) in readers.iter().enumerate() {
        let ints = |name| reader.int_column(name).map(|c| c.values);
        let (visitors, sessions, ts) = (ints("visitor_id")?, ints("session_id")?, ints("ts")?);
        for row in 0..reader.zone().rows {
            keys.push((visitors[row], sessions[row], ts[row], input as u32, row as u32));
        }
    }
    keys.sort_unstable();
    let filled = readers.iter().map(|r| r.zone()).filter(|z| z.rows > 0);
    let zone =
        ZoneMap { rows, ts_min: filled.clone().map(|z| z.ts_min).min().unwrap_or(0), ts_max: filled.map(|z| z.ts_max).max().unwrap_or(0) };
    let runs = Runs::from_sorted_keys(keys.iter().map(|k| (k.0, k.1)));
    let order: Vec<(usize, usize)> = keys.iter().map(|k| (k.3 as usize, k.4 as usize)).collect();
    drop(keys);
    assemble(zone, &runs, rows, |column, blocks| {
        let decoded = readers.iter().map(|r| r.column_at(column)).collect::<Result<Vec<Column>, _>>()?;
        let bad = SegmentError::BadColumn { column: COLUMNS[column], reason: "column kinds differ between segments" };
        Ok(match kind(column) {
            Kind::Int | Kind::NullableInt => {
                let columns = decoded.iter().map(|c| if let Column::Int(c) = c { Ok(c) } else { Err(bad.clone()) });
                let columns = columns.collect::<Result<Vec<&IntColumn>, _>>()?;
                let values = if kind(column) == Kind::Int {
                    Values::Int(order.iter().map(|&(i, row)| columns[i].values[row]).collect())
                } else {
                    Values::NullableInt(order.iter().map(|&(i, row)| columns[i].get(row)).collect())
                };
                encode_block(values, &runs, blocks)
            }
            Kind::Str => {
                let dicts = decoded.iter().map(|c| if let Column::Str(d) = c { Ok(d) } else { Err(bad.clone()) });
                encode_block(Values::Str(merged_dict(&dicts.collect::<Result<Vec<_>, _>>()?, &order)), &runs, blocks)
            }
            Kind::Props => {
                // Few rows have properties: only theirs are allocated.
                let mut owned: Vec<Vec<(String, String)>> = Vec::with_capacity(rows);
                for &(i, row) in &order {
                    let Column::Props(props) = &decoded[i] else { return Err(bad) };
                    owned.push(props.row(row).map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
                }
                encode_block(Values::Props(owned.iter().map(Vec::as_slice).collect()), &runs, blocks)
            }
        })
    })
}

/// The string column of the rows `order` (input, row) of `inputs`. Dictionaries are
/// sorted, so the merged one is the sorted union of the inputs' and each input code
/// maps to one merged code: a table lookup per row, where coding the strings again
/// hashed each of them.
fn merged_dict(inputs: &[&DictColumn], order: &[(usize, usize)]) -> DictColumn {
    let mut dict: Vec<&str> = inputs.iter().flat_map(|d| d.dict.iter().map(String::as_str)).collect();
    dict.sort_unstable();
    dict.dedup();
    let merged_code = |value: &String| dict.binary_search(&value.as_str()).map_or(NULL_CODE, |k| k as u32 + 1);
    let translate: Vec<Vec<u32>> =
        inputs.iter().map(|d| std::iter::once(NULL_CODE).chain(d.dict.iter().map(merged_code)).collect()).collect();
    // Decoding checked every code against its dictionary.
    let codes = order.iter().map(|&(i, row)| translate[i][inputs[i].codes[row] as usize]).collect();
    DictColumn { dict: dict.into_iter().map(str::to_owned).collect(), codes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagen::{Config, DataGen};
    use crate::event::Event;
    use crate::segment::build;

    /// `merge` of segments equals `build` of their events concatenated, byte for byte.
    fn assert_merges_as_built(parts: &[Vec<Event>]) {
        let built: Vec<Segment> = parts.iter().map(|p| build(p).unwrap()).collect();
        let readers: Vec<SegmentReader<'_>> = built.iter().map(|s| SegmentReader::open(&s.bytes).unwrap()).collect();
        let all: Vec<Event> = readers.iter().flat_map(|r| r.events().unwrap()).collect();
        let merged = merge(&readers).unwrap();
        assert_eq!(merged, build(&all).unwrap());
        let mut back = SegmentReader::open(&merged.bytes).unwrap().events().unwrap();
        let mut expected: Vec<Event> = parts.concat();
        let key = |e: &Event| (e.visitor_id, e.session_id, e.ts, e.pathname.clone(), e.name.clone());
        back.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(back, expected, "the merged rows are not the inputs' rows");
    }

    #[test]
    fn a_merge_equals_a_build_of_the_same_events() {
        let events: Vec<Event> = DataGen::new(Config { events: 20_000, sites: 1, days: 2, ..Config::default() }).collect();
        // Uneven parts, one empty, visits split across parts, properties and revenue.
        assert!(events.iter().any(|e| !e.props.is_empty()) && events.iter().any(|e| e.revenue_micros.is_some()));
        let cuts = [0, 7, 5_000, 5_000, 12_345, events.len()];
        let parts: Vec<Vec<Event>> = cuts.windows(2).map(|w| events[w[0]..w[1]].to_vec()).collect();
        assert_merges_as_built(&parts);
        // The same visitor's events in several parts, interleaved in time.
        let dealt = |parity: usize| events.iter().skip(parity).step_by(2).cloned().collect::<Vec<Event>>();
        assert_merges_as_built(&[dealt(1), dealt(0)]);
        // Identical rows in two parts (a replayed batch) stay two rows.
        assert_merges_as_built(&[events[..100].to_vec(), events[..100].to_vec()]);
    }
}
