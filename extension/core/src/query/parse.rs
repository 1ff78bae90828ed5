//! JSON → [`Query`], rejecting anything unknown with an error that names the field
//! (`metrics[2]`, `filters[0][1]`), so a client can point at what to fix.

use serde_json::{Map, Value};

use super::error::QueryError;
use super::limits::*;
use super::model::*;
use super::saved_segments;

/// Most dimensions in one query: group keys pack one 32-bit code per dimension into a u128.
pub const MAX_DIMENSIONS: usize = 4;
/// Rows per page when `pagination.limit` is absent, and the largest page.
pub const MAX_LIMIT: usize = 10_000;

const TOP_LEVEL: [&str; 9] = ["site_id", "date_range", "metrics", "dimensions", "filters", "order_by", "pagination", "include", "funnel"];

/// Parses and checks a query.
pub fn parse(json: &Value) -> Result<Query, QueryError> {
    let object = json.as_object().ok_or_else(|| QueryError::new("query", "the query must be a JSON object"))?;
    if let Some(key) = object.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(QueryError::new(key, format!("unknown field {key:?}; known fields: {}", TOP_LEVEL.join(", "))));
    }
    let site = site(object.get("site_id"))?;
    let date_range = date_range(object.get("date_range").ok_or_else(|| QueryError::new("date_range", "date_range is required"))?)?;
    let metrics = list(object, "metrics")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("metrics[{i}]");
            let name = v.as_str().ok_or_else(|| QueryError::new(&field, "a metric is a string"))?;
            Metric::from_name(name).ok_or_else(|| {
                let known: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
                QueryError::new(&field, format!("unknown metric {name:?}; known metrics: {}", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if metrics.is_empty() {
        return Err(QueryError::new("metrics", "at least one metric is required"));
    }
    if metrics.len() > Metric::ALL.len() {
        return Err(QueryError::new("metrics", format!("at most {} metrics, one of each", Metric::ALL.len())));
    }
    let dimensions = match object.get("dimensions") {
        None => Vec::new(),
        Some(_) => list(object, "dimensions")?
            .iter()
            .enumerate()
            .map(|(i, v)| dimension(v, &format!("dimensions[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
    };
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(QueryError::new("dimensions", format!("at most {MAX_DIMENSIONS} dimensions")));
    }
    for (i, d) in dimensions.iter().enumerate() {
        if dimensions[..i].contains(d) {
            return Err(QueryError::new(format!("dimensions[{i}]"), format!("dimension {} is listed twice", d.name())));
        }
        if let Dimension::Time(unit) = d {
            let (days, most) = (date_range.max_days(), if *unit == TimeUnit::Hour { MAX_HOURLY_DAYS } else { MAX_DAYS });
            if days > most {
                return Err(QueryError::new(
                    "date_range",
                    format!(
                        "time:{} covers at most {most} days and this range spans {days}: use a coarser time unit or a shorter range",
                        unit.name()
                    ),
                ));
            }
        }
    }
    let filter = match object.get("filters") {
        None => None,
        Some(_) => filter_list(list(object, "filters")?, "filters")?,
    };
    let order_by = match object.get("order_by") {
        None => Vec::new(),
        Some(_) if list(object, "order_by")?.len() > metrics.len() + dimensions.len() => {
            return Err(QueryError::new("order_by", "order_by lists each metric or dimension of the query at most once"))
        }
        Some(_) => list(object, "order_by")?
            .iter()
            .enumerate()
            .map(|(i, v)| order(v, &format!("order_by[{i}]"), &metrics, &dimensions))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let (limit, offset) = pagination(object.get("pagination"))?;
    let (totals, comparison) = include(object.get("include"))?;
    let funnel = object.get("funnel").map(funnel).transpose()?;
    if funnel.is_some() && !dimensions.is_empty() {
        return Err(QueryError::new("dimensions", "a funnel query has no dimensions: its steps are its rows"));
    }
    let query = Query { site, date_range, metrics, dimensions, filter, order_by, limit, offset, totals, comparison, funnel };
    if let Some(i) = query.metrics.iter().position(|m| *m == Metric::ConversionRate) {
        if !query.has_goal() {
            return Err(QueryError::new(format!("metrics[{i}]"), "conversion_rate needs an event:goal filter or dimension"));
        }
    }
    if let Some(i) = query.metrics.iter().position(|m| *m == Metric::ExitRate) {
        if query.dimensions != [Dimension::Attr(Attr::ExitPage)] {
            return Err(QueryError::new(
                format!("metrics[{i}]"),
                "Metric `exit_rate` requires a `\"visit:exit_page\"` dimension. No other dimensions are allowed.",
            ));
        }
    }
    if let Some(i) = query.metrics.iter().position(|m| *m == Metric::ScrollDepth) {
        if !query.has_page() {
            return Err(QueryError::new(
                format!("metrics[{i}]"),
                "Metric `scroll_depth` can only be queried with event:page filters or dimensions.",
            ));
        }
    }
    Ok(query)
}

/// `funnel`: a stored funnel's name, or 2 to [`MAX_FUNNEL_STEPS`] goal names in order.
fn funnel(value: &Value) -> Result<Funnel, QueryError> {
    const SHAPE: &str = "funnel is a stored funnel's name or an array of 2 to 8 goal names";
    match value {
        Value::String(name) if !name.trim().is_empty() => Ok(Funnel::Stored(name.clone())),
        Value::Array(steps) => {
            if !(2..=MAX_FUNNEL_STEPS).contains(&steps.len()) {
                return Err(QueryError::new("funnel", SHAPE));
            }
            steps
                .iter()
                .enumerate()
                .map(|(i, step)| match step {
                    Value::String(goal) if !goal.is_empty() => Ok(goal.clone()),
                    _ => Err(QueryError::new(format!("funnel[{i}]"), "a funnel step is a goal name")),
                })
                .collect::<Result<_, _>>()
                .map(Funnel::Steps)
        }
        _ => Err(QueryError::new("funnel", SHAPE)),
    }
}

fn list<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a Vec<Value>, QueryError> {
    object.get(key).and_then(Value::as_array).ok_or_else(|| QueryError::new(key, format!("{key} must be an array")))
}

fn site(value: Option<&Value>) -> Result<SiteRef, QueryError> {
    match value {
        Some(Value::String(domain)) if !domain.trim().is_empty() => Ok(SiteRef::Domain(domain.trim().to_ascii_lowercase())),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|id| i32::try_from(id).ok())
            .map(SiteRef::Id)
            .ok_or_else(|| QueryError::new("site_id", "a numeric site_id must be a 32-bit integer")),
        _ => Err(QueryError::new("site_id", "site_id is required: the site's domain (or numeric id)")),
    }
}

fn date_range(value: &Value) -> Result<DateRange, QueryError> {
    const HELP: &str = "use \"day\", \"24h\", \"7d\", \"30d\", \"month\", \"year\", \"realtime\", [\"YYYY-MM-DD\", \"YYYY-MM-DD\"] \
                        or a pair of ISO 8601 date-times with offsets [\"YYYY-MM-DDTHH:MM:SS+HH:MM\", ...]";
    match value {
        Value::String(s) => match s.as_str() {
            "day" | "today" => Ok(DateRange::Day),
            "month" => Ok(DateRange::Month),
            "year" => Ok(DateRange::Year),
            "realtime" => Ok(DateRange::Realtime),
            "24h" => Ok(DateRange::Last24Hours),
            other => other
                .strip_suffix('d')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=MAX_DAYS).contains(&i64::from(*n)))
                .map(DateRange::LastDays)
                .ok_or_else(|| QueryError::new("date_range", format!("unknown date range {other:?}: {HELP}"))),
        },
        Value::Array(pair) if pair.len() == 2 && pair.iter().any(|v| v.as_str().is_some_and(|s| s.contains('T'))) => {
            let from_us = instant(&pair[0], "date_range[0]")?;
            // Inclusive to the end of its second, as Plausible reads `…T13:59:59`.
            let to_us = instant(&pair[1], "date_range[1]")?.div_euclid(SECOND_US) * SECOND_US + SECOND_US;
            if from_us >= to_us {
                return Err(QueryError::new("date_range", "the first date-time is after the second"));
            }
            let range = DateRange::Instants { from_us, to_us };
            let days = range.max_days();
            if days > MAX_DAYS {
                return Err(QueryError::new(
                    "date_range",
                    format!("a date range spans at most {MAX_DAYS} days (ten years); this one spans {days}"),
                ));
            }
            Ok(range)
        }
        Value::Array(pair) if pair.len() == 2 => {
            let from = date(&pair[0], "date_range[0]")?;
            let to = date(&pair[1], "date_range[1]")?;
            if from > to {
                return Err(QueryError::new("date_range", "the first date is after the second"));
            }
            let days = to.days_since_epoch() - from.days_since_epoch() + 1;
            if days > MAX_DAYS {
                return Err(QueryError::new(
                    "date_range",
                    format!("a date range spans at most {MAX_DAYS} days (ten years); this one spans {days}"),
                ));
            }
            Ok(DateRange::Custom(from, to))
        }
        _ => Err(QueryError::new("date_range", HELP)),
    }
}

const SECOND_US: i64 = 1_000_000;

/// An RFC 3339 date-time with its offset (`2024-01-01T10:00:00+01:00`, `…Z`) in
/// microseconds since the Unix epoch.
fn instant(value: &Value, field: &str) -> Result<i64, QueryError> {
    const FORM: &str = "an ISO 8601 date-time with an offset, as \"2024-01-01T10:00:00+01:00\"";
    let s = value.as_str().ok_or_else(|| QueryError::new(field, format!("expected {FORM}")))?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|e| QueryError::new(field, format!("{s:?} is not {FORM}: {e}")))
}

/// A `YYYY-MM-DD` date that exists in the proleptic Gregorian calendar.
fn date(value: &Value, field: &str) -> Result<Date, QueryError> {
    let bad = || QueryError::new(field, "expected a date as \"YYYY-MM-DD\"");
    let s = value.as_str().ok_or_else(bad)?;
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let (year, month, day) = (number(parts[0])?, number(parts[1])?, number(parts[2])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(QueryError::new(field, format!("{s:?} has no month {month}"))),
    };
    if !(1..=days).contains(&day) || year == 0 {
        return Err(QueryError::new(field, format!("{s:?} is not a date")));
    }
    Ok(Date { year: year as i32, month, day })
}

/// An attribute name as used in dimensions and filters, `None` if unknown.
fn attr(name: &str) -> Option<Attr> {
    if let Some(key) = name.strip_prefix("event:props:") {
        return (!key.is_empty()).then(|| Attr::Prop(key.to_owned()));
    }
    match name {
        "visit:entry_page" => return Some(Attr::EntryPage),
        "visit:exit_page" => return Some(Attr::ExitPage),
        "visit:entry_page_hostname" => return Some(Attr::EntryHostname),
        "visit:exit_page_hostname" => return Some(Attr::ExitHostname),
        _ => {}
    }
    EVENT_ATTRS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| Attr::Event(c))
        .or_else(|| VISIT_ATTRS.iter().find(|(n, _)| *n == name).map(|(_, c)| Attr::Visit(c)))
}

fn known_dimensions() -> String {
    let mut names: Vec<&str> = EVENT_ATTRS.iter().map(|(n, _)| *n).collect();
    names.extend([
        "event:goal",
        "event:props:<key>",
        "visit:entry_page",
        "visit:exit_page",
        "visit:entry_page_hostname",
        "visit:exit_page_hostname",
    ]);
    names.extend(VISIT_ATTRS.iter().map(|(n, _)| *n));
    names.extend(["time:hour", "time:day", "time:week", "time:month"]);
    names.join(", ")
}

fn dimension(value: &Value, field: &str) -> Result<Dimension, QueryError> {
    let name = value.as_str().ok_or_else(|| QueryError::new(field, "a dimension is a string"))?;
    let time = |unit| Some(Dimension::Time(unit));
    let parsed = match name {
        "event:goal" => Some(Dimension::Goal),
        "time:hour" => time(TimeUnit::Hour),
        "time:day" | "time" => time(TimeUnit::Day),
        "time:week" => time(TimeUnit::Week),
        "time:month" => time(TimeUnit::Month),
        other => attr(other).map(Dimension::Attr),
    };
    parsed.ok_or_else(|| QueryError::new(field, format!("unknown dimension {name:?}; known dimensions: {}", known_dimensions())))
}

/// The filters listed at `field` (a query's `filters`, a saved segment's), all of which
/// must hold: `None` when there are none.
pub(crate) fn filter_list(list: &[Value], field: &str) -> Result<Option<Filter>, QueryError> {
    let mut budget = FilterBudget::default();
    let leaves =
        list.iter().enumerate().map(|(i, v)| filter(v, &format!("{field}[{i}]"), 1, &mut budget)).collect::<Result<Vec<_>, _>>()?;
    Ok((!leaves.is_empty()).then_some(Filter::And(leaves)))
}

/// What the filters of one query have used of the limits so far.
#[derive(Default)]
pub(crate) struct FilterBudget {
    leaves: usize,
    values: usize,
    patterns: usize,
}

/// The filter at `field`, nested `depth` deep (a top-level filter is 1).
pub(crate) fn filter(value: &Value, field: &str, depth: usize, budget: &mut FilterBudget) -> Result<Filter, QueryError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(QueryError::new(field, format!("filters nest at most {MAX_FILTER_DEPTH} deep")));
    }
    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
        QueryError::new(
            field,
            "a filter is [operator, dimension, [values]] (with an optional {\"case_sensitive\": false}), \
             [\"and\"|\"or\", [filters]], [\"not\", filter] or [\"has_done\"|\"has_not_done\", filter]",
        )
    })?;
    let op = items[0].as_str().ok_or_else(|| QueryError::new(format!("{field}[0]"), "the operator is a string"))?;
    let arity = |n: usize| {
        if items.len() == n {
            Ok(())
        } else {
            Err(QueryError::new(field, format!("operator {op:?} takes {} operands", n - 1)))
        }
    };
    match op {
        "and" | "or" => {
            arity(2)?;
            let inner = items[1]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| QueryError::new(format!("{field}[1]"), format!("{op} takes a non-empty array of filters")))?;
            let inner = inner
                .iter()
                .enumerate()
                .map(|(i, f)| filter(f, &format!("{field}[1][{i}]"), depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" { Filter::And(inner) } else { Filter::Or(inner) })
        }
        "not" => {
            arity(2)?;
            Ok(Filter::Not(Box::new(filter(&items[1], &format!("{field}[1]"), depth + 1, budget)?)))
        }
        "has_done" | "has_not_done" => {
            arity(2)?;
            let done = Filter::HasDone(Box::new(filter(&items[1], &format!("{field}[1]"), depth + 1, budget)?));
            Ok(if op == "has_done" { done } else { Filter::Not(Box::new(done)) })
        }
        "is" | "is_not" | "contains" | "contains_not" | "matches" | "matches_not" => {
            if items.len() != 4 {
                arity(3)?;
            }
            let case_sensitive = match items.get(3) {
                None => true,
                Some(Value::Object(modifiers)) => {
                    if let Some(key) = modifiers.keys().find(|k| *k != "case_sensitive") {
                        return Err(QueryError::new(format!("{field}[3]"), format!("unknown modifier {key:?}; known: case_sensitive")));
                    }
                    match modifiers.get("case_sensitive") {
                        None => true,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => return Err(QueryError::new(format!("{field}[3].case_sensitive"), "case_sensitive is true or false")),
                    }
                }
                Some(_) => return Err(QueryError::new(format!("{field}[3]"), "modifiers are an object: {\"case_sensitive\": false}")),
            };
            budget.leaves += 1;
            if budget.leaves > MAX_FILTER_LEAVES {
                return Err(QueryError::new(field, format!("at most {MAX_FILTER_LEAVES} conditions in all filters")));
            }
            let name = items[1].as_str().ok_or_else(|| QueryError::new(format!("{field}[1]"), "the dimension is a string"))?;
            let target = match name {
                "event:goal" => Target::Goal,
                // Replaced by its saved filters before parsing (`saved_segments::expand`):
                // left here, it sits where no segment may, inside a saved segment.
                saved_segments::DIMENSION => {
                    return Err(QueryError::new(format!("{field}[1]"), "a saved segment cannot contain another segment"))
                }
                other => Target::Attr(attr(other).ok_or_else(|| {
                    QueryError::new(
                        format!("{field}[1]"),
                        format!(
                            "cannot filter by {other:?}; filterable dimensions: {}",
                            known_dimensions().replace(", time:hour, time:day, time:week, time:month", "")
                        ),
                    )
                })?),
            };
            let values_field = format!("{field}[2]");
            let values = items[2]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| QueryError::new(&values_field, "filter values are a non-empty array of strings"))?;
            budget.values += values.len();
            if budget.values > MAX_FILTER_VALUES {
                return Err(QueryError::new(&values_field, format!("at most {MAX_FILTER_VALUES} values in all filters")));
            }
            let values = values
                .iter()
                .enumerate()
                .map(|(i, v)| match v.as_str() {
                    Some(s) if s.len() <= MAX_VALUE_LEN => Ok(s.to_owned()),
                    Some(_) => {
                        Err(QueryError::new(format!("{values_field}[{i}]"), format!("a filter value is at most {MAX_VALUE_LEN} bytes")))
                    }
                    None => Err(QueryError::new(&values_field, "filter values are strings")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let negated = op.ends_with("_not");
            let op = match op.trim_end_matches("_not") {
                "contains" => Op::Contains,
                "matches" => Op::Matches,
                _ => Op::Is,
            };
            if target == Target::Goal && (op != Op::Is || !case_sensitive) {
                return Err(QueryError::new(format!("{field}[0]"), "goals are filtered with is or is_not, case-sensitively"));
            }
            // Case-insensitive tests become the equivalent regular expression, so one
            // per-code test stays one regex match per distinct value.
            let (op, values) = if case_sensitive {
                (op, values)
            } else {
                let pattern = |v: &String| match op {
                    Op::Is => format!("(?i)^{}$", regex::escape(v)),
                    Op::Contains => format!("(?i){}", regex::escape(v)),
                    Op::Matches => format!("(?i){v}"),
                };
                (Op::Matches, values.iter().map(pattern).collect())
            };
            if op == Op::Matches {
                budget.patterns += values.len();
                if budget.patterns > MAX_PATTERNS {
                    return Err(QueryError::new(&values_field, format!("at most {MAX_PATTERNS} regular expressions in all filters")));
                }
                for (i, pattern) in values.iter().enumerate() {
                    regex_set([pattern])
                        .map_err(|e| QueryError::new(format!("{values_field}[{i}]"), format!("invalid regular expression: {e}")))?;
                }
            }
            let leaf = Filter::Leaf { target, op, values, field: values_field };
            Ok(if negated { Filter::Not(Box::new(leaf)) } else { leaf })
        }
        other => Err(QueryError::new(
            format!("{field}[0]"),
            format!(
                "unknown filter operator {other:?}; known: is, is_not, contains, contains_not, matches, matches_not, \
                 and, or, not, has_done, has_not_done"
            ),
        )),
    }
}

fn order(value: &Value, field: &str, metrics: &[Metric], dimensions: &[Dimension]) -> Result<(OrderKey, Direction), QueryError> {
    let pair = value
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| QueryError::new(field, "an order_by entry is [metric or dimension, \"asc\" | \"desc\"]"))?;
    let name = pair[0].as_str().unwrap_or_default();
    let key = metrics
        .iter()
        .position(|m| m.name() == name)
        .map(OrderKey::Metric)
        .or_else(|| dimensions.iter().position(|d| d.name() == name).map(OrderKey::Dimension))
        .ok_or_else(|| QueryError::new(format!("{field}[0]"), format!("{name:?} is not one of the query's metrics or dimensions")))?;
    let direction = match pair[1].as_str() {
        Some("asc") => Direction::Asc,
        Some("desc") => Direction::Desc,
        _ => return Err(QueryError::new(format!("{field}[1]"), "the direction is \"asc\" or \"desc\"")),
    };
    Ok((key, direction))
}

fn pagination(value: Option<&Value>) -> Result<(usize, usize), QueryError> {
    let Some(value) = value else { return Ok((MAX_LIMIT, 0)) };
    let object = value.as_object().ok_or_else(|| QueryError::new("pagination", "pagination is {\"limit\": n, \"offset\": n}"))?;
    if let Some(key) = object.keys().find(|k| !["limit", "offset"].contains(&k.as_str())) {
        return Err(QueryError::new(format!("pagination.{key}"), "pagination takes limit and offset"));
    }
    let number = |key: &str, default: usize, range: std::ops::RangeInclusive<usize>| match object.get(key) {
        None => Ok(default),
        Some(v) => v.as_u64().map(|n| n as usize).filter(|n| range.contains(n)).ok_or_else(|| {
            QueryError::new(format!("pagination.{key}"), format!("{key} must be an integer from {} to {}", range.start(), range.end()))
        }),
    };
    Ok((number("limit", MAX_LIMIT, 1..=MAX_LIMIT)?, number("offset", 0, 0..=usize::MAX >> 1)?))
}

fn include(value: Option<&Value>) -> Result<(bool, Option<Comparison>), QueryError> {
    let Some(value) = value else { return Ok((false, None)) };
    let object = value.as_object().ok_or_else(|| QueryError::new("include", "include is an object"))?;
    let mut totals = false;
    let mut comparison = None;
    for (key, v) in object {
        match key.as_str() {
            "totals" => totals = v.as_bool().ok_or_else(|| QueryError::new("include.totals", "totals is true or false"))?,
            "comparisons" => {
                let mode = v.get("mode").and_then(Value::as_str);
                comparison = Some(match mode {
                    Some("previous_period") => Comparison::PreviousPeriod,
                    Some("year_over_year") => Comparison::YearOverYear,
                    _ => {
                        return Err(QueryError::new(
                            "include.comparisons.mode",
                            "comparisons is {\"mode\": \"previous_period\" | \"year_over_year\"}",
                        ))
                    }
                });
            }
            other => return Err(QueryError::new(format!("include.{other}"), "include takes totals and comparisons")),
        }
    }
    Ok((totals, comparison))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(json: Value) -> String {
        parse(&json).expect_err("should be rejected").field
    }

    #[test]
    fn a_full_query_parses() {
        let q = parse(&json!({
            "site_id": "Example.com",
            "date_range": ["2024-02-01", "2024-02-29"],
            "metrics": ["visitors", "bounce_rate", "conversion_rate"],
            "dimensions": ["visit:country", "time:day", "event:props:plan"],
            "filters": [["is", "event:goal", ["Signup"]], ["not", ["contains", "event:page", ["/blog"]]], ["or", [["matches", "visit:source", ["^Goo"]], ["is_not", "visit:device", ["mobile"]]]]],
            "order_by": [["visitors", "desc"], ["time:day", "asc"]],
            "pagination": {"limit": 5, "offset": 10},
            "include": {"totals": true, "comparisons": {"mode": "previous_period"}}
        }))
        .unwrap();
        assert_eq!(q.site, SiteRef::Domain("example.com".into()));
        assert_eq!(q.date_range, DateRange::Custom(Date { year: 2024, month: 2, day: 1 }, Date { year: 2024, month: 2, day: 29 }));
        assert_eq!(q.dimensions[0], Dimension::Attr(Attr::Visit("country")));
        assert_eq!(q.dimensions[2], Dimension::Attr(Attr::Prop("plan".into())));
        assert_eq!(q.order_by, vec![(OrderKey::Metric(0), Direction::Desc), (OrderKey::Dimension(1), Direction::Asc)]);
        assert_eq!((q.limit, q.offset, q.totals), (5, 10, true));
        assert_eq!(q.comparison, Some(Comparison::PreviousPeriod));
        assert!(q.has_goal());
    }

    #[test]
    fn a_pair_of_date_times_is_a_range_of_instants_to_the_end_of_its_second() {
        let range = |pair: Value| parse(&json!({"site_id": "a.com", "date_range": pair, "metrics": ["visitors"]})).map(|q| q.date_range);
        // 2024-01-01T09:00:00Z is 1_704_099_600 s after the epoch.
        let from_us = 1_704_099_600_000_000;
        let hours = |h: i64| h * 3_600_000_000;
        assert_eq!(
            range(json!(["2024-01-01T10:00:00+01:00", "2024-01-01T13:59:59+01:00"])).unwrap(),
            DateRange::Instants { from_us, to_us: from_us + hours(4) }
        );
        let fraction = range(json!(["2024-01-01T09:00:00.250Z", "2024-01-01T09:29:59.5Z"])).unwrap();
        assert_eq!(fraction, DateRange::Instants { from_us: from_us + 250_000, to_us: from_us + hours(1) / 2 });
        assert_eq!(fraction.max_days(), 2, "half an hour may cross a local midnight");
        assert_eq!(range(json!(["2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z"])).unwrap().max_days(), 2);
        let field = |pair: Value| range(pair).expect_err("should be rejected").field;
        assert_eq!(field(json!(["2024-01-01T10:00:00", "2024-01-01T12:00:00Z"])), "date_range[0]", "no offset");
        assert_eq!(field(json!(["2024-01-01T10:00:00Z", "2024-02-30T12:00:00Z"])), "date_range[1]");
        assert_eq!(field(json!(["2024-01-01T10:00:00Z", 5])), "date_range[1]");
        assert_eq!(field(json!(["2024-01-01T12:00:00Z", "2024-01-01T10:00:00Z"])), "date_range", "from after to");
        assert_eq!(field(json!(["2000-01-01T00:00:00Z", "2024-01-01T00:00:00Z"])), "date_range", "longer than ten years");
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let base = || json!({"site_id": "a.com", "date_range": "7d", "metrics": ["visitors"]});
        let with = |key: &str, value: Value| {
            let mut q = base();
            q[key] = value;
            q
        };
        assert_eq!(field_of(with("metrics", json!(["visitors", "clicks"]))), "metrics[1]");
        assert_eq!(field_of(with("metrics", json!([]))), "metrics");
        assert_eq!(field_of(with("dimensions", json!(["visit:planet"]))), "dimensions[0]");
        assert_eq!(field_of(with("dimensions", json!(["time:day", "time:day"]))), "dimensions[1]");
        assert_eq!(field_of(with("date_range", json!("fortnight"))), "date_range");
        assert_eq!(field_of(with("date_range", json!(["2024-02-30", "2024-03-01"]))), "date_range[0]");
        assert_eq!(field_of(with("date_range", json!(["2024-03-02", "2024-03-01"]))), "date_range");
        assert_eq!(field_of(with("filters", json!([["is", "visit:planet", ["x"]]]))), "filters[0][1]");
        assert_eq!(field_of(with("filters", json!([["like", "event:page", ["x"]]]))), "filters[0][0]");
        assert_eq!(field_of(with("filters", json!([["is", "event:page", []]]))), "filters[0][2]");
        assert_eq!(field_of(with("filters", json!([["and", [["matches", "event:page", ["("]]]]]))), "filters[0][1][0][2][0]");
        assert_eq!(field_of(with("order_by", json!([["pageviews", "desc"]]))), "order_by[0][0]");
        assert_eq!(field_of(with("pagination", json!({"limit": 0}))), "pagination.limit");
        assert_eq!(field_of(with("include", json!({"comparisons": {"mode": "last_decade"}}))), "include.comparisons.mode");
        assert_eq!(field_of(with("metrics", json!(["conversion_rate"]))), "metrics[0]");
        assert_eq!(field_of(with("sites", json!(1))), "sites");
        assert_eq!(field_of(with("funnel", json!(["only one"]))), "funnel");
        assert_eq!(field_of(with("funnel", json!(["a", 2]))), "funnel[1]");
        assert_eq!(field_of(with("funnel", json!(7))), "funnel");
        let mut grouped = with("funnel", json!(["a", "b"]));
        grouped["dimensions"] = json!(["event:page"]);
        assert_eq!(field_of(grouped), "dimensions");
        assert_eq!(field_of(json!({"date_range": "7d", "metrics": ["visitors"]})), "site_id");
    }

    #[test]
    fn queries_are_bounded_in_span_buckets_and_filter_size() {
        let query = |range: Value, dimensions: Value, filters: Value| json!({"site_id": "a.com", "date_range": range, "metrics": ["visitors"], "dimensions": dimensions, "filters": filters});
        let rejected = |q: Value| parse(&q).expect_err("should be rejected");
        // The range that grew a backend to 14.9 GB: 9,000 years of hours.
        let e = rejected(query(json!(["1000-01-01", "9999-12-31"]), json!(["time:hour"]), json!([])));
        assert_eq!(e.field, "date_range");
        assert_eq!(rejected(query(json!(["2000-01-01", "2024-12-31"]), json!([]), json!([]))).field, "date_range");
        assert_eq!(rejected(query(json!("400d"), json!(["time:hour"]), json!([]))).field, "date_range");
        assert!(rejected(query(json!("400d"), json!(["time:hour"]), json!([]))).message.contains("time:hour"));
        parse(&query(json!("year"), json!(["time:hour"]), json!([]))).expect("a year of hours");
        parse(&query(json!(["2015-01-01", "2024-12-31"]), json!(["time:day"]), json!([]))).expect("ten years of days");
        assert_eq!(Date { year: 2024, month: 3, day: 1 }.days_since_epoch() - Date { year: 2024, month: 2, day: 1 }.days_since_epoch(), 29);
        assert_eq!(Date { year: 1970, month: 1, day: 1 }.days_since_epoch(), 0);

        let leaf = |values: Value| json!(["is", "event:page", values]);
        let nested = (0..MAX_FILTER_DEPTH).fold(leaf(json!(["/"])), |inner, _| json!(["not", inner]));
        assert_eq!(rejected(query(json!("7d"), json!([]), json!([nested]))).field, format!("filters[0]{}", "[1]".repeat(MAX_FILTER_DEPTH)));
        let many: Vec<Value> = (0..=MAX_FILTER_LEAVES).map(|_| leaf(json!(["/"]))).collect();
        assert_eq!(rejected(query(json!("7d"), json!([]), json!(many))).field, format!("filters[{MAX_FILTER_LEAVES}]"));
        let wide: Vec<String> = (0..=MAX_FILTER_VALUES).map(|i| format!("/{i}")).collect();
        assert_eq!(rejected(query(json!("7d"), json!([]), json!([leaf(json!(wide))]))).field, "filters[0][2]");
        let long = "/".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(rejected(query(json!("7d"), json!([]), json!([leaf(json!(["/", long]))]))).field, "filters[0][2][1]");
        let blowup = json!([["matches", "event:page", ["(((a{100}){100}){100})"]]]);
        assert_eq!(rejected(query(json!("7d"), json!([]), blowup)).field, "filters[0][2][0]");
        let patterns: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("^/{i}")).collect();
        assert_eq!(rejected(query(json!("7d"), json!([]), json!([["matches", "event:page", patterns]]))).field, "filters[0][2]");
        let mut q = query(json!("7d"), json!([]), json!([]));
        q["metrics"] = json!(vec!["visitors"; Metric::ALL.len() + 1]);
        assert_eq!(rejected(q).field, "metrics");
    }

    #[test]
    fn modifiers_and_behavioural_filters_are_checked() {
        let field_of = |filter: Value| {
            let q = json!({"site_id": "a.com", "date_range": "7d", "metrics": ["visitors"], "filters": [filter]});
            parse(&q).expect_err("should be rejected").field
        };
        assert_eq!(field_of(json!(["contains", "event:page", ["a"], {"case_sensitive": "no"}])), "filters[0][3].case_sensitive");
        assert_eq!(field_of(json!(["contains", "event:page", ["a"], {"exact": true}])), "filters[0][3]");
        assert_eq!(field_of(json!(["contains", "event:page", ["a"], true])), "filters[0][3]");
        assert_eq!(field_of(json!(["is", "event:goal", ["Signup"], {"case_sensitive": false}])), "filters[0][0]");
        assert_eq!(field_of(json!(["has_done", ["is", "event:nope", ["/"]]])), "filters[0][1][1]");
        assert_eq!(field_of(json!(["has_done"])), "filters[0]");
        let q = json!({"site_id": "a.com", "date_range": "7d", "metrics": ["visitors"],
            "filters": [["has_not_done", ["is", "event:page", ["/"]]], ["is", "event:page", ["A.b"], {"case_sensitive": false}]]});
        let Some(Filter::And(list)) = parse(&q).unwrap().filter else { panic!("top-level filters are an And") };
        assert!(matches!(&list[0], Filter::Not(inner) if matches!(**inner, Filter::HasDone(_))));
        assert!(matches!(&list[1], Filter::Leaf { op: Op::Matches, values, .. } if values == &["(?i)^A\\.b$"]));
    }

    #[test]
    fn is_not_is_the_negation_of_is_and_ranges_have_short_names() {
        let q = parse(&json!({"site_id": 3, "date_range": "30d", "metrics": ["visits"], "filters": [["is_not", "visit:country", ["DE"]]]}))
            .unwrap();
        assert_eq!(q.site, SiteRef::Id(3));
        assert_eq!(q.date_range, DateRange::LastDays(30));
        assert!(matches!(&q.filter, Some(Filter::And(list)) if matches!(&list[0], Filter::Not(_))));
        for (name, range) in [
            ("day", DateRange::Day),
            ("month", DateRange::Month),
            ("year", DateRange::Year),
            ("realtime", DateRange::Realtime),
            ("24h", DateRange::Last24Hours),
        ] {
            let q = parse(&json!({"site_id": 3, "date_range": name, "metrics": ["visits"]})).unwrap();
            assert_eq!(q.date_range, range);
        }
    }
}
