//! Decoded column vectors, and the block payload of each column kind.

use crate::codec::dict::{self, DictColumn};
use crate::codec::props::{self, PropsColumn};
use crate::codec::{ints, Cursor, DecodeError};

use super::ranges::StringRange;
use super::runs::{Level, Runs};
use super::schema::{Kind, Values};

/// A decoded column, one entry per row in segment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// Integer columns; `i32` fields are widened.
    Int(IntColumn),
    /// String columns as dictionary + codes, so kernels filter and group on codes.
    Str(DictColumn),
    /// Custom properties.
    Props(PropsColumn),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Int(c) => c.values.len(),
            Column::Str(c) => c.len(),
            Column::Props(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the column takes once every row's value is written out (a string per row,
    /// a key and value per property), plus `per_value` for each value's own overhead.
    /// Decoding is bounded by the encoded size, but writing out is not: a crafted
    /// segment of a few kilobytes may hold a million rows of one long string, so a
    /// reader that materializes rows checks this first. Computed from the dictionary
    /// and the codes.
    pub fn materialized_bytes(&self, per_value: usize) -> usize {
        // At most MAX_VALUES codes of strings of at most 64 MB: no overflow.
        let strings = |d: &DictColumn| -> usize { d.codes.iter().map(|&code| d.resolve(code).map_or(0, |s| s.len() + per_value)).sum() };
        match self {
            Column::Int(c) => c.values.len().saturating_mul(8 + per_value),
            Column::Str(d) => strings(d),
            Column::Props(p) => strings(&p.keys).saturating_add(strings(&p.values)).saturating_add(p.len().saturating_mul(per_value)),
        }
    }
}

/// Integer values with an optional validity vector (`None`: no NULLs). NULL rows hold
/// 0 in `values`, so kernels can run over `values` without branching and mask after.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntColumn {
    pub values: Vec<i64>,
    pub validity: Option<Vec<bool>>,
}

impl IntColumn {
    /// The value of `row`, `None` for NULL or a row past the end.
    pub fn get(&self, row: usize) -> Option<i64> {
        let valid = self.validity.as_ref().is_none_or(|v| v.get(row) == Some(&true));
        self.values.get(row).copied().filter(|_| valid)
    }
}

/// How a nullable integer block records its NULLs.
const NO_NULLS: u8 = 0;
const ALL_NULL: u8 = 1;
const SOME_NULLS: u8 = 2;

/// Encodes one column block: `[u8 level][payload]`, at the coarsest level the values
/// allow. String columns are dictionary-coded first, so finding their level compares
/// `u32` codes rather than strings (the dictionary is the same at every level, since
/// a value constant within units appears in the first row of one). The range of a
/// string column's values, for the catalog.
pub(crate) fn encode_block(values: Values<'_>, runs: &Runs, out: &mut Vec<u8>) -> Option<StringRange> {
    match values {
        Values::Int(v) => {
            let level = runs.level_of(&v);
            out.push(level as u8);
            match level {
                Level::Row => ints::encode_into(&v, out),
                _ => ints::encode_into(&runs.at_level(level, &v), out),
            }
            None
        }
        Values::NullableInt(v) => {
            let level = runs.level_of(&v);
            out.push(level as u8);
            encode_nullable(&runs.at_level(level, &v), out);
            None
        }
        Values::Str(mut column) => {
            let range = StringRange::of(&column);
            let level = runs.level_of(&column.codes);
            out.push(level as u8);
            if level != Level::Row {
                column.codes = runs.at_level(level, &column.codes);
            }
            dict::encode_into(&column, out);
            range
        }
        Values::Props(rows) => {
            out.push(Level::Row as u8);
            props::encode_into(&PropsColumn::from_rows(&rows), out);
            None
        }
    }
}

/// Decodes a column block of `kind` into one value per row.
pub(crate) fn decode_block(kind: Kind, bytes: &[u8], runs: &Runs, rows: usize) -> Result<Column, DecodeError> {
    let (level, units) = decode_units(kind, bytes, runs, rows)?;
    let column = match units {
        Column::Int(IntColumn { values, validity }) => {
            Column::Int(IntColumn { values: runs.expand(level, values)?, validity: validity.map(|v| runs.expand(level, v)).transpose()? })
        }
        Column::Str(mut column) => {
            column.codes = runs.expand(level, column.codes)?;
            Column::Str(column)
        }
        props => props,
    };
    check_len(column.len(), rows)?;
    Ok(column)
}

/// Decodes a column block of `kind` as stored: one value per unit of its level.
pub(crate) fn decode_units(kind: Kind, bytes: &[u8], runs: &Runs, rows: usize) -> Result<(Level, Column), DecodeError> {
    let mut cur = Cursor::new(bytes);
    let level = Level::from_byte(cur.u8("column level")?)?;
    let units = runs.units(level, rows);
    let column = match kind {
        Kind::Int => Column::Int(IntColumn { values: ints::decode_from(&mut cur)?, validity: None }),
        Kind::NullableInt => Column::Int(decode_nullable(&mut cur, units)?),
        Kind::Str => Column::Str(dict::decode_from(&mut cur)?),
        Kind::Props => {
            if level != Level::Row {
                return Err(DecodeError::Invalid("properties level"));
            }
            Column::Props(props::decode_from(&mut cur)?)
        }
    };
    cur.finish()?;
    check_len(column.len(), units)?;
    Ok((level, column))
}

/// A column as stored, one value per unit of its level (row, visit or visitor), with
/// the runs that expand it: a reader can work once per unit (translate a visit's
/// dictionary code, read a visit's visitor id) before expanding, or never expand.
#[derive(Debug)]
pub struct StoredColumn<'r> {
    pub units: Column,
    level: Level,
    runs: &'r Runs,
}

impl<'r> StoredColumn<'r> {
    pub(crate) fn new(level: Level, units: Column, runs: &'r Runs) -> Self {
        StoredColumn { units, level, runs }
    }

    /// Whether the values are constant within each visit (stored per visit or visitor).
    pub fn per_visit_or_coarser(&self) -> bool {
        self.level != Level::Row
    }

    /// `values`, one per unit, repeated for every row of its unit.
    pub fn to_rows<T: Copy + Default + PartialEq>(&self, values: Vec<T>) -> Result<Vec<T>, DecodeError> {
        self.runs.expand(self.level, values)
    }

    /// `values`, one per unit, as one per visit (the first row's, for values per row).
    pub fn to_visits<T: Copy + Default + PartialEq>(&self, values: Vec<T>) -> Result<Vec<T>, DecodeError> {
        self.runs.to_sessions(self.level, values)
    }
}

/// `[u8 null mode][integer block(validity 0/1) if some NULLs][integer block(present values) unless all NULL]`.
fn encode_nullable(values: &[Option<i64>], out: &mut Vec<u8>) {
    let present: Vec<i64> = values.iter().flatten().copied().collect();
    if present.len() == values.len() {
        out.push(NO_NULLS);
    } else if present.is_empty() {
        out.push(ALL_NULL);
        return;
    } else {
        out.push(SOME_NULLS);
        let validity: Vec<i64> = values.iter().map(|v| i64::from(v.is_some())).collect();
        ints::encode_into(&validity, out);
    }
    ints::encode_into(&present, out);
}

fn decode_nullable(cur: &mut Cursor<'_>, units: usize) -> Result<IntColumn, DecodeError> {
    match cur.u8("null mode")? {
        NO_NULLS => {
            let values = ints::decode_from(cur)?;
            check_len(values.len(), units)?;
            Ok(IntColumn { values, validity: None })
        }
        ALL_NULL => Ok(IntColumn { values: vec![0; units], validity: Some(vec![false; units]) }),
        SOME_NULLS => {
            let validity = ints::decode_from(cur)?
                .into_iter()
                .map(|v| match v {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(DecodeError::Invalid("validity flag")),
                })
                .collect::<Result<Vec<bool>, _>>()?;
            check_len(validity.len(), units)?;
            let mut present = ints::decode_from(cur)?.into_iter();
            let mut values = Vec::with_capacity(units);
            for &valid in &validity {
                values.push(match valid {
                    true => present.next().ok_or(DecodeError::Invalid("present value count"))?,
                    false => 0,
                });
            }
            if present.next().is_some() {
                return Err(DecodeError::Invalid("present value count"));
            }
            Ok(IntColumn { values, validity: Some(validity) })
        }
        _ => Err(DecodeError::Invalid("null mode")),
    }
}

fn check_len(actual: usize, expected: usize) -> Result<(), DecodeError> {
    if actual != expected {
        return Err(DecodeError::Invalid("column length"));
    }
    Ok(())
}
