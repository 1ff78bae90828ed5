//! `include.imports` (v2) and `with_imported` (v1): imported figures
//! ([`super::aggregate`]) added to the native answer, as Plausible does, for the
//! metrics and dimensions its imported tables hold; otherwise the native answer with
//! Plausible's `imports_skip_reason` and `imports_warning`.
//!
//! The merge is done here, around `tally.query`, rather than inside the engine: imported
//! rows are per-day totals that no event filter, session or sketch applies to, so they
//! share nothing with the engine's scans and rollups but the final addition; one
//! function ([`answer`]) serves both APIs, and the engine stays one path over events.
//!
//! What merges: metrics `visitors`, `visits`, `pageviews`, `events`, `bounce_rate`,
//! `visit_duration`, `views_per_visit`; dimensions of one imported table (a source and
//! its UTM tags, a page and its hostname, ...) and `time:day|week|month`; filters
//! (`is`, `is_not`, `contains`, `contains_not`) on that table's dimensions. Imported
//! custom events answer `event:name`, and with the imported pages `event:goal` (a
//! goal's event name or page pattern picks its imported rows, as Plausible's goals
//! do); events are counted there, not visits, so only `visitors`, `events` and
//! `pageviews` merge. An imported table's `events` are its pageviews, as in Plausible. Visitors
//! add as Plausible's do (imported days and native days are counted apart). Rates and
//! averages are recomputed from sums: the native bounces, durations and pageviews are
//! the engine's rates times its visits (the rates are rounded to 2 decimals and
//! durations to seconds, so these are within a rounding of the exact sums).
//!
//! With a comparison (`include.comparisons`), each period gets the imported rows of its
//! own days, as Plausible's comparison query re-decides imports over its range: the
//! comparison figures of each result row are merged by the same [`merge`] as the
//! current ones, and its `change` is recomputed from the merged figures.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate};
use serde_json::{json, Map, Value};
use tally_core::query::{change, Metric};
use tokio_postgres::types::ToSql;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::query;
use crate::state::AppState;
use crate::statement::{self, Work};

/// Metrics an imported table can answer.
const METRICS: [&str; 7] = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "views_per_visit"];
/// Metrics the imported events (custom events and goals) answer: they count no visits.
const EVENT_METRICS: [&str; 3] = ["visitors", "events", "pageviews"];

/// Where a dimension lives among the imported tables: (table, SQL expression).
fn column(dimension: &str) -> Option<(&'static str, &'static str)> {
    Some(match dimension {
        "event:page" => ("pages", "page"),
        "event:hostname" => ("pages", "hostname"),
        "visit:source" => ("sources", "source"),
        "visit:channel" => ("sources", "channel"),
        "visit:referrer" => ("sources", "referrer"),
        "visit:utm_source" => ("sources", "utm_source"),
        "visit:utm_medium" => ("sources", "utm_medium"),
        "visit:utm_campaign" => ("sources", "utm_campaign"),
        "visit:utm_content" => ("sources", "utm_content"),
        "visit:utm_term" => ("sources", "utm_term"),
        "visit:entry_page" => ("entry_pages", "entry_page"),
        "visit:exit_page" => ("exit_pages", "exit_page"),
        "visit:country" => ("locations", "country"),
        "visit:region" => ("locations", "region"),
        "visit:device" => ("devices", "device"),
        "visit:browser" => ("browsers", "browser"),
        "visit:browser_version" => ("browsers", "browser_version"),
        "visit:os" => ("operating_systems", "operating_system"),
        "visit:os_version" => ("operating_systems", "operating_system_version"),
        "event:name" => ("custom_events", "name"),
        "event:goal" => ("goals", "goal"),
        _ => return None,
    })
}

/// A table's expressions for visits, pageviews, bounces, visit duration and events
/// (`NULL` where it has none).
fn sum_columns(table: &str) -> [&'static str; 5] {
    match table {
        "pages" => ["visits", "pageviews", "NULL::bigint", "NULL::bigint", "pageviews"],
        "entry_pages" => ["entrances", "pageviews", "bounces", "visit_duration", "pageviews"],
        "exit_pages" => ["exits", "pageviews", "bounces", "visit_duration", "pageviews"],
        "custom_events" => ["NULL::bigint", "0", "NULL::bigint", "NULL::bigint", "events"],
        "goals" => ["NULL::bigint", "pageviews", "NULL::bigint", "NULL::bigint", "events"],
        _ => ["visits", "pageviews", "bounces", "visit_duration", "pageviews"],
    }
}

/// The rows of an imported table; `goals` are the imported custom events of each event
/// goal's name and the imported pages matching each page goal's pattern (`*` any run
/// of characters, as the engine's goals read it), per goal.
fn relation(table: &str) -> String {
    match table {
        "goals" => r"(SELECT e.site_id, e.date, g.name AS goal, e.visitors, 0::bigint AS pageviews, e.events
                      FROM tally.imported_custom_events e JOIN tally.goals g ON g.site_id = e.site_id AND g.event_name = e.name
                      UNION ALL
                      SELECT p.site_id, p.date, g.name, p.visitors, p.pageviews, p.pageviews
                      FROM tally.imported_pages p JOIN tally.goals g ON g.site_id = p.site_id
                       AND p.page LIKE replace(replace(replace(replace(g.page_pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
                     ) AS imported_goals"
            .to_owned(),
        other => format!("tally.imported_{other}"),
    }
}

/// Why imported data is left out, in Plausible's words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Skip {
    NoImportedData,
    OutOfRange,
    UnsupportedQuery,
    UnsupportedInterval,
}

impl Skip {
    fn reason(self) -> &'static str {
        match self {
            Skip::NoImportedData => "no_imported_data",
            Skip::OutOfRange => "out_of_range",
            Skip::UnsupportedQuery => "unsupported_query",
            Skip::UnsupportedInterval => "unsupported_interval",
        }
    }

    fn warning(self) -> Option<&'static str> {
        match self {
            Skip::UnsupportedQuery => Some(
                "Imported stats are not included in the results because query parameters are not supported. \
                 For more information, see: https://plausible.io/docs/stats-api#filtering-imported-stats",
            ),
            Skip::UnsupportedInterval => {
                Some("Imported stats are not included because the time dimension (i.e. the interval) is too short.")
            }
            _ => None,
        }
    }
}

/// How the imported rows answer a query: the table, what each dimension is, and the
/// filters as SQL.
#[derive(Debug, PartialEq)]
struct Plan {
    table: &'static str,
    /// Per dimension: its SQL expression giving text (NULL for none).
    keys: Vec<String>,
    /// `AND`ed conditions, `$4`... their values.
    conditions: Vec<String>,
    values: Vec<Vec<String>>,
}

/// The plan for the engine query `query`, or why imports cannot answer it.
fn plan(query: &Value) -> Result<Plan, Skip> {
    let texts =
        |key: &str| -> Vec<String> { query[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect() };
    if texts("metrics").iter().any(|m| !METRICS.contains(&m.as_str())) || query.get("funnel").is_some() {
        return Err(Skip::UnsupportedQuery);
    }
    let mut table: Option<&'static str> = None;
    let mut same_table = |t: &'static str| match table {
        None => {
            table = Some(t);
            true
        }
        Some(other) => other == t,
    };
    let mut keys = Vec::new();
    for dimension in texts("dimensions") {
        let key = match dimension.as_str() {
            "time:hour" | "time:minute" => return Err(Skip::UnsupportedInterval),
            "time:day" => "date::text".to_owned(),
            "time:week" => "date_trunc('week', date)::date::text".to_owned(),
            "time:month" => "date_trunc('month', date)::date::text".to_owned(),
            other => match column(other) {
                Some((t, c)) if same_table(t) => format!("nullif({c}, '')"),
                _ => return Err(Skip::UnsupportedQuery),
            },
        };
        keys.push(key);
    }
    let (mut conditions, mut values) = (Vec::new(), Vec::new());
    for filter in query["filters"].as_array().into_iter().flatten() {
        let parts = filter.as_array().map(Vec::as_slice).unwrap_or_default();
        let (Some(op), Some(dimension), Some(list)) =
            (parts.first().and_then(Value::as_str), parts.get(1).and_then(Value::as_str), parts.get(2).and_then(Value::as_array))
        else {
            return Err(Skip::UnsupportedQuery);
        };
        if parts.len() > 3 {
            return Err(Skip::UnsupportedQuery);
        }
        let Some((t, c)) = column(dimension).filter(|(t, _)| same_table(t)) else { return Err(Skip::UnsupportedQuery) };
        let _ = t;
        let list: Vec<String> = list.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or(Skip::UnsupportedQuery)?;
        let n = 4 + values.len();
        conditions.push(match op {
            "is" => format!("{c} = ANY(${n})"),
            "is_not" => format!("NOT {c} = ANY(${n})"),
            "contains" => format!("EXISTS (SELECT FROM unnest(${n}::text[]) v WHERE strpos(lower({c}), lower(v)) > 0)"),
            "contains_not" => format!("NOT EXISTS (SELECT FROM unnest(${n}::text[]) v WHERE strpos(lower({c}), lower(v)) > 0)"),
            _ => return Err(Skip::UnsupportedQuery),
        });
        values.push(list);
    }
    let table = table.unwrap_or("visitors");
    if ["custom_events", "goals"].contains(&table) && texts("metrics").iter().any(|m| !EVENT_METRICS.contains(&m.as_str())) {
        return Err(Skip::UnsupportedQuery);
    }
    Ok(Plan { table, keys, conditions, values })
}

/// Imported sums of one group.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    visitors: f64,
    visits: f64,
    pageviews: f64,
    bounces: f64,
    duration: f64,
    events: f64,
}

impl std::ops::Add for Sums {
    type Output = Sums;

    fn add(self, other: Sums) -> Sums {
        Sums {
            visitors: self.visitors + other.visitors,
            visits: self.visits + other.visits,
            pageviews: self.pageviews + other.pageviews,
            bounces: self.bounces + other.bounces,
            duration: self.duration + other.duration,
            events: self.events + other.events,
        }
    }
}

/// Answers the engine query `query` (as [`query::answer`] does) with imported data
/// added where it applies; the answer's `meta` says whether it was
/// (`imports_included`, and `imports_skip_reason`/`imports_warning` when not).
pub async fn answer(state: &AppState, caller: &Caller, query: &Value, audit: Option<&str>, work: Work) -> Result<Value, ApiError> {
    let prepared = prepare(state, caller, query).await?;
    let native = query::answer(state, caller, &prepared.engine, audit, work).await?;
    prepared.finish(state, caller, native).await
}

/// A query asking for imported data, readied for the engine: what the engine is asked
/// ([`Prepared::engine`]), and how its answer becomes the merged one
/// ([`Prepared::finish`]). [`answer`] runs one such query; the batch route runs many
/// engine queries together between the two steps.
pub struct Prepared {
    /// The query for `tally.query`.
    pub engine: Value,
    how: How,
}

enum How {
    /// Imports do not apply: the native answer, saying why.
    Skip(Skip),
    /// Imports merge by `plan` over the days they span (`range`), the query's
    /// `pagination` applied after and the engine's metrics past the `requested` ones
    /// dropped.
    Merge { plan: Plan, site: String, range: Option<(NaiveDate, NaiveDate)>, pagination: Option<Value>, requested: usize },
}

/// Readies the engine query `query` for imported data.
pub async fn prepare(state: &AppState, caller: &Caller, query: &Value) -> Result<Prepared, ApiError> {
    let planned = plan(query);
    let site = query["site_id"].as_str().unwrap_or_default().to_owned();
    let (imported_any, range) = imports_of(state, caller, &site).await?;
    let plan = match planned {
        _ if !imported_any => return Ok(Prepared { engine: query.clone(), how: How::Skip(Skip::NoImportedData) }),
        Err(skip) => return Ok(Prepared { engine: query.clone(), how: How::Skip(skip) }),
        Ok(plan) => plan,
    };
    // Every native group (the engine's most, MAX_LIMIT) is merged, then sorted and
    // paged here; visits are needed to turn rates back into sums.
    let mut engine = query.clone();
    let pagination = engine.as_object_mut().and_then(|o| o.remove("pagination"));
    let metrics: Vec<String> = engine["metrics"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_owned)).collect();
    let requested = metrics.len();
    if !metrics.iter().any(|m| m == "visits") {
        engine["metrics"].as_array_mut().expect("metrics are a list").push(json!("visits"));
    }
    Ok(Prepared { engine, how: How::Merge { plan, site, range, pagination, requested } })
}

impl Prepared {
    /// The answer to the query: `native`, the engine's answer to [`Prepared::engine`],
    /// with the imported figures added where they apply.
    pub async fn finish(self, state: &AppState, caller: &Caller, mut native: Value) -> Result<Value, ApiError> {
        let (plan, site, range, pagination, requested) = match self.how {
            How::Skip(skip) => {
                mark(&mut native, Some(skip));
                return Ok(native);
            }
            How::Merge { plan, site, range, pagination, requested } => (plan, site, range, pagination, requested),
        };
        let engine = self.engine;
        let overlaps = |(from, to): (NaiveDate, NaiveDate)| range.is_some_and(|(first, last)| first <= to && last >= from);
        let current = days(&native["query"]["date_range"]);
        let skip = match current {
            // A realtime range is minutes: no imported day falls in it.
            None => Some(Skip::UnsupportedInterval),
            Some(days) if !overlaps(days) => Some(Skip::OutOfRange),
            Some(_) => None,
        };
        if let (None, Some((from, to))) = (skip, current) {
            let imported = imported_rows(state, caller, &site, &plan, from, to).await?;
            if native.get("totals").is_some() {
                // The totals row (`include.totals`) gets every imported group's sums.
                let sum = imported.iter().fold(Sums::default(), |a, (_, s)| a + *s);
                let mut totals = vec![json!({ "dimensions": [], "metrics": native["totals"]["metrics"].clone() })];
                merge(&mut totals, &engine, vec![(Vec::new(), sum)]);
                native["totals"]["metrics"] = totals[0]["metrics"].clone();
            }
            let mut results = native["results"].as_array().cloned().unwrap_or_default();
            merge(&mut results, &engine, imported);
            native["results"] = Value::Array(results);
        }
        if let (Some((from, _)), Some(previous)) = (current, days(&native["query"]["comparison"]["date_range"])) {
            let imported = match overlaps(previous) {
                true => imported_rows(state, caller, &site, &plan, previous.0, previous.1).await?,
                false => Vec::new(),
            };
            // The engine compares only its own groups: the comparison period's native
            // rows of the groups the current merge added are asked for apart.
            let added = native["results"].as_array().into_iter().flatten().any(|row| row.get("comparison").is_none());
            let native_previous = match added {
                true => {
                    let mut alone = engine.clone();
                    alone["date_range"] = native["query"]["comparison"]["date_range"].clone();
                    if let Some(include) = alone.get_mut("include").and_then(Value::as_object_mut) {
                        include.remove("comparisons");
                        include.remove("totals");
                    }
                    query::answer(state, caller, &alone, None, Work::Query).await?["results"].as_array().cloned().unwrap_or_default()
                }
                false => Vec::new(),
            };
            compare(&mut native, &engine, imported, &native_previous, from, previous.0);
        }
        sort_and_page(&mut native, &engine, pagination.as_ref());
        mark(&mut native, skip);
        Ok(strip(native, requested))
    }
}

/// The days of an answer's `[from, to]` labels (none for a realtime range's minutes).
fn days(range: &Value) -> Option<(NaiveDate, NaiveDate)> {
    Some((date(range[0].as_str()?)?, date(range[1].as_str()?)?))
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Whether the site has imported data, and the days it spans.
async fn imports_of(state: &AppState, caller: &Caller, domain: &str) -> Result<(bool, Option<(NaiveDate, NaiveDate)>), ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx
        .query_one(
            "SELECT count(*) > 0, min(start_date), max(end_date) FROM tally.site_imports i JOIN tally.sites s USING (site_id) WHERE s.domain = $1",
            &[&domain],
        )
        .await?;
    tx.commit().await?;
    let range = match (row.get::<_, Option<NaiveDate>>(1), row.get::<_, Option<NaiveDate>>(2)) {
        (Some(first), Some(last)) => Some((first, last)),
        _ => None,
    };
    Ok((row.get(0), range))
}

/// The imported groups of `plan` over `from..=to`: dimension values and sums.
async fn imported_rows(
    state: &AppState,
    caller: &Caller,
    domain: &str,
    plan: &Plan,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Vec<Value>, Sums)>, ApiError> {
    let [visits, pageviews, bounces, duration, events] = sum_columns(plan.table);
    let keys: String = plan.keys.iter().map(|k| format!("{k}, ")).collect();
    let group = if plan.keys.is_empty() {
        String::new()
    } else {
        format!("GROUP BY {}", (1..=plan.keys.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
    };
    let conditions: String = plan.conditions.iter().map(|c| format!(" AND {c}")).collect();
    let sql = format!(
        "SELECT {keys}sum(visitors)::float8, sum({visits})::float8, sum({pageviews})::float8, sum({bounces})::float8, sum({duration})::float8,
                sum({events})::float8
         FROM {relation} WHERE site_id = (SELECT site_id FROM tally.sites WHERE domain = $1) AND date BETWEEN $2 AND $3{conditions}
         {group}",
        relation = relation(plan.table)
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&domain, &from, &to];
    params.extend(plan.values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    statement::limit(&tx, &state.config.timeouts, Work::Query).await?;
    let rows = tx.query(&sql, &params).await?;
    tx.commit().await?;
    let n = plan.keys.len();
    Ok(rows
        .iter()
        .filter(|r| r.get::<_, Option<f64>>(n).is_some())
        .map(|r| {
            let keys = (0..n).map(|i| r.get::<_, Option<String>>(i).map_or(Value::Null, Value::String)).collect();
            let sum = |i: usize| r.get::<_, Option<f64>>(n + i).unwrap_or(0.0);
            (keys, Sums { visitors: sum(0), visits: sum(1), pageviews: sum(2), bounces: sum(3), duration: sum(4), events: sum(5) })
        })
        .collect())
}

/// Adds `imported` into `results`, rows (`dimensions`, `metrics`) of the engine query
/// `engine` (whose metrics include `visits`): groups of both are summed, groups only
/// imported are added.
fn merge(results: &mut Vec<Value>, engine: &Value, imported: Vec<(Vec<Value>, Sums)>) {
    let metrics: Vec<&str> = engine["metrics"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let at = |name: &str| metrics.iter().position(|m| *m == name);
    let visits_at = at("visits").expect("visits were added");
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, row) in results.iter().enumerate() {
        index.insert(row["dimensions"].to_string(), i);
    }
    for (keys, sums) in imported {
        let key = Value::Array(keys.clone()).to_string();
        let i = *index.entry(key).or_insert_with(|| {
            results.push(json!({ "dimensions": keys, "metrics": vec![json!(0); metrics.len()] }));
            results.len() - 1
        });
        let row = &mut results[i];
        let value = |m: Option<usize>| m.and_then(|m| row["metrics"][m].as_f64()).unwrap_or(0.0);
        let visits = value(Some(visits_at));
        let native = Sums {
            visitors: value(at("visitors")),
            visits,
            pageviews: at("pageviews").map_or(value(at("views_per_visit")) * visits, |m| value(Some(m))),
            bounces: (value(at("bounce_rate")) * visits / 100.0).round(),
            duration: value(at("visit_duration")) * visits,
            events: value(at("events")),
        };
        let total = native + sums;
        let ratio = |part: f64, digits: f64| if total.visits > 0.0 { (part / total.visits * digits).round() / digits } else { 0.0 };
        for (m, name) in metrics.iter().enumerate() {
            row["metrics"][m] = match *name {
                "visitors" => json!(total.visitors as u64),
                "visits" => json!(total.visits as u64),
                "pageviews" => json!(total.pageviews as u64),
                "events" => json!(total.events as u64),
                "bounce_rate" => json!(ratio(total.bounces * 100.0, 100.0)),
                "visit_duration" => json!(ratio(total.duration, 1.0) as u64),
                "views_per_visit" => json!(ratio(total.pageviews, 100.0)),
                _ => row["metrics"][m].clone(),
            };
        }
    }
}

/// Merges `imported`, the imported groups of the comparison period starting on
/// `previous_from`, into the comparison of each result row of `native` (the current
/// period starting on `from`), and recomputes each row's `change`. Only the result
/// rows' groups are compared, as the engine compares them; a row the current merge
/// added is compared with its group's row among `native_previous` (the engine's rows
/// of the comparison period), or zeros.
fn compare(
    native: &mut Value,
    engine: &Value,
    imported: Vec<(Vec<Value>, Sums)>,
    native_previous: &[Value],
    from: NaiveDate,
    previous_from: NaiveDate,
) {
    let metrics: Vec<&str> = engine["metrics"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let dimensions: Vec<&str> = engine["dimensions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut results = native["results"].as_array().cloned().unwrap_or_default();
    let native_previous: HashMap<String, &Value> = native_previous.iter().map(|p| (p["dimensions"].to_string(), &p["metrics"])).collect();
    let mut previous: Vec<Value> = results
        .iter()
        .map(|row| match row.get("comparison") {
            Some(c) => json!({ "dimensions": c["dimensions"], "metrics": c["metrics"] }),
            None => {
                let keys: Vec<Value> = dimensions
                    .iter()
                    .zip(row["dimensions"].as_array().into_iter().flatten())
                    .map(|(dimension, key)| match key.as_str().and_then(date) {
                        Some(day) if dimension.starts_with("time:") => {
                            json!(paired_bucket(dimension, day, from, previous_from).to_string())
                        }
                        _ => key.clone(),
                    })
                    .collect();
                let keys = Value::Array(keys);
                let metrics = match native_previous.get(&keys.to_string()) {
                    Some(&metrics) => metrics.clone(),
                    None => json!(vec![0; metrics.len()]),
                };
                json!({ "dimensions": keys, "metrics": metrics })
            }
        })
        .collect();
    let compared: std::collections::HashSet<String> = previous.iter().map(|row| row["dimensions"].to_string()).collect();
    let imported = imported.into_iter().filter(|(keys, _)| compared.contains(&Value::Array(keys.clone()).to_string())).collect();
    merge(&mut previous, engine, imported);
    for (row, before) in results.iter_mut().zip(previous) {
        let changes: Vec<Value> = metrics
            .iter()
            .enumerate()
            .map(|(m, name)| {
                Metric::from_name(name).map_or(Value::Null, |metric| change(metric, &row["metrics"][m], &before["metrics"][m]))
            })
            .collect();
        row["comparison"] = json!({ "dimensions": before["dimensions"], "metrics": before["metrics"], "change": changes });
    }
    native["results"] = Value::Array(results);
}

/// The comparison period's bucket paired with the current period's bucket `day` of the
/// time dimension `dimension`: buckets pair by position, as the engine pairs them, from
/// the buckets holding each period's first day.
fn paired_bucket(dimension: &str, day: NaiveDate, from: NaiveDate, previous_from: NaiveDate) -> NaiveDate {
    match dimension {
        "time:month" => {
            let month = |d: NaiveDate| d.with_day(1).expect("every month has a first day");
            let months = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
            let shift = Months::new((months(day) - months(from)).max(0) as u32);
            month(previous_from).checked_add_months(shift).unwrap_or(day)
        }
        "time:week" => {
            let monday = |d: NaiveDate| d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()));
            monday(previous_from) + (day - monday(from))
        }
        _ => previous_from + (day - from),
    }
}

/// Orders the merged rows as the query asks (the engine ordered the native ones) and
/// applies its pagination; `meta.total_rows` counts them all.
fn sort_and_page(native: &mut Value, engine: &Value, pagination: Option<&Value>) {
    let metrics: Vec<&str> = engine["metrics"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let dimensions: Vec<&str> = engine["dimensions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut order: Vec<(Option<usize>, Option<usize>, bool)> = engine["order_by"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let key = entry[0].as_str()?;
            let desc = entry[1].as_str() == Some("desc");
            Some((metrics.iter().position(|m| *m == key), dimensions.iter().position(|d| *d == key), desc))
        })
        .collect();
    let mut results = native["results"].as_array().cloned().unwrap_or_default();
    let compare = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.as_str().cmp(&b.as_str()),
    };
    // The engine's order: by default a time dimension ascending, else the first metric
    // descending; then each dimension ascending.
    if order.is_empty() {
        order.push(match dimensions.iter().position(|d| d.starts_with("time:")) {
            Some(time) => (None, Some(time), false),
            None => (Some(0), None, true),
        });
    }
    order.extend((0..dimensions.len()).map(|d| (None, Some(d), false)));
    results.sort_by(|a, b| {
        order
            .iter()
            .map(|&(m, d, desc)| {
                let (x, y) = match (m, d) {
                    (Some(m), _) => (&a["metrics"][m], &b["metrics"][m]),
                    (None, Some(d)) => (&a["dimensions"][d], &b["dimensions"][d]),
                    _ => return Ordering::Equal,
                };
                let o = compare(x, y);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let total = results.len();
    let limit = pagination.and_then(|p| p["limit"].as_u64()).unwrap_or(u64::MAX) as usize;
    let offset = pagination.and_then(|p| p["offset"].as_u64()).unwrap_or(0) as usize;
    native["results"] = Value::Array(results.into_iter().skip(offset).take(limit).collect());
    native["meta"]["total_rows"] = json!(total);
}

/// Drops the metrics added after the `requested` ones (and from the query's echo).
fn strip(mut native: Value, requested: usize) -> Value {
    for row in native["results"].as_array_mut().into_iter().flatten() {
        if let Some(metrics) = row["metrics"].as_array_mut() {
            metrics.truncate(requested);
        }
        for key in ["metrics", "change"] {
            if let Some(values) = row.get_mut("comparison").and_then(|c| c.get_mut(key)).and_then(Value::as_array_mut) {
                values.truncate(requested);
            }
        }
    }
    for (object, key) in [("totals", "metrics"), ("query", "metrics")] {
        if let Some(metrics) = native.get_mut(object).and_then(|o| o.get_mut(key)).and_then(Value::as_array_mut) {
            metrics.truncate(requested);
        }
    }
    native
}

/// Records in `meta` whether imports are included, and why not.
fn mark(answer: &mut Value, skip: Option<Skip>) {
    let mut meta: Map<String, Value> = answer["meta"].as_object().cloned().unwrap_or_default();
    meta.insert("imports_included".into(), json!(skip.is_none()));
    if let Some(skip) = skip {
        meta.insert("imports_skip_reason".into(), json!(skip.reason()));
        if let Some(warning) = skip.warning() {
            meta.insert("imports_warning".into(), json!(warning));
        }
    }
    answer["meta"] = Value::Object(meta);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(metrics: Value, dimensions: Value, filters: Value) -> Value {
        json!({"site_id": "a", "date_range": "7d", "metrics": metrics, "dimensions": dimensions, "filters": filters})
    }

    #[test]
    fn plans_follow_plausibles_imported_tables() {
        let p = plan(&q(json!(["visitors"]), json!(["visit:source", "time:day"]), json!([["is", "visit:utm_medium", ["cpc"]]]))).unwrap();
        assert_eq!(p.table, "sources");
        assert_eq!(p.keys, vec!["nullif(source, '')", "date::text"]);
        assert_eq!(p.conditions, vec!["utm_medium = ANY($4)"]);
        assert_eq!(plan(&q(json!(["visitors"]), json!([]), json!([]))).unwrap().table, "visitors");
        let skip = |query: Value| plan(&query).unwrap_err();
        assert_eq!(skip(q(json!(["visitors"]), json!(["visit:source", "visit:device"]), json!([]))), Skip::UnsupportedQuery);
        assert_eq!(skip(q(json!(["time_on_page"]), json!([]), json!([]))), Skip::UnsupportedQuery);
        let mut funnel = q(json!(["visitors"]), json!([]), json!([]));
        funnel["funnel"] = json!("Checkout");
        assert_eq!(skip(funnel), Skip::UnsupportedQuery);
        assert_eq!(skip(q(json!(["visitors"]), json!(["time:hour"]), json!([]))), Skip::UnsupportedInterval);
        let goals = plan(&q(json!(["visitors", "events"]), json!(["event:goal"]), json!([["is", "event:goal", ["Signup"]]]))).unwrap();
        assert_eq!((goals.table, goals.conditions), ("goals", vec!["goal = ANY($4)".to_owned()]));
        assert_eq!(plan(&q(json!(["events"]), json!(["event:name"]), json!([]))).unwrap().table, "custom_events");
        assert_eq!(skip(q(json!(["visitors", "bounce_rate"]), json!(["event:goal"]), json!([]))), Skip::UnsupportedQuery);
        assert_eq!(
            skip(q(json!(["visitors"]), json!(["visit:source"]), json!([["is", "event:goal", ["Signup"]]]))),
            Skip::UnsupportedQuery
        );
        assert_eq!(skip(q(json!(["visitors"]), json!(["visit:city"]), json!([]))), Skip::UnsupportedQuery);
    }

    #[test]
    fn rates_are_recomputed_from_sums() {
        let engine =
            json!({"metrics": ["visitors", "bounce_rate", "visit_duration", "views_per_visit", "visits"], "dimensions": ["visit:device"]});
        let mut native = json!({"results": [{"dimensions": ["Desktop"], "metrics": [4, 50.0, 100, 2.0, 4]}], "meta": {}});
        let imported = vec![
            (vec![json!("Desktop")], Sums { visitors: 6.0, visits: 6.0, pageviews: 12.0, bounces: 0.0, duration: 0.0, events: 12.0 }),
            (vec![json!("Tablet")], Sums { visitors: 1.0, visits: 2.0, pageviews: 6.0, bounces: 1.0, duration: 60.0, events: 6.0 }),
        ];
        let mut results = native["results"].as_array().cloned().unwrap_or_default();
        merge(&mut results, &engine, imported);
        native["results"] = Value::Array(results);
        sort_and_page(&mut native, &engine, Some(&json!({"limit": 5})));
        assert_eq!(
            native["results"],
            json!([
                {"dimensions": ["Desktop"], "metrics": [10, 20.0, 40, 2.0, 10]},
                {"dimensions": ["Tablet"], "metrics": [1, 50.0, 30, 3.0, 2]}
            ])
        );
        assert_eq!(native["meta"]["total_rows"], 2);
        assert_eq!(strip(native, 1)["results"][1]["metrics"], json!([1]));
    }

    #[test]
    fn comparisons_merge_the_imported_rows_of_their_own_days() {
        let engine = json!({"metrics": ["visitors", "bounce_rate", "visits"], "dimensions": ["time:day"]});
        let day = |d: &str| date(d).unwrap();
        // A native day compared with its native day; a day the current merge added with
        // the engine's row of its paired day.
        let mut native = json!({"results": [
            {"dimensions": ["2024-01-09"], "metrics": [4, 50.0, 4],
             "comparison": {"dimensions": ["2024-01-02"], "metrics": [2, 0.0, 2], "change": [100, 50.0, 100]}},
            {"dimensions": ["2024-01-10"], "metrics": [3, 0.0, 3]}
        ], "meta": {}});
        let imported = vec![
            (vec![json!("2024-01-02")], Sums { visitors: 6.0, visits: 8.0, bounces: 5.0, ..Sums::default() }),
            (vec![json!("2024-01-03")], Sums { visitors: 1.0, visits: 1.0, ..Sums::default() }),
            (vec![json!("2024-01-04")], Sums { visitors: 9.0, visits: 9.0, ..Sums::default() }),
        ];
        let native_previous = [json!({"dimensions": ["2024-01-03"], "metrics": [1, 100.0, 1]})];
        compare(&mut native, &engine, imported, &native_previous, day("2024-01-09"), day("2024-01-02"));
        assert_eq!(
            strip(native, 2)["results"],
            json!([
                {"dimensions": ["2024-01-09"], "metrics": [4, 50.0],
                 "comparison": {"dimensions": ["2024-01-02"], "metrics": [8, 50.0], "change": [-50, 0.0]}},
                {"dimensions": ["2024-01-10"], "metrics": [3, 0.0],
                 "comparison": {"dimensions": ["2024-01-03"], "metrics": [2, 50.0], "change": [50, -50.0]}}
            ])
        );
        // Weeks and months pair from the buckets holding each period's first day.
        assert_eq!(paired_bucket("time:week", day("2024-01-15"), day("2024-01-10"), day("2023-12-01")), day("2023-12-04"));
        assert_eq!(paired_bucket("time:month", day("2024-03-01"), day("2024-01-15"), day("2023-01-15")), day("2023-03-01"));
    }
}
