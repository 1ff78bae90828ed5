//! The dashboard panels a shared link may show, and which stats queries each allows.
//!
//! A link limited to some panels must not answer what the others would show: not as a
//! breakdown (its dimensions), nor through a filter (filtering the overview by a page
//! tells that page's visitors), nor as a funnel. A query of such a link passes only
//! when every dimension, every filter's dimension and its funnel belong to a panel of
//! the link; the overview (no dimension at all) needs the `kpis` panel. A link with
//! every panel is not checked here: Postgres holds it to its site like any viewer.

use serde_json::Value;

use crate::error::ApiError;

/// The dashboard's panels (dashboards/src/panels, their `id`s) and the dimensions their
/// queries use, as exact names or prefixes ending in `:` or `_`.
pub const PANELS: [(&str, &[&str]); 9] = [
    ("kpis", &[]),
    ("chart", &["time:"]),
    ("pages", &["event:page", "visit:entry_page", "visit:exit_page"]),
    ("sources", &["visit:source", "visit:referrer", "visit:utm_"]),
    ("locations", &["visit:country", "visit:region", "visit:city"]),
    ("devices", &["visit:device", "visit:browser", "visit:os", "visit:screen"]),
    ("goals", &["event:goal"]),
    ("funnel", &[]),
    ("props", &["event:name", "event:props:"]),
];

/// Checks a link's panel list: known names, no repeats. `field` names it in errors.
pub fn validate(field: &str, panels: &[String]) -> Result<(), ApiError> {
    if panels.is_empty() {
        return Err(ApiError::bad_request(field, "list at least one panel, or leave it out for all of them"));
    }
    for (i, p) in panels.iter().enumerate() {
        if !PANELS.iter().any(|(name, _)| name == p) {
            let known: Vec<&str> = PANELS.iter().map(|(n, _)| *n).collect();
            return Err(ApiError::bad_request(format!("{field}[{i}]"), format!("unknown panel {p:?}; panels are {}", known.join(", "))));
        }
        if panels[..i].contains(p) {
            return Err(ApiError::bad_request(format!("{field}[{i}]"), format!("panel {p:?} is listed twice")));
        }
    }
    Ok(())
}

/// Refuses (403, naming the query field) a stats query that reaches past `panels`.
pub fn check(panels: &[String], query: &Value) -> Result<(), ApiError> {
    let allows = |dimension: &str| {
        PANELS.iter().filter(|(name, _)| panels.iter().any(|p| p == name)).any(|(_, dims)| {
            dims.iter().any(|d| if d.ends_with(':') || d.ends_with('_') { dimension.starts_with(d) } else { dimension == *d })
        })
    };
    let refuse = |field: &str, what: &str| ApiError::Forbidden(format!("this shared link does not show {what} ({field})"));
    let dimensions = query.get("dimensions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, d) in dimensions.iter().enumerate() {
        let d = d.as_str().unwrap_or_default();
        if !allows(d) {
            return Err(refuse(&format!("dimensions[{i}]"), d));
        }
    }
    if query.get("funnel").is_some_and(|f| !f.is_null()) {
        if !panels.iter().any(|p| p == "funnel") {
            return Err(refuse("funnel", "funnels"));
        }
    } else if dimensions.is_empty() && !panels.iter().any(|p| p == "kpis") {
        return Err(refuse("dimensions", "the overview"));
    }
    if let Some(filters) = query.get("filters") {
        let mut used = Vec::new();
        filter_dimensions(filters, &mut used);
        if let Some(d) = used.into_iter().find(|d| !allows(d)) {
            return Err(refuse("filters", &d));
        }
    }
    Ok(())
}

/// Every dimension a filter list names, through `and`, `or` and `not` at any depth; a
/// filter whose dimension is not a string counts as one no panel allows.
fn filter_dimensions(filters: &Value, out: &mut Vec<String>) {
    let Some(list) = filters.as_array() else { return };
    match list.first().and_then(Value::as_str) {
        Some("and" | "or") => list.get(1).into_iter().for_each(|inner| filter_dimensions(inner, out)),
        Some("not") => list.get(1).into_iter().for_each(|inner| filter_dimensions(&Value::Array(vec![inner.clone()]), out)),
        Some(_) => out.push(list.get(1).and_then(Value::as_str).unwrap_or("(not a dimension)").to_owned()),
        // A list of filters.
        None => list.iter().for_each(|f| filter_dimensions(f, out)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn panels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn queries_stay_within_the_links_panels() {
        let p = panels(&["kpis", "chart", "pages"]);
        let ok = |q: Value| check(&p, &q).is_ok();
        assert!(ok(json!({"metrics": ["visitors"]})));
        assert!(ok(json!({"metrics": ["visitors"], "dimensions": ["time:day"]})));
        assert!(ok(json!({"dimensions": ["event:page"], "filters": [["is", "event:page", ["/a"]]]})));
        assert!(ok(json!({"dimensions": ["visit:exit_page"]})));
        assert!(!ok(json!({"dimensions": ["visit:source"]})));
        assert!(!ok(json!({"dimensions": ["visit:utm_source"]})));
        assert!(!ok(json!({"metrics": ["visitors"], "filters": [["is", "visit:country", ["DE"]]]})));
        assert!(!ok(json!({"filters": ["and", [["is", "event:page", ["/a"]], ["not", ["is", "visit:city", ["X"]]]]]})));
        assert!(!ok(json!({"filters": [["is", "segment", [1]]]})));
        assert!(!ok(json!({"filters": [["is", 5, ["x"]]]})));
        assert!(!ok(json!({"funnel": ["A", "B"]})));
        assert!(check(&panels(&["pages"]), &json!({"metrics": ["visitors"]})).is_err());
        assert!(check(&panels(&["funnel"]), &json!({"funnel": "Checkout"})).is_ok());
        assert!(check(&panels(&["props"]), &json!({"dimensions": ["event:props:plan"]})).is_ok());
    }

    #[test]
    fn panel_lists_name_known_panels_once() {
        assert!(validate("panels", &panels(&["kpis", "pages"])).is_ok());
        assert!(validate("panels", &[]).is_err());
        let Err(ApiError::BadRequest { field, .. }) = validate("panels", &panels(&["kpis", "secrets"])) else { panic!() };
        assert_eq!(field, "panels[1]");
        assert!(validate("panels", &panels(&["kpis", "kpis"])).is_err());
    }
}
