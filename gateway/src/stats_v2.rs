//! Plausible's Stats API v2 request and answer, translated onto `tally.query`: the
//! engine already speaks that grammar (metrics × dimensions × filters, `has_done`,
//! `case_sensitive`, `order_by`, `pagination`), so what is left is what depends on the
//! site or on Plausible's wording:
//! - date ranges the engine does not name (`6mo`, `12mo`, `all`), resolved to whole
//!   days of the site's time zone ([`SiteDays`]); pairs of date-times go to the engine
//!   as they are;
//! - `group_conversion_rate` (the engine's `conversion_rate`: the group's own
//!   visitors as divisor) and `conversion_rate` (all visitors as divisor, a second
//!   query without the goal filters when there are other dimensions);
//! - the `time` dimension, which picks its unit from the range's length;
//! - `include` (`total_rows`, `time_labels`, `imports`) and the answer's `meta` and
//!   `query` as Plausible shapes them, with the range as ISO 8601 date-times.
//!
//! Errors are the gateway's 400s (`{"error", "field"}`): Plausible's `{"error"}` plus
//! the field at fault.

use chrono::{DateTime, Datelike, Months, NaiveDate};
use serde_json::{json, Map, Value};

use tally_core::query::MAX_LIMIT;

use crate::error::ApiError;
use crate::place_filters::{self, NAMED_BY_CODE};
use crate::place_names::PlaceNames;

/// The keys of a Plausible v2 query.
const KEYS: [&str; 8] = ["site_id", "date_range", "metrics", "dimensions", "filters", "order_by", "include", "pagination"];
/// The longest range the `time` dimension answers by day; longer ones go by month.
const DAILY_TIME_DAYS: i64 = 91;

/// What the translation needs to know about the site: its calendar.
#[derive(Debug, Clone, Copy)]
pub struct SiteDays {
    /// Today in the site's time zone.
    pub today: NaiveDate,
    /// The local day of the site's first stored event (`all`); today without events.
    pub first: NaiveDate,
}

/// A Plausible query made into `tally.query` form, and how to shape the answer back.
#[derive(Debug, Clone)]
pub struct Translated {
    /// The query for `tally.query`.
    pub query: Value,
    /// The visitors of all groups without goal filters, when `conversion_rate` needs
    /// them as its divisor.
    pub conversion_base: Option<Value>,
    shape: Shape,
}

#[derive(Debug, Clone)]
struct Shape {
    site_id: Value,
    /// Per requested metric: where its value comes from.
    metrics: Vec<Source>,
    metric_names: Vec<Value>,
    dimensions: Vec<String>,
    filters: Value,
    order_by: Value,
    include: Include,
    include_echo: Value,
    /// `pagination` as Plausible echoes it: both keys, defaults filled in.
    pagination_echo: Value,
    /// The time dimension's unit (`hour`, `day`, ...), for time labels.
    time_unit: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// The engine's metric at this index.
    Engine(usize),
    /// `conversion_rate` from the engine's visitors (index) over the base query's.
    Conversion(usize),
}

#[derive(Debug, Clone, Copy, Default)]
struct Include {
    total_rows: bool,
    time_labels: bool,
    imports: bool,
}

/// The site's domain, required as a string (Plausible's `site_id`).
pub fn site_id(query: &Value) -> Result<String, ApiError> {
    let object = query.as_object().ok_or_else(|| ApiError::bad_request("query", "the query must be a JSON object"))?;
    match object.get("site_id") {
        Some(Value::String(domain)) if !domain.trim().is_empty() => Ok(domain.trim().to_ascii_lowercase()),
        _ => Err(ApiError::bad_request("site_id", "site_id is required: the site's domain")),
    }
}

/// Translates a Plausible v2 query for a site whose calendar is `days`.
pub fn translate(request: &Value, days: SiteDays) -> Result<Translated, ApiError> {
    let object = request.as_object().ok_or_else(|| ApiError::bad_request("query", "the query must be a JSON object"))?;
    if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(key, format!("unknown key {key:?}; known keys: {}", KEYS.join(", "))));
    }
    let site = Value::String(site_id(request)?);
    let (date_range, span_days) = date_range(object.get("date_range"), days)?;
    let include = include(object.get("include"))?;

    let requested = match object.get("metrics") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err(ApiError::bad_request("metrics", "metrics must be a non-empty array")),
    };
    let dimensions: Vec<String> = match object.get("dimensions") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, d)| {
                d.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(format!("dimensions[{i}]"), "a dimension is a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::bad_request("dimensions", "dimensions must be an array")),
    };
    let time_unit = dimensions.iter().find_map(|d| match d.as_str() {
        "time" if span_days <= 1 => Some("hour"),
        "time" if span_days <= DAILY_TIME_DAYS => Some("day"),
        "time" => Some("month"),
        other => other.strip_prefix("time:").and_then(|u| ["hour", "day", "week", "month"].into_iter().find(|k| *k == u)),
    });
    if include.time_labels && time_unit.is_none() {
        return Err(ApiError::bad_request("include.time_labels", "time_labels needs a time dimension"));
    }
    for (i, dimension) in dimensions.iter().enumerate() {
        if NAMED_BY_CODE.iter().any(|(named, _)| named == dimension) && PlaceNames::installed().is_none() {
            return Err(ApiError::bad_request(
                format!("dimensions[{i}]"),
                "place names need Debian's iso-codes package on the gateway's machine (/usr/share/iso-codes/json)",
            ));
        }
    }
    // The engine's name of a dimension: `time` is its resolved unit, a place's name
    // the place's code (named in the answer).
    let engine_dimension = |d: &str| match NAMED_BY_CODE.iter().find(|(named, _)| *named == d) {
        Some((_, code)) => (*code).to_owned(),
        None if d == "time" => format!("time:{}", time_unit.unwrap_or("day")),
        None => d.to_owned(),
    };
    let engine_dimensions: Vec<String> = dimensions.iter().map(|d| engine_dimension(d)).collect();

    // Metrics: the engine's names, each once; conversion_rate over all visitors needs
    // the groups' visitors and a second query when other dimensions split them.
    let split = engine_dimensions.iter().any(|d| d != "event:goal");
    let mut engine_metrics: Vec<String> = Vec::new();
    let mut engine_index = |name: &str| match engine_metrics.iter().position(|m| m == name) {
        Some(i) => i,
        None => {
            engine_metrics.push(name.to_owned());
            engine_metrics.len() - 1
        }
    };
    let mut sources = Vec::with_capacity(requested.len());
    for (i, metric) in requested.iter().enumerate() {
        let field = format!("metrics[{i}]");
        let name = metric.as_str().ok_or_else(|| ApiError::bad_request(&field, "a metric is a string"))?;
        sources.push(match name {
            "group_conversion_rate" => Source::Engine(engine_index("conversion_rate")),
            "conversion_rate" if split => Source::Conversion(engine_index("visitors")),
            other => Source::Engine(engine_index(other)),
        });
    }
    let conversion_goal = sources.iter().any(|s| matches!(s, Source::Conversion(_)));

    let filters = object.get("filters").cloned().unwrap_or_else(|| json!([]));
    let engine_filters = stored_devices(&place_filters::coded(&filters, "filters")?);
    let order_by = match object.get("order_by") {
        Some(given) => given.clone(),
        None => {
            let mut order: Vec<Value> = dimensions.iter().filter(|d| d.starts_with("time")).map(|d| json!([d, "asc"])).collect();
            order.push(json!([requested[0], "desc"]));
            Value::Array(order)
        }
    };
    // The engine sorts by its own names: `time` is its resolved unit, a requested
    // metric its engine metric.
    let engine_order = match &order_by {
        Value::Array(entries) => Value::Array(
            entries
                .iter()
                .map(|entry| match entry.as_array().map(Vec::as_slice) {
                    Some([Value::String(key), direction]) => {
                        let key = match requested.iter().position(|m| m == key).map(|i| sources[i]) {
                            Some(Source::Engine(e)) | Some(Source::Conversion(e)) => engine_metrics[e].clone(),
                            None => engine_dimension(key),
                        };
                        json!([key, direction])
                    }
                    _ => entry.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };

    let mut query = json!({
        "site_id": site,
        "date_range": date_range,
        "metrics": engine_metrics,
        "dimensions": engine_dimensions,
        "filters": engine_filters,
        "order_by": engine_order,
    });
    if let Some(pagination) = object.get("pagination") {
        query["pagination"] = pagination.clone();
    }
    if conversion_goal && !mentions_goal(&filters) && !engine_dimensions.iter().any(|d| d == "event:goal") {
        return Err(ApiError::bad_request("metrics", "conversion_rate needs an event:goal filter or dimension"));
    }
    let conversion_base = conversion_goal.then(|| {
        let kept: Vec<Value> = engine_filters.as_array().into_iter().flatten().filter(|f| !mentions_goal(f)).cloned().collect();
        json!({ "site_id": site, "date_range": date_range, "metrics": ["visitors"], "filters": kept })
    });
    let shape = Shape {
        site_id: site,
        metrics: sources,
        metric_names: requested.clone(),
        dimensions,
        filters,
        order_by,
        include,
        include_echo: object.get("include").cloned().unwrap_or_else(|| json!({})),
        pagination_echo: json!({
            "limit": object.get("pagination").and_then(|p| p.get("limit")).cloned().unwrap_or(json!(MAX_LIMIT)),
            "offset": object.get("pagination").and_then(|p| p.get("offset")).cloned().unwrap_or(json!(0)),
        }),
        time_unit,
    };
    Ok(Translated { query, conversion_base, shape })
}

/// Plausible names device classes capitalized (`Desktop`, `Mobile`); the tracker's are
/// stored lowercase, imported ones as their file wrote them. `is`/`is_not` filters on
/// `visit:device` take each name in both spellings (a pattern of `contains` or
/// `matches` is left as written).
fn stored_devices(filter: &Value) -> Value {
    match filter.as_array().map(Vec::as_slice) {
        Some([Value::String(op), Value::String(dimension), Value::Array(values), rest @ ..])
            if dimension == "visit:device" && (op == "is" || op == "is_not") =>
        {
            let mut both = values.clone();
            for lowered in values.iter().filter_map(Value::as_str).map(str::to_lowercase) {
                if !both.iter().any(|v| v.as_str() == Some(lowered.as_str())) {
                    both.push(json!(lowered));
                }
            }
            let mut filter = vec![json!(op), json!(dimension), Value::Array(both)];
            filter.extend(rest.iter().cloned());
            Value::Array(filter)
        }
        Some(items) => Value::Array(items.iter().map(stored_devices).collect()),
        None => filter.clone(),
    }
}

/// A stored device class as Plausible names it (`desktop` is `Desktop`).
fn device_name(class: &str) -> String {
    let mut chars = class.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Whether a filter (or list of filters) tests `event:goal` anywhere.
fn mentions_goal(filter: &Value) -> bool {
    match filter {
        Value::String(s) => s == "event:goal",
        Value::Array(items) => items.iter().any(mentions_goal),
        _ => false,
    }
}

/// The engine's `date_range` and the range's length in days.
fn date_range(value: Option<&Value>, days: SiteDays) -> Result<(Value, i64), ApiError> {
    let dates = |from: NaiveDate, to: NaiveDate| {
        (json!([from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string()]), (to - from).num_days() + 1)
    };
    let month_start = days.today.with_day(1).expect("every month has a first day");
    let month_end = (month_start + Months::new(1)).pred_opt().expect("a month ends the day before the next begins");
    match value {
        None => Err(ApiError::bad_request("date_range", "date_range is required")),
        Some(Value::String(name)) => match name.as_str() {
            "6mo" | "12mo" => {
                let months = if name == "6mo" { 5 } else { 11 };
                Ok(dates(month_start - Months::new(months), month_end))
            }
            "all" => Ok(dates(days.first.min(days.today), days.today)),
            "day" => Ok((json!("day"), 1)),
            "month" => Ok((json!("month"), 31)),
            "year" => Ok((json!("year"), 366)),
            "24h" => Ok((json!("24h"), 1)),
            other => {
                let n = other.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()).unwrap_or(1);
                Ok((json!(other), n))
            }
        },
        Some(Value::Array(pair)) if pair.len() == 2 && pair.iter().any(|v| v.as_str().is_some_and(|s| s.contains('T'))) => {
            let parse = |i: usize| pair[i].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
            let span = match (parse(0), parse(1)) {
                (Some(from), Some(to)) => (to - from).num_seconds().div_euclid(86_400) + 1,
                _ => 1,
            };
            // The engine takes the pair of instants as it is, checks it and names the end at fault.
            Ok((Value::Array(pair.clone()), span))
        }
        Some(Value::Array(pair)) if pair.len() == 2 => {
            let parse = |i: usize| pair[i].as_str().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
            let span = match (parse(0), parse(1)) {
                (Some(from), Some(to)) => (to - from).num_days() + 1,
                _ => 1,
            };
            // The engine checks the dates and names the one at fault.
            Ok((Value::Array(pair.clone()), span))
        }
        Some(other) => Ok((other.clone(), 1)),
    }
}

fn include(value: Option<&Value>) -> Result<Include, ApiError> {
    let mut include = Include::default();
    let Some(value) = value else { return Ok(include) };
    let object = value.as_object().ok_or_else(|| ApiError::bad_request("include", "include is an object"))?;
    for (key, v) in object {
        let flag = v.as_bool().ok_or_else(|| ApiError::bad_request(format!("include.{key}"), format!("{key} is true or false")))?;
        match key.as_str() {
            "total_rows" => include.total_rows = flag,
            "time_labels" => include.time_labels = flag,
            "imports" => include.imports = flag,
            other => return Err(ApiError::bad_request(format!("include.{other}"), "include takes total_rows, time_labels and imports")),
        }
    }
    Ok(include)
}

/// The range's ends as ISO 8601 local date-times with their UTC offsets, and the
/// labels of every time bucket in it when asked for: what [`Translated::answer`]
/// reports besides the engine's answer.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    pub from: String,
    pub to: String,
    pub time_labels: Option<Vec<String>>,
}

impl Translated {
    /// Whether the answer adds imported data (`include.imports`).
    pub fn includes_imports(&self) -> bool {
        self.shape.include.imports
    }

    /// The unit of the time buckets to label, when `include.time_labels` asks for them.
    pub fn time_labels_unit(&self) -> Option<&'static str> {
        self.shape.time_unit.filter(|_| self.shape.include.time_labels)
    }

    /// Plausible's answer from the engine's `answer` (and the conversion base's).
    pub fn answer(&self, answer: &Value, base: Option<&Value>, labels: Labels) -> Value {
        let shape = &self.shape;
        let base_visitors = base.and_then(|b| b["results"][0]["metrics"][0].as_u64()).unwrap_or(0);
        let results: Vec<Value> = answer["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                let metrics: Vec<Value> = shape
                    .metrics
                    .iter()
                    .map(|source| match *source {
                        Source::Engine(i) => row["metrics"][i].clone(),
                        Source::Conversion(i) => percent(row["metrics"][i].as_u64().unwrap_or(0), base_visitors),
                    })
                    .collect();
                let dimensions: Vec<Value> = row["dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .zip(&shape.dimensions)
                    .map(|(value, dimension)| match (value, dimension.as_str()) {
                        (Value::Null, "visit:source") => json!("Direct / None"),
                        (Value::Null, utm) if utm.starts_with("visit:utm_") => json!("(not set)"),
                        (Value::String(class), "visit:device") => json!(device_name(class)),
                        (Value::String(code), "visit:country_name") => json!(place_name(code, PlaceNames::country)),
                        (Value::String(code), "visit:region_name") => json!(place_name(code, PlaceNames::region)),
                        _ => value.clone(),
                    })
                    .collect();
                json!({ "metrics": metrics, "dimensions": dimensions })
            })
            .collect();
        let mut meta = Map::new();
        if shape.include.imports {
            // What `imports::merge` says of the engine's answer.
            for key in ["imports_included", "imports_skip_reason", "imports_warning"] {
                if let Some(value) = answer["meta"].get(key) {
                    meta.insert(key.into(), value.clone());
                }
            }
        }
        if let Some(time_labels) = labels.time_labels {
            meta.insert("time_labels".into(), json!(time_labels));
        }
        if shape.include.total_rows {
            meta.insert("total_rows".into(), answer["meta"]["total_rows"].clone());
        }
        json!({
            "results": results,
            "meta": meta,
            "query": {
                "site_id": shape.site_id,
                "metrics": shape.metric_names,
                "date_range": [labels.from, labels.to],
                "filters": shape.filters,
                "dimensions": shape.dimensions,
                "order_by": shape.order_by,
                "include": shape.include_echo,
                "pagination": shape.pagination_echo,
            },
        })
    }
}

/// A place's name by its code; the code itself for one the names do not know.
fn place_name(code: &str, name: fn(&'static PlaceNames, &str) -> Option<&'static str>) -> &str {
    PlaceNames::installed().and_then(|names| name(names, code)).unwrap_or(code)
}

/// `100 × part / whole` rounded to two decimals, 0 over nothing.
fn percent(part: u64, whole: u64) -> Value {
    if whole == 0 {
        return json!(0);
    }
    json!((part as f64 * 10_000.0 / whole as f64).round() / 100.0)
}

/// `YYYY-MM-DDTHH:MM:SS` local time and an offset east of UTC in seconds, as ISO 8601.
pub fn iso(local: &str, offset_secs: i32) -> String {
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let abs = offset_secs.unsigned_abs();
    format!("{local}{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days() -> SiteDays {
        let date = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        SiteDays { today: date("2024-09-10"), first: date("2021-09-26") }
    }

    fn field_of(query: Value) -> String {
        match translate(&query, days()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn named_ranges_become_whole_days_of_the_site() {
        let range = |name: &str| {
            translate(&json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": name}), days()).unwrap().query["date_range"]
                .clone()
        };
        assert_eq!(range("6mo"), json!(["2024-04-01", "2024-09-30"]));
        assert_eq!(range("12mo"), json!(["2023-10-01", "2024-09-30"]));
        assert_eq!(range("all"), json!(["2021-09-26", "2024-09-10"]));
        assert_eq!(range("7d"), json!("7d"));
        let pair = json!(["2024-09-10T10:00:00+02:00", "2024-09-10T12:00:00+02:00"]);
        let q = json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": pair, "dimensions": ["time"]});
        let t = translate(&q, days()).unwrap();
        assert_eq!(t.query["date_range"], pair, "the engine resolves a pair of instants");
        assert_eq!(t.query["dimensions"], json!(["time:hour"]));
    }

    #[test]
    fn time_picks_its_unit_and_order_defaults_like_plausible() {
        let t =
            translate(&json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "day", "dimensions": ["time"]}), days()).unwrap();
        assert_eq!(t.query["dimensions"], json!(["time:hour"]));
        assert_eq!(t.query["order_by"], json!([["time:hour", "asc"], ["visitors", "desc"]]));
        assert_eq!(t.shape.order_by, json!([["time", "asc"], ["visitors", "desc"]]));
        let t =
            translate(&json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "12mo", "dimensions": ["time"]}), days()).unwrap();
        assert_eq!(t.query["dimensions"], json!(["time:month"]));
    }

    #[test]
    fn conversion_rates_map_onto_the_engine() {
        let q = json!({"site_id": "a.com", "date_range": "7d", "metrics": ["conversion_rate", "group_conversion_rate"],
            "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]], ["is", "visit:country", ["EE"]]]});
        let t = translate(&q, days()).unwrap();
        assert_eq!(t.query["metrics"], json!(["visitors", "conversion_rate"]));
        assert_eq!(t.conversion_base.as_ref().unwrap()["filters"], json!([["is", "visit:country", ["EE"]]]));
        let answer = json!({"results": [{"metrics": [3, 50.0], "dimensions": [null]}], "meta": {"total_rows": 1}});
        let base = json!({"results": [{"metrics": [8], "dimensions": []}]});
        let out = t.answer(&answer, Some(&base), Labels::default());
        assert_eq!(out["results"], json!([{"metrics": [37.5, 50.0], "dimensions": ["Direct / None"]}]));
        assert_eq!(out["meta"], json!({}));
        // Over goals alone, both rates are the engine's.
        let q = json!({"site_id": "a.com", "date_range": "7d", "metrics": ["conversion_rate"], "dimensions": ["event:goal"]});
        assert!(translate(&q, days()).unwrap().conversion_base.is_none());
    }

    #[test]
    fn bad_requests_name_the_field() {
        let base = json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7d"});
        let with = |key: &str, value: Value| {
            let mut q = base.clone();
            q[key] = value;
            q
        };
        assert_eq!(field_of(with("site_id", json!(3))), "site_id");
        assert_eq!(field_of(with("metrics", json!([]))), "metrics");
        let mut split = with("metrics", json!(["conversion_rate"]));
        split["dimensions"] = json!(["visit:source"]);
        assert_eq!(field_of(split), "metrics", "no goal to convert to");
        assert_eq!(field_of(with("include", json!({"time_labels": true}))), "include.time_labels");
        assert_eq!(field_of(with("include", json!({"totals": true}))), "include.totals");
        assert_eq!(field_of(with("sort", json!([]))), "sort");
    }

    #[test]
    fn offsets_print_as_iso_8601() {
        assert_eq!(iso("2024-09-04T00:00:00", 0), "2024-09-04T00:00:00+00:00");
        assert_eq!(iso("2024-09-04T00:00:00", -(5 * 3600 + 1800)), "2024-09-04T00:00:00-05:30");
    }
}
