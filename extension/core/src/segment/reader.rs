//! Reading a segment: header, checksum and directory up front, column blocks only
//! when asked for.

use crate::codec::{Cursor, DecodeError};
use crate::event::{Event, COLUMNS};

use super::column::{decode_block, decode_units, Column, IntColumn, StoredColumn};
use super::runs::{Level, Runs};
use super::schema::{assign, index_of, kind, Kind};
use super::{SegmentError, ZoneMap, MAGIC, MAX_ROWS, VERSION};
use crate::codec::dict::{DictColumn, NULL_CODE};
use crate::copy_frames::FIRST_RELEASE_FIELDS;

/// Bytes of the trailing CRC32.
const CHECKSUM_LEN: usize = 4;

/// A parsed segment borrowing its bytes (the detoasted bytea), decoding columns on
/// demand.
#[derive(Debug, Clone)]
pub struct SegmentReader<'a> {
    zone: ZoneMap,
    runs: Runs,
    /// Bytes of magic, header, visit structure and directory, for size accounting.
    header_len: usize,
    /// Each column's block, by index in [`COLUMNS`]; `None` if not stored.
    blocks: Vec<Option<&'a [u8]>>,
}

/// A segment's bytes as a scan receives them, with whether their checksum was verified
/// already (a cache keeps only verified bytes), so opening them hashes them at most once.
#[derive(Debug, Clone, Copy)]
pub struct SegmentBytes<'a> {
    pub bytes: &'a [u8],
    pub verified: bool,
}

impl<'a> SegmentBytes<'a> {
    /// A reader of the bytes, verifying their checksum unless that was done.
    pub fn reader(self) -> Result<SegmentReader<'a>, SegmentError> {
        match self.verified {
            true => SegmentReader::open_verified(self.bytes),
            false => SegmentReader::open(self.bytes),
        }
    }
}

impl<'a> From<&'a [u8]> for SegmentBytes<'a> {
    /// Bytes not verified yet.
    fn from(bytes: &'a [u8]) -> Self {
        SegmentBytes { bytes, verified: false }
    }
}

impl<'a> SegmentReader<'a> {
    /// Verifies the checksum and parses header, visit structure and column directory.
    pub fn open(bytes: &'a [u8]) -> Result<Self, SegmentError> {
        Self::verify(bytes)?;
        Self::open_verified(bytes)
    }

    /// Checks the magic bytes and the checksum of a segment's bytes.
    pub fn verify(bytes: &[u8]) -> Result<(), SegmentError> {
        let (body, checksum) = split(bytes)?;
        let mut stored = [0u8; CHECKSUM_LEN];
        stored.copy_from_slice(checksum);
        if crc32fast::hash(body) != u32::from_le_bytes(stored) {
            return Err(SegmentError::Checksum);
        }
        Ok(())
    }

    /// [`SegmentReader::open`] of bytes [`SegmentReader::verify`] accepted before (a
    /// cache's copy of them), without hashing them again; the rest is still checked.
    pub fn open_verified(bytes: &'a [u8]) -> Result<Self, SegmentError> {
        let (body, _) = split(bytes)?;
        let mut cur = Cursor::new(&body[MAGIC.len()..]);
        let version = cur.u8("version")?;
        if version != VERSION {
            return Err(SegmentError::UnsupportedVersion(version));
        }
        let rows = cur.count(MAX_ROWS, "row count")?;
        let ts_min = cur.varint_i64("ts_min")?;
        let ts_max = cur.varint_i64("ts_max")?;
        let runs = Runs::decode_from(&mut cur, rows)?;

        let stored_columns = cur.count(COLUMNS.len(), "column count")?;
        let mut lengths = vec![None; COLUMNS.len()];
        for _ in 0..stored_columns {
            let column = cur.count(COLUMNS.len() - 1, "column index")?;
            let len = cur.count(body.len(), "column block length")?;
            if lengths[column].replace(len).is_some() {
                return Err(DecodeError::Invalid("duplicate column").into());
            }
        }
        let header_len = body.len() - cur.remaining();
        let mut blocks = vec![None; COLUMNS.len()];
        for column in 0..COLUMNS.len() {
            if let Some(len) = lengths[column] {
                blocks[column] = Some(cur.take(len, "column block")?);
            }
        }
        cur.finish()?;
        Ok(Self { zone: ZoneMap { rows, ts_min, ts_max }, runs, header_len, blocks })
    }

    pub fn zone(&self) -> ZoneMap {
        self.zone
    }

    pub fn rows(&self) -> usize {
        self.zone.rows
    }

    /// Rows of each visit (session) in storage order; the rows of one visit are
    /// consecutive and sorted by `ts`, so kernels find entry and exit pages, bounces and
    /// durations without decoding `session_id`.
    pub fn session_rows(&self) -> &[u32] {
        self.runs.session_rows()
    }

    /// Decodes the column `name` (one of [`COLUMNS`]).
    pub fn column(&self, name: &str) -> Result<Column, SegmentError> {
        self.column_at(index_of(name)?)
    }

    /// Decodes the integer column `name`; another kind of column is an error naming it.
    pub fn int_column(&self, name: &str) -> Result<IntColumn, SegmentError> {
        let column = index_of(name)?;
        match self.column_at(column)? {
            Column::Int(c) => Ok(c),
            _ => Err(SegmentError::BadColumn { column: COLUMNS[column], reason: "expected an integer column" }),
        }
    }

    /// Decodes the column `name` as stored, one value per unit of its level, for
    /// kernels that work per visit or translate codes once per unit.
    pub fn stored_column(&self, name: &str) -> Result<StoredColumn<'_>, SegmentError> {
        let column = index_of(name)?;
        let (level, units) = match self.blocks[column] {
            Some(block) => decode_units(kind(column), block, &self.runs, self.zone.rows)?,
            None => (Level::Row, self.absent(column)?),
        };
        Ok(StoredColumn::new(level, units, &self.runs))
    }

    /// Decodes the named columns, in the order given.
    pub fn columns(&self, names: &[&str]) -> Result<Vec<Column>, SegmentError> {
        names.iter().map(|name| self.column(name)).collect()
    }

    /// Materializes every row, in storage order (visitor_id, session_id, ts).
    pub fn events(&self) -> Result<Vec<Event>, SegmentError> {
        let mut events = vec![Event::default(); self.zone.rows];
        for column in 0..COLUMNS.len() {
            assign(column, &self.column_at(column)?, &mut events)?;
        }
        Ok(events)
    }

    /// Materializes the rows `rows` (indices in storage order) with only the columns
    /// `names` decoded; the other fields keep their defaults. For readers that need a
    /// few fields of a few rows of a large segment.
    pub fn events_at(&self, names: &[&str], rows: &[u32]) -> Result<Vec<Event>, SegmentError> {
        let mut events = vec![Event::default(); rows.len()];
        for name in names {
            let column = index_of(name)?;
            let picked = match self.column_at(column)? {
                Column::Int(c) => Column::Int(IntColumn {
                    values: rows.iter().map(|&r| c.values[r as usize]).collect(),
                    validity: c.validity.map(|v| rows.iter().map(|&r| v[r as usize]).collect()),
                }),
                Column::Str(d) => Column::Str(DictColumn { codes: rows.iter().map(|&r| d.codes[r as usize]).collect(), dict: d.dict }),
                Column::Props(_) => {
                    return Err(SegmentError::BadColumn { column: COLUMNS[column], reason: "rows of properties are not picked" })
                }
            };
            assign(column, &picked, &mut events)?;
        }
        Ok(events)
    }

    /// Encoded bytes per column, with the header, visit structure, directory and
    /// checksum reported as `"(header)"`: the input of size analysis.
    pub fn column_sizes(&self) -> Vec<(&'static str, usize)> {
        let mut sizes = vec![("(header)", self.header_len + CHECKSUM_LEN)];
        for (column, block) in self.blocks.iter().enumerate() {
            if let Some(block) = block {
                sizes.push((COLUMNS[column], block.len()));
            }
        }
        sizes
    }

    /// Whether some value in the dictionary of the string column `column` (an index
    /// into [`COLUMNS`]) passes `test`; only the dictionary is decoded.
    pub fn dictionary_has(&self, column: usize, test: impl FnMut(&[u8]) -> bool) -> Result<bool, SegmentError> {
        if kind(column) != Kind::Str {
            return Err(SegmentError::BadColumn { column: COLUMNS[column], reason: "expected a string column" });
        }
        let Some(block) = self.blocks[column] else { return Err(SegmentError::MissingColumn(COLUMNS[column])) };
        let mut cur = Cursor::new(block);
        Level::from_byte(cur.u8("column level")?)?;
        Ok(crate::codec::dict::any_value(&mut cur, test)?)
    }

    pub(crate) fn column_at(&self, column: usize) -> Result<Column, SegmentError> {
        match self.blocks[column] {
            Some(block) => Ok(decode_block(kind(column), block, &self.runs, self.zone.rows)?),
            None => self.absent(column),
        }
    }

    /// A column the segment has no block for: every row NULL for a nullable integer or
    /// string column (one added to [`COLUMNS`] after the segment was written), an error
    /// for any other, since a writer always stores those.
    fn absent(&self, column: usize) -> Result<Column, SegmentError> {
        let rows = self.zone.rows;
        match kind(column) {
            Kind::NullableInt => Ok(Column::Int(IntColumn { values: vec![0; rows], validity: Some(vec![false; rows]) })),
            Kind::Str if column >= FIRST_RELEASE_FIELDS => Ok(Column::Str(DictColumn { dict: Vec::new(), codes: vec![NULL_CODE; rows] })),
            _ => Err(SegmentError::MissingColumn(COLUMNS[column])),
        }
    }
}

/// The body and the checksum of a segment's bytes, once its magic bytes are checked.
fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), SegmentError> {
    if bytes.len() < MAGIC.len() + 1 + CHECKSUM_LEN || bytes[..MAGIC.len()] != MAGIC {
        return Err(SegmentError::BadMagic);
    }
    Ok(bytes.split_at(bytes.len() - CHECKSUM_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagen::{Config, DataGen};
    use crate::segment::builder::assemble_first;
    use crate::segment::column::encode_block;
    use crate::segment::schema::extract;
    use crate::segment::{build, merge};

    #[test]
    fn only_bytes_not_verified_yet_are_hashed() {
        let events: Vec<Event> = DataGen::new(Config { events: 200, sites: 1, days: 1, ..Config::default() }).collect();
        let mut bytes = build(&events).unwrap().bytes;
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        // A damaged checksum is found in bytes received unverified, and not looked at
        // again in bytes a cache verified when it kept them.
        assert!(matches!(SegmentBytes::from(bytes.as_slice()).reader(), Err(SegmentError::Checksum)));
        let verified = SegmentBytes { bytes: &bytes, verified: true }.reader().unwrap();
        assert_eq!(verified.zone().rows, events.len());
    }

    /// `events` as a writer that knew only the first `columns` columns stored them.
    fn written_with(columns: usize, events: &[Event]) -> Vec<u8> {
        let mut sorted = events.to_vec();
        sorted.sort_by_key(|e| (e.visitor_id, e.session_id, e.ts));
        let order: Vec<u32> = (0..sorted.len() as u32).collect();
        let runs = Runs::from_sorted_keys(sorted.iter().map(|e| (e.visitor_id, e.session_id)));
        let zone = ZoneMap {
            rows: sorted.len(),
            ts_min: sorted.iter().map(|e| e.ts).min().unwrap_or(0),
            ts_max: sorted.iter().map(|e| e.ts).max().unwrap_or(0),
        };
        assemble_first(columns, zone, &runs, sorted.len(), |column, out| Ok(encode_block(extract(column, &sorted, &order), &runs, out)))
            .unwrap()
            .bytes
    }

    #[test]
    fn columns_added_later_read_as_null_in_older_segments() {
        let mut events: Vec<Event> = DataGen::new(Config { events: 2_000, sites: 1, days: 1, ..Config::default() }).collect();
        events.iter_mut().for_each(|e| (e.interactive, e.channel) = (Some(e.name != "Signup"), Some("Referral".into())));
        assert!(events.iter().any(|e| e.scroll_depth.is_some()));
        let old = written_with(index_of("props").unwrap() + 1, &events);
        let reader = SegmentReader::open(&old).unwrap();
        let read = reader.events().unwrap();
        assert!(read.iter().all(|e| e.scroll_depth.is_none() && e.interactive.is_none() && e.channel.is_none()));
        for column in ["scroll_depth", "channel"] {
            let stored = reader.stored_column(column).unwrap();
            assert_eq!(stored.to_rows(vec![0u8; stored.units.len()]).unwrap().len(), events.len());
        }

        let mut expected = read.clone();
        let newer = build(&events).unwrap().bytes;
        expected.extend(SegmentReader::open(&newer).unwrap().events().unwrap());
        let merged = merge(&[reader, SegmentReader::open(&newer).unwrap()]).unwrap();
        let mut got = SegmentReader::open(&merged.bytes).unwrap().events().unwrap();
        let key = |e: &Event| (e.visitor_id, e.session_id, e.ts, e.name.clone(), e.scroll_depth, e.interactive, e.channel.clone());
        expected.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(got, expected);
    }
}
