//! Saved segments in a query's filters: `["is", "segment", [id, ...]]` stands for the
//! filters saved under those ids (a visit in any of them), as in Plausible's Stats API.
//! [`expand`] puts the saved filters in their place before [`super::parse`] reads the
//! query, so plans, rollups and scans only ever see ordinary filters. Who may use which
//! segment is decided where they are read (row-level security on tally.saved_segments),
//! and [`check`] is what a segment's filters must pass to be saved.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::error::QueryError;
use super::parse::filter_list;

/// The filter dimension that names saved segments.
pub const DIMENSION: &str = "segment";

/// A segment as stored: its site and its filters (a list, as a query's `filters`).
pub struct Saved {
    pub site_id: i32,
    pub filters: Value,
}

/// A segment a query used: where it was named, and the site it belongs to, which must
/// be the query's own.
pub struct Used {
    pub field: String,
    pub id: i64,
    pub site_id: i32,
}

/// `query` with every segment filter replaced by its saved filters (read with `lookup`,
/// `None` for an id the caller may not use), and the segments it used. A query without
/// segment filters is returned as it is. Shapes that are not segment filters are left
/// for [`super::parse`] to judge.
pub fn expand(query: &Value, mut lookup: impl FnMut(i64) -> Option<Saved>) -> Result<(Cow<'_, Value>, Vec<Used>), QueryError> {
    let Some(filters) = query.get("filters").and_then(Value::as_array) else {
        return Ok((Cow::Borrowed(query), Vec::new()));
    };
    let mut used = Vec::new();
    let mut expanded = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        expanded.push(expand_filter(f, &format!("filters[{i}]"), &mut lookup, &mut used)?);
    }
    if used.is_empty() {
        return Ok((Cow::Borrowed(query), used));
    }
    let mut query = query.clone();
    query["filters"] = Value::Array(expanded);
    Ok((Cow::Owned(query), used))
}

/// The message for an id that is not a segment of the query's site the caller may use:
/// the same whether it does not exist, is another site's or another user's personal one.
pub fn unknown(id: i64) -> String {
    format!("no segment {id} of this site that you may use (a personal segment is only its owner's)")
}

fn expand_filter(
    filter: &Value,
    field: &str,
    lookup: &mut impl FnMut(i64) -> Option<Saved>,
    used: &mut Vec<Used>,
) -> Result<Value, QueryError> {
    let Some(items) = filter.as_array() else { return Ok(filter.clone()) };
    match (items.first().and_then(Value::as_str), items.get(1)) {
        (Some("and" | "or"), Some(Value::Array(inner))) if items.len() == 2 => {
            let inner = inner
                .iter()
                .enumerate()
                .map(|(i, f)| expand_filter(f, &format!("{field}[1][{i}]"), lookup, used))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!([items[0], inner]))
        }
        (Some("not"), Some(inner)) if items.len() == 2 => Ok(json!(["not", expand_filter(inner, &format!("{field}[1]"), lookup, used)?])),
        (Some(op), Some(Value::String(dimension))) if dimension == DIMENSION => {
            if op != "is" {
                return Err(QueryError::new(format!("{field}[0]"), "a segment is used as [\"is\", \"segment\", [segment ids]]"));
            }
            let ids = items
                .get(2)
                .and_then(Value::as_array)
                .filter(|ids| !ids.is_empty() && items.len() == 3)
                .ok_or_else(|| QueryError::new(format!("{field}[2]"), "segment filters take a non-empty array of segment ids"))?;
            let mut each = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let at = format!("{field}[2][{i}]");
                let id = id.as_i64().ok_or_else(|| QueryError::new(&at, "a segment id is an integer"))?;
                let saved = lookup(id).ok_or_else(|| QueryError::new(&at, unknown(id)))?;
                each.push(json!(["and", saved.filters]));
                used.push(Used { field: at, id, site_id: saved.site_id });
            }
            Ok(if each.len() == 1 { each.remove(0) } else { json!(["or", each]) })
        }
        _ => Ok(filter.clone()),
    }
}

/// Checks the filters a segment is saved with, as a query's `filters` are checked: a
/// non-empty list, every dimension known, no segment within a segment. A bad one is an
/// error naming its field (`filters[0][1]`).
pub fn check(filters: &Value) -> Result<(), QueryError> {
    match filters.as_array() {
        Some(list) if !list.is_empty() => filter_list(list, "filters").map(|_| ()),
        _ => Err(QueryError::new("filters", "a segment's filters are a non-empty array of filters")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(id: i64) -> Option<Saved> {
        (id < 10).then(|| Saved { site_id: 1, filters: json!([["is", "visit:country", [format!("C{id}")]]]) })
    }

    #[test]
    fn a_segment_filter_becomes_its_saved_filters() {
        let q = json!({"site_id": 1, "filters": [["is", "event:page", ["/"]], ["not", ["is", "segment", [3]]], ["is", "segment", [1, 2]]]});
        let (expanded, used) = expand(&q, saved).unwrap();
        assert_eq!(
            expanded["filters"],
            json!([
                ["is", "event:page", ["/"]],
                ["not", ["and", [["is", "visit:country", ["C3"]]]]],
                ["or", [["and", [["is", "visit:country", ["C1"]]]], ["and", [["is", "visit:country", ["C2"]]]]]]
            ])
        );
        let fields: Vec<_> = used.iter().map(|u| u.field.as_str()).collect();
        assert_eq!(fields, ["filters[1][1][2][0]", "filters[2][2][0]", "filters[2][2][1]"]);
        let plain = json!({"filters": [["is", "event:page", ["/"]]]});
        assert!(matches!(expand(&plain, saved).unwrap().0, Cow::Borrowed(_)));
    }

    #[test]
    fn a_bad_segment_filter_names_its_field() {
        let field = |filters: Value| expand(&json!({ "filters": filters }), saved).err().expect("should be rejected").field;
        assert_eq!(field(json!([["is", "segment", [42]]])), "filters[0][2][0]");
        assert_eq!(field(json!([["and", [["is", "segment", ["1"]]]]])), "filters[0][1][0][2][0]");
        assert_eq!(field(json!([["contains", "segment", [1]]])), "filters[0][0]");
        assert_eq!(field(json!([["is", "segment", []]])), "filters[0][2]");
    }

    #[test]
    fn saved_filters_are_checked_like_a_query_s() {
        check(&json!([["is", "visit:source", ["Google"]], ["contains", "event:page", ["/blog"]]])).unwrap();
        assert_eq!(check(&json!([["is", "visit:planet", ["Mars"]]])).unwrap_err().field, "filters[0][1]");
        assert_eq!(check(&json!([["or", [["is", "segment", [1]]]]])).unwrap_err().field, "filters[0][1][0][1]");
        assert_eq!(check(&json!([])).unwrap_err().field, "filters");
        assert_eq!(check(&json!({"is": 1})).unwrap_err().field, "filters");
    }
}
