//! A dashboard view and what a report shows of it: the queries the dashboard's
//! overview, chart and top tables make, answered in one batch as the asking user.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::query;
use crate::state::AppState;

/// The overview's metrics and labels, as the dashboard's KPI cards have them.
pub const KPIS: [(&str, &str); 6] = [
    ("visitors", "Unique visitors"),
    ("visits", "Total visits"),
    ("pageviews", "Total pageviews"),
    ("views_per_visit", "Views per visit"),
    ("bounce_rate", "Bounce rate"),
    ("visit_duration", "Visit duration"),
];

/// The top tables: title, column heading, dimension and metrics (the first orders
/// the rows).
pub const TABLES: [(&str, &str, &str, &[&str]); 4] = [
    ("Top pages", "Page", "event:page", &["visitors", "pageviews"]),
    ("Sources", "Source", "visit:source", &["visitors", "bounce_rate"]),
    ("Countries", "Country", "visit:country", &["visitors"]),
    ("Devices", "Device", "visit:device", &["visitors"]),
];

/// Rows per table: a page's worth, as the dashboard shows.
pub const ROWS: i64 = 10;

/// What a report is of: the dashboard's site, date range (tally.query's `date_range`),
/// filters and comparison mode (`previous_period`, `year_over_year`, or null for none).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportView {
    pub site_id: String,
    #[serde(default = "thirty_days")]
    pub date_range: Value,
    #[serde(default)]
    pub filters: Vec<Value>,
    #[serde(default = "previous_period")]
    pub comparison: Option<String>,
}

fn thirty_days() -> Value {
    json!("30d")
}

fn previous_period() -> Option<String> {
    Some("previous_period".into())
}

/// One KPI card.
pub struct Kpi {
    pub metric: &'static str,
    pub label: &'static str,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub change: Option<f64>,
}

/// The chart: one point per bucket (days, or hours for a one-day range).
pub struct Series {
    pub labels: Vec<String>,
    pub current: Vec<f64>,
    pub previous: Option<Vec<f64>>,
}

/// One top table: its rows' dimension value (None: not set) and metrics.
pub struct Table {
    pub title: &'static str,
    pub column: &'static str,
    pub metrics: &'static [&'static str],
    pub rows: Vec<(Option<String>, Vec<Option<f64>>)>,
}

/// A view's answers, ready to render.
pub struct Report {
    pub view: ReportView,
    /// The range's first and last day (or instant, for realtime), in the site's time.
    pub from: String,
    pub to: String,
    pub kpis: Vec<Kpi>,
    pub series: Series,
    pub tables: Vec<Table>,
}

/// The view's queries, in the order [`collect`] reads their answers.
fn queries(view: &ReportView) -> Vec<Value> {
    let base = json!({"site_id": view.site_id, "date_range": view.date_range, "filters": view.filters});
    let with = |extra: Value, compared: bool| {
        let mut q = base.clone();
        q.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        if let (true, Some(mode)) = (compared, &view.comparison) {
            q["include"] = json!({"comparisons": {"mode": mode}});
        }
        q
    };
    let unit = if view.date_range == "day" { "time:hour" } else { "time:day" };
    let mut out =
        vec![with(json!({"metrics": KPIS.map(|(m, _)| m)}), true), with(json!({"metrics": ["visitors"], "dimensions": [unit]}), true)];
    for (_, _, dimension, metrics) in TABLES {
        out.push(with(
            json!({"metrics": metrics, "dimensions": [dimension], "order_by": [[metrics[0], "desc"]], "pagination": {"limit": ROWS}}),
            false,
        ));
    }
    out
}

/// Runs the view's queries as `caller` (their row-level security, their audit) and
/// gathers the answers; a query the extension refuses is a 400 naming its field.
pub async fn collect(state: &AppState, caller: &Caller, view: ReportView) -> Result<Report, ApiError> {
    if let Some(mode) = &view.comparison {
        if !["previous_period", "year_over_year"].contains(&mode.as_str()) {
            return Err(ApiError::bad_request("comparison", "comparison must be previous_period, year_over_year or null"));
        }
    }
    let answer = query::batch(state, caller, &json!({ "queries": queries(&view) })).await?;
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    for r in &results {
        if let Some(error) = r.get("error") {
            let field = error["field"].as_str().unwrap_or("query");
            return Err(ApiError::bad_request(field, error["message"].as_str().unwrap_or("refused")));
        }
    }
    let number = |v: &Value| v.as_f64();
    let kpi_row = &results[0]["results"][0];
    let kpis = KPIS
        .iter()
        .enumerate()
        .map(|(i, (metric, label))| Kpi {
            metric,
            label,
            value: number(&kpi_row["metrics"][i]),
            previous: number(&kpi_row["comparison"]["metrics"][i]),
            change: number(&kpi_row["comparison"]["change"][i]),
        })
        .collect();
    let range = &results[0]["query"]["date_range"];
    let (from, to) = (range[0].as_str().unwrap_or_default().to_owned(), range[1].as_str().unwrap_or_default().to_owned());
    let series = series(&results[1], &from, &to, view.comparison.is_some());
    let tables = TABLES
        .iter()
        .zip(&results[2..])
        .map(|((title, column, _, metrics), answer)| Table {
            title,
            column,
            metrics,
            rows: answer["results"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|r| {
                            let values = r["metrics"].as_array().map(|m| m.iter().map(number).collect()).unwrap_or_default();
                            (r["dimensions"][0].as_str().map(str::to_owned), values)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok(Report { view, from, to, kpis, series, tables })
}

/// Every day of `from..=to` (days without visits plot as zero), or the answer's own
/// buckets when the range is not whole days.
fn series(answer: &Value, from: &str, to: &str, compared: bool) -> Series {
    let rows = answer["results"].as_array().cloned().unwrap_or_default();
    let of = |label: &str, previous: bool| {
        rows.iter()
            .find(|r| r["dimensions"][0].as_str() == Some(label))
            .and_then(|r| if previous { r["comparison"]["metrics"][0].as_f64() } else { r["metrics"][0].as_f64() })
            .unwrap_or(0.0)
    };
    let labels: Vec<String> = match (NaiveDate::parse_from_str(from, "%Y-%m-%d"), NaiveDate::parse_from_str(to, "%Y-%m-%d")) {
        (Ok(first), Ok(last)) if rows.iter().all(|r| r["dimensions"][0].as_str().is_some_and(|d| d.len() == 10)) => {
            first.iter_days().take_while(|d| *d <= last).map(|d| d.format("%Y-%m-%d").to_string()).collect()
        }
        _ => rows.iter().filter_map(|r| r["dimensions"][0].as_str().map(str::to_owned)).collect(),
    };
    Series {
        current: labels.iter().map(|l| of(l, false)).collect(),
        previous: compared.then(|| labels.iter().map(|l| of(l, true)).collect()),
        labels,
    }
}
