//! The mapping between [`Event`] fields and segment columns: the one place that knows
//! which field a name in [`COLUMNS`] is and what type it stores as.

use crate::codec::dict::{DictBuilder, DictColumn};
use crate::event::{Event, COLUMNS};

use super::column::{Column, IntColumn};
use super::SegmentError;

/// Storage type of a column, which fixes its block payload (and how a [`super::Batch`]
/// takes its values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    NullableInt,
    Str,
    Props,
}

/// One column's values taken out of sorted events, ready to encode.
pub(crate) enum Values<'a> {
    Int(Vec<i64>),
    NullableInt(Vec<Option<i64>>),
    /// Dictionary-coded, codes in row order.
    Str(DictColumn),
    Props(Vec<&'a [(String, String)]>),
}

impl Values<'_> {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Values::Int(_) => Kind::Int,
            Values::NullableInt(_) => Kind::NullableInt,
            Values::Str(_) => Kind::Str,
            Values::Props(_) => Kind::Props,
        }
    }
}

/// The index in [`COLUMNS`] of `name`.
pub(crate) fn index_of(name: &str) -> Result<usize, SegmentError> {
    COLUMNS.iter().position(|c| *c == name).ok_or_else(|| SegmentError::UnknownColumn(name.to_owned()))
}

pub(crate) fn kind(column: usize) -> Kind {
    extract(column, &[], &[]).kind()
}

/// The values of column `column` (an index into [`COLUMNS`]) of `events`, in the row
/// order `order` (indices into `events`).
///
/// Fields are read in input order, which walks the (large) events sequentially, and
/// then permuted: reading them in sorted order jumps between events once per column.
pub(crate) fn extract<'a>(column: usize, events: &'a [Event], order: &[u32]) -> Values<'a> {
    fn gather<'a, T: Copy>(events: &'a [Event], order: &[u32], f: impl Fn(&'a Event) -> T) -> Vec<T> {
        let fields: Vec<T> = events.iter().map(f).collect();
        order.iter().map(|&i| fields[i as usize]).collect()
    }
    let int = |f: fn(&Event) -> i64| Values::Int(gather(events, order, f));
    let opt_int = |f: fn(&Event) -> Option<i64>| Values::NullableInt(gather(events, order, f));
    if let Some(field) = text_field(column) {
        let mut builder = DictBuilder::with_capacity(order.len());
        for &i in order {
            builder.push(field(&events[i as usize]));
        }
        return Values::Str(builder.finish());
    }
    match COLUMNS[column] {
        "site_id" => int(|e| e.site_id.into()),
        "ts" => int(|e| e.ts),
        "visitor_id" => int(|e| e.visitor_id),
        "session_id" => int(|e| e.session_id),
        "screen_width" => opt_int(|e| e.screen_width.map(i64::from)),
        "engagement_ms" => opt_int(|e| e.engagement_ms.map(i64::from)),
        "revenue_micros" => opt_int(|e| e.revenue_micros),
        "props" => Values::Props(gather(events, order, |e| e.props.as_slice())),
        "scroll_depth" => opt_int(|e| e.scroll_depth.map(i64::from)),
        "interactive" => opt_int(|e| e.interactive.map(i64::from)),
        other => unreachable!("column {other} is in COLUMNS but not mapped to a field"),
    }
}

/// How a string column reads its field.
pub(crate) type TextField = for<'e> fn(&'e Event) -> Option<&'e str>;

/// The field of string column `column`, `None` for a column of another kind.
pub(crate) fn text_field(column: usize) -> Option<TextField> {
    Some(match COLUMNS[column] {
        "name" => |e| Some(&e.name),
        "hostname" => |e| Some(&e.hostname),
        "pathname" => |e| Some(&e.pathname),
        "referrer" => |e| e.referrer.as_deref(),
        "referrer_source" => |e| e.referrer_source.as_deref(),
        "utm_source" => |e| e.utm_source.as_deref(),
        "utm_medium" => |e| e.utm_medium.as_deref(),
        "utm_campaign" => |e| e.utm_campaign.as_deref(),
        "utm_term" => |e| e.utm_term.as_deref(),
        "utm_content" => |e| e.utm_content.as_deref(),
        "country" => |e| e.country.as_deref(),
        "region" => |e| e.region.as_deref(),
        "city" => |e| e.city.as_deref(),
        "browser" => |e| e.browser.as_deref(),
        "browser_version" => |e| e.browser_version.as_deref(),
        "os" => |e| e.os.as_deref(),
        "os_version" => |e| e.os_version.as_deref(),
        "device" => |e| e.device.as_deref(),
        "revenue_currency" => |e| e.revenue_currency.as_deref(),
        "channel" => |e| e.channel.as_deref(),
        _ => return None,
    })
}

/// Every string column of `events` in row order `order`, dictionary-coded in one pass
/// over the rows (indexed like [`COLUMNS`], `None` for other kinds). An event's
/// strings sit next to each other on the heap, so reading them row by row touches
/// each cache line once instead of once per column.
pub(crate) fn string_columns(events: &[Event], order: &[u32]) -> Vec<Option<DictColumn>> {
    let fields: Vec<(usize, TextField)> = (0..COLUMNS.len()).filter_map(|c| text_field(c).map(|f| (c, f))).collect();
    let mut builders: Vec<DictBuilder<'_>> = fields.iter().map(|_| DictBuilder::with_capacity(order.len())).collect();
    for &i in order {
        let event = &events[i as usize];
        for ((_, field), builder) in fields.iter().zip(&mut builders) {
            builder.push(field(event));
        }
    }
    let mut columns: Vec<Option<DictColumn>> = (0..COLUMNS.len()).map(|_| None).collect();
    for ((column, _), builder) in fields.iter().zip(builders) {
        columns[*column] = Some(builder.finish());
    }
    columns
}

/// Writes a decoded column back into `events` (one per row, in segment order).
pub(crate) fn assign(column: usize, data: &Column, events: &mut [Event]) -> Result<(), SegmentError> {
    let name = COLUMNS[column];
    let bad = |reason| SegmentError::BadColumn { column: name, reason };
    let i32_of = |v: i64| i32::try_from(v).map_err(|_| bad("value out of i32 range"));
    match data {
        Column::Str(dict) => {
            for (event, &code) in events.iter_mut().zip(&dict.codes) {
                let value = dict.resolve(code).map(str::to_owned);
                let required = |v: Option<String>| v.ok_or(bad("NULL in a NOT NULL column"));
                match name {
                    "name" => event.name = required(value)?,
                    "hostname" => event.hostname = required(value)?,
                    "pathname" => event.pathname = required(value)?,
                    "referrer" => event.referrer = value,
                    "referrer_source" => event.referrer_source = value,
                    "utm_source" => event.utm_source = value,
                    "utm_medium" => event.utm_medium = value,
                    "utm_campaign" => event.utm_campaign = value,
                    "utm_term" => event.utm_term = value,
                    "utm_content" => event.utm_content = value,
                    "country" => event.country = value,
                    "region" => event.region = value,
                    "city" => event.city = value,
                    "browser" => event.browser = value,
                    "browser_version" => event.browser_version = value,
                    "os" => event.os = value,
                    "os_version" => event.os_version = value,
                    "device" => event.device = value,
                    "revenue_currency" => event.revenue_currency = value,
                    "channel" => event.channel = value,
                    _ => return Err(bad("expected a string column")),
                }
            }
        }
        Column::Props(props) => {
            if name != "props" {
                return Err(bad("unexpected properties column"));
            }
            for (row, event) in events.iter_mut().enumerate() {
                event.props = props.row(row).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            }
        }
        Column::Int(IntColumn { values, validity }) => {
            for (row, (event, &v)) in events.iter_mut().zip(values).enumerate() {
                let valid = validity.as_ref().is_none_or(|bits| bits.get(row) == Some(&true));
                let present = valid.then_some(v);
                let required = |v: Option<i64>| v.ok_or(bad("NULL in a NOT NULL column"));
                match name {
                    "site_id" => event.site_id = i32_of(required(present)?)?,
                    "ts" => event.ts = required(present)?,
                    "visitor_id" => event.visitor_id = required(present)?,
                    "session_id" => event.session_id = required(present)?,
                    "screen_width" => event.screen_width = present.map(i32_of).transpose()?,
                    "engagement_ms" => event.engagement_ms = present.map(i32_of).transpose()?,
                    "revenue_micros" => event.revenue_micros = present,
                    "scroll_depth" => event.scroll_depth = present.map(i32_of).transpose()?,
                    "interactive" => event.interactive = present.map(|v| v != 0),
                    _ => return Err(bad("expected an integer column")),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_maps_to_a_field() {
        for column in 0..COLUMNS.len() {
            let _ = kind(column);
        }
        assert_eq!(index_of("channel").unwrap(), COLUMNS.len() - 1);
        assert!(index_of("nope").is_err());
    }
}
