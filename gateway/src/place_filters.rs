//! Plausible's filters on place names (`visit:country_name`, `visit:region_name`,
//! `visit:city_name`) as filters on the engine's place dimensions. Countries and regions
//! are stored as ISO codes, so a name filter becomes an `is`/`is_not` on the codes of
//! the places whose names pass it: every name of [`PlaceNames`] is tested by the
//! engine's own rules ([`ValueTest`]), `case_sensitive` respected (`is` takes names in
//! any case unless told otherwise). Cities are stored by name and keep the filter.
//! Plausible stores an unknown place as `""`, Tally as NULL: a filter selecting `""`
//! selects the unknown places. A filter's values are bounded ([`MAX_FILTER_VALUES`]),
//! so a pattern selecting more places than that, and leaving out more, is refused.

use serde_json::{json, Value};
use tally_core::query::{ValueTest, MAX_FILTER_VALUES};

use crate::error::ApiError;
use crate::place_names::PlaceNames;

/// Plausible's place-name dimensions and the engine's dimension of the codes they name.
pub const NAMED_BY_CODE: [(&str, &str); 3] =
    [("visit:country_name", "visit:country"), ("visit:region_name", "visit:region"), ("visit:city_name", "visit:city")];

/// A place: its code and its name.
type Place<'a> = (&'a str, &'a str);

/// `filters` (at `field` of the request) with every place-name condition, at any depth
/// of `and`/`or`/`not`/`has_done`, made a condition on the engine's dimensions.
pub fn coded(filters: &Value, field: &str) -> Result<Value, ApiError> {
    let Value::Array(items) = filters else { return Ok(filters.clone()) };
    if let [Value::String(op), Value::String(dimension), rest @ ..] = items.as_slice() {
        if let Some((named, code_dimension)) = NAMED_BY_CODE.iter().find(|(named, _)| named == dimension) {
            let mut condition = vec![json!(op), json!(code_dimension)];
            condition.extend(rest.iter().cloned());
            let names = match *named {
                "visit:country_name" | "visit:region_name" => PlaceNames::installed()
                    .ok_or_else(|| ApiError::bad_request(field, "place names need Debian's iso-codes package on the gateway's machine"))?,
                _ => return Ok(unknown_as_empty(condition)),
            };
            let places: Vec<Place> = if *named == "visit:country_name" { names.countries().collect() } else { names.regions().collect() };
            return by_codes(condition, &places, field);
        }
    }
    let coded = items.iter().enumerate().map(|(i, item)| coded(item, &format!("{field}[{i}]"))).collect::<Result<_, _>>()?;
    Ok(Value::Array(coded))
}

/// The condition (on a code dimension, its values names) as `is`/`is_not` on the codes
/// of the `places` (code, name) whose names pass it.
fn by_codes(condition: Vec<Value>, places: &[Place], field: &str) -> Result<Value, ApiError> {
    let op = condition[0].as_str().unwrap_or_default().to_owned();
    let negated = op.ends_with("_not");
    let mut positive = condition.clone();
    positive[0] = json!(op.trim_end_matches("_not"));
    if op.starts_with("is") && positive.len() == 3 {
        // Names as asked in any case unless said otherwise: "germany" is Germany.
        positive.push(json!({"case_sensitive": false}));
    }
    let test = ValueTest::parse(&Value::Array(positive), field).map_err(|e| ApiError::bad_request(e.field, e.message))?;
    // Every place and the unknown one (""), split by whether the name passes.
    let (passing, failing): (Vec<Place>, Vec<Place>) = places.iter().copied().chain([("", "")]).partition(|(_, name)| test.passes(name));
    let codes = |places: Vec<Place>| {
        let mut codes: Vec<String> = places.into_iter().map(|(code, _)| code.to_owned()).collect();
        codes.sort_unstable();
        codes
    };
    let (passing, failing) = (codes(passing), codes(failing));
    // The shorter list states the same set: `is` these or `is_not` the others.
    let (list, is) = if passing.len() <= failing.len() { (passing, !negated) } else { (failing, negated) };
    if list.is_empty() {
        // No place passes (or every one does).
        let nothing = json!(["and", [["matches", condition[1], [""]], ["not", ["matches", condition[1], [""]]]]]);
        return Ok(if is { nothing } else { json!(["not", nothing]) });
    }
    if list.len() > MAX_FILTER_VALUES {
        return Err(ApiError::bad_request(
            format!("{field}[2]"),
            format!("these names select {} places and leave out the others; a filter selects at most {MAX_FILTER_VALUES}", list.len()),
        ));
    }
    Ok(unknown_as_empty(vec![json!(if is { "is" } else { "is_not" }), condition[1].clone(), json!(list)]))
}

/// An `is`/`is_not` condition naming `""` asks for (or leaves out) the unknown places,
/// which the engine stores as NULL and no test matches.
fn unknown_as_empty(filter: Vec<Value>) -> Value {
    let [op, dimension, Value::Array(values), ..] = filter.as_slice() else { return Value::Array(filter) };
    if !values.iter().any(|v| v == "") {
        return Value::Array(filter);
    }
    let known = json!(["matches", dimension, [".+"]]);
    let named: Vec<Value> = values.iter().filter(|v| *v != "").cloned().collect();
    let mut rest = filter.clone();
    rest[2] = json!(named);
    match (op.as_str(), named.is_empty()) {
        (Some("is_not"), true) => known,
        (Some("is_not"), false) => json!(["and", [known, rest]]),
        (_, true) => json!(["not", known]),
        (_, false) => json!(["or", [["not", known], rest]]),
    }
}
