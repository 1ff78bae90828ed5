//! A decoded row as a virtual tuple of `tally.events_scan`: integers by value, strings
//! as one text datum per dictionary entry of the segment, properties as one jsonb
//! datum per distinct set of pairs in the segment (each made on first use and shared
//! by every row with that value: events of a site carry few distinct properties).

use std::collections::HashMap;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use tally_core::codec::dict::NULL_CODE;
use tally_core::event::COLUMNS;
use tally_core::scan::Decoded;
use tally_core::segment::Column;

use crate::storage::arrays::PG_EPOCH_OFFSET_US;
use crate::storage::layout::sql_type;

/// Refuses a relation whose columns are not the event columns in order (those of an
/// older release may lack the last ones, see [`crate::storage::layout`]): the
/// extension's SQL and library would disagree about what a row is.
///
/// # Safety
/// `rel` is an open relation.
pub(super) unsafe fn check_layout(rel: pg_sys::Relation) {
    unsafe {
        let desc = (*rel).rd_att;
        let attrs = (*desc).attrs.as_slice((*desc).natts as usize);
        let matches = attrs.len() <= COLUMNS.len()
            && attrs.len() >= tally_core::copy_frames::FIRST_RELEASE_FIELDS
            && attrs.iter().enumerate().all(|(i, a)| {
                let name = std::ffi::CStr::from_ptr(a.attname.data.as_ptr()).to_str().unwrap_or("");
                !a.attisdropped && name == COLUMNS[i] && a.atttypid == sql_type(i)
            });
        if !matches {
            error!("tally.events_scan does not have the event columns in order: the extension's SQL and library differ (run ALTER EXTENSION tally UPDATE)");
        }
    }
}

/// The datums made for the current segment: texts per column and code (0: not made),
/// and jsonb properties by the key and value codes of their pairs.
#[derive(Default)]
pub(super) struct Texts {
    datums: Vec<Vec<pg_sys::Datum>>,
    props: HashMap<Vec<u32>, pg_sys::Datum>,
    /// The codes of the row being filled (a lookup key without an allocation).
    pairs: Vec<u32>,
}

impl Texts {
    /// Forgets the datums of the previous segment (its memory context was reset).
    pub(super) fn reset(&mut self, decoded: &Decoded) {
        self.datums = (0..COLUMNS.len())
            .map(|c| decoded.dict(c).map_or_else(Vec::new, |d| vec![pg_sys::Datum::from(0usize); d.dict.len() + 1]))
            .collect();
        self.props.clear();
    }
}

/// Stores row `row` of `decoded` in `slot`: the `columns` asked for, NULL elsewhere.
///
/// # Safety
/// `slot` is the scan's virtual slot; `segment_cxt` lives until the segment changes.
pub(super) unsafe fn fill(
    slot: *mut pg_sys::TupleTableSlot,
    decoded: &Decoded,
    row: usize,
    columns: &[usize],
    texts: &mut Texts,
    segment_cxt: pg_sys::MemoryContext,
) {
    unsafe {
        pg_sys::ExecClearTuple(slot);
        let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        nulls.fill(true);
        // A relation of an older release has fewer columns; a whole-row reference asks for all.
        for &column in columns.iter().filter(|&&c| c < natts) {
            let value = match decoded.columns[column].as_ref().expect("every asked column is decoded") {
                Column::Int(c) => c.get(row).map(|v| match sql_type(column) {
                    pg_sys::TIMESTAMPTZOID => pg_sys::Datum::from(v - PG_EPOCH_OFFSET_US),
                    pg_sys::INT4OID => pg_sys::Datum::from(v as i32),
                    pg_sys::BOOLOID => pg_sys::Datum::from(v != 0),
                    _ => pg_sys::Datum::from(v),
                }),
                Column::Str(dict) => {
                    let code = dict.codes[row];
                    (code != NULL_CODE).then(|| {
                        let made = &mut texts.datums[column][code as usize];
                        if made.is_null() {
                            let s = dict.resolve(code).expect("a decoded code is in its dictionary");
                            let previous = pg_sys::MemoryContextSwitchTo(segment_cxt);
                            *made = pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(s.as_ptr().cast(), s.len() as i32));
                            pg_sys::MemoryContextSwitchTo(previous);
                        }
                        *made
                    })
                }
                Column::Props(props) => {
                    let pairs = props.offsets[row] as usize..props.offsets[row + 1] as usize;
                    texts.pairs.clear();
                    texts.pairs.extend_from_slice(&props.keys.codes[pairs.clone()]);
                    texts.pairs.extend_from_slice(&props.values.codes[pairs]);
                    let made = match texts.props.get(texts.pairs.as_slice()) {
                        Some(&datum) => datum,
                        None => {
                            let map = props.row(row).map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).collect();
                            let previous = pg_sys::MemoryContextSwitchTo(segment_cxt);
                            let datum = JsonB(serde_json::Value::Object(map)).into_datum().expect("jsonb is never NULL");
                            pg_sys::MemoryContextSwitchTo(previous);
                            texts.props.insert(texts.pairs.clone(), datum);
                            datum
                        }
                    };
                    Some(made)
                }
            };
            if let Some(value) = value {
                values[column] = value;
                nulls[column] = false;
            }
        }
        pg_sys::ExecStoreVirtualTuple(slot);
    }
}
