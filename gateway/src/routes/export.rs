//! `POST /api/v1/export`: a stats query (the same JSON as `/api/v1/query`) answered as
//! a CSV file, one row per result: the dimensions, the metrics and, with a comparison,
//! each metric's previous value and change. A funnel query gives one row per step
//! instead. The dashboard's CSV buttons call it; every export passes here and is written
//! to the audit log with its whole query (action `export`).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::routes::query::answer_with_imports;
use crate::state::AppState;
use crate::statement::Work;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/export", post(export))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(export))]
pub struct Api;

#[utoipa::path(
    post,
    path = "/api/v1/export",
    tag = "export",
    summary = "A stats query answered as a CSV file",
    request_body = crate::openapi::schemas::StatsQuery,
    responses(
        (status = 200, description = "One row per result", body = String, content_type = "text/csv"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn export(State(state): State<AppState>, caller: Caller, JsonBody(query): JsonBody<Value>) -> Result<impl IntoResponse, ApiError> {
    let answer = answer_with_imports(&state, &caller, &query, Some("export"), Work::Export).await?;
    let csv = to_csv(&answer)?;
    let name = file_name(&answer);
    tracing::info!(file = %name, rows = answer["results"].as_array().map_or(0, Vec::len), query = %query, "export");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        csv,
    ))
}

/// The answer as CSV with a header row: its funnel's steps if it has one, else its results.
fn to_csv(answer: &Value) -> Result<String, ApiError> {
    let table = match answer.get("funnel") {
        Some(funnel) => funnel_table(funnel),
        None => results_table(answer),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    for record in table {
        out.write_record(&record).map_err(anyhow::Error::from)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.into()))
}

/// Header and rows of a funnel: step 0 is the visitors entering it, then one row per
/// goal; with a comparison, the previous period's visitors and conversion rate.
fn funnel_table(funnel: &Value) -> Vec<Vec<String>> {
    let previous = funnel.get("comparison");
    let mut header: Vec<String> =
        ["step", "goal", "visitors", "conversion_rate", "step_conversion_rate", "dropoff"].map(String::from).to_vec();
    if previous.is_some() {
        header.extend(["visitors_previous", "conversion_rate_previous"].map(String::from));
    }
    let mut entered = vec!["0".to_string(), String::new(), cell(&funnel["visitors"]), String::new(), String::new(), String::new()];
    if let Some(previous) = previous {
        entered.extend([cell(&previous["visitors"]), String::new()]);
    }
    let mut table = vec![header, entered];
    for (i, step) in funnel["steps"].as_array().into_iter().flatten().enumerate() {
        let mut record = vec![(i + 1).to_string()];
        record.extend(["goal", "visitors", "conversion_rate", "step_conversion_rate", "dropoff"].map(|k| cell(&step[k])));
        if let Some(previous) = previous {
            let before = &previous["steps"][i];
            record.extend([cell(&before["visitors"]), cell(&before["conversion_rate"])]);
        }
        table.push(record);
    }
    table
}

/// Header and rows of a breakdown: dimensions, metrics, then with a comparison each
/// metric's previous value and change.
fn results_table(answer: &Value) -> Vec<Vec<String>> {
    let names = |key: &str| -> Vec<String> {
        answer["query"][key].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    let (dimensions, metrics) = (names("dimensions"), names("metrics"));
    let compared = answer["query"].get("comparison").is_some();
    let mut header = dimensions.clone();
    header.extend(metrics.iter().cloned());
    if compared {
        header.extend(metrics.iter().map(|m| format!("{m}_previous")));
        header.extend(metrics.iter().map(|m| format!("{m}_change")));
    }
    let mut table = vec![header];
    for row in answer["results"].as_array().into_iter().flatten() {
        let mut record: Vec<String> = Vec::with_capacity(table[0].len());
        let mut cells = |values: &Value| record.extend(values.as_array().into_iter().flatten().map(cell));
        cells(&row["dimensions"]);
        cells(&row["metrics"]);
        if compared {
            cells(&row["comparison"]["metrics"]);
            cells(&row["comparison"]["change"]);
        }
        table.push(record);
    }
    table
}

/// One CSV cell: strings as they are, numbers as JSON writes them, null as empty. A
/// string a spreadsheet would read as a formula (=, +, -, @, tab or carriage return
/// first: OWASP's list) gets a leading `'`, so a page path or UTM value a visitor
/// chose, say `=HYPERLINK(...)`, stays text in whoever opens the export.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<site>_<dimensions, "funnel" or "totals">_<from>_<to>.csv`, only characters safe in any file
/// system and header, so the file says what it holds.
fn file_name(answer: &Value) -> String {
    let query = &answer["query"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let dimensions: Vec<String> = query["dimensions"].as_array().into_iter().flatten().map(text).collect();
    let range: Vec<String> = query["date_range"].as_array().into_iter().flatten().map(text).collect();
    let what = match (answer.get("funnel"), dimensions.is_empty()) {
        (Some(_), _) => "funnel".to_string(),
        (None, true) => "totals".to_string(),
        (None, false) => dimensions.join("+"),
    };
    let mut parts = vec![text(&query["site_id"]), what];
    parts.extend(range);
    let name: String =
        parts.join("_").chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') { c } else { '-' }).collect();
    format!("{name}.csv")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_has_dimensions_metrics_and_comparison_columns() {
        let answer = json!({
            "results": [
                {"dimensions": ["/a, b"], "metrics": [3, 40.5], "comparison": {"metrics": [1, 38], "change": [200, 2.5]}},
                {"dimensions": [null], "metrics": [1, 0], "comparison": {"metrics": [0, 0], "change": [null, 0]}}
            ],
            "query": {"site_id": "a.com", "date_range": ["2025-01-01", "2025-01-31"], "metrics": ["visitors", "bounce_rate"],
                      "dimensions": ["event:page"], "comparison": {"mode": "previous_period"}}
        });
        assert_eq!(
            to_csv(&answer).unwrap(),
            "event:page,visitors,bounce_rate,visitors_previous,bounce_rate_previous,visitors_change,bounce_rate_change\n\
             \"/a, b\",3,40.5,1,38,200,2.5\n\
             ,1,0,0,0,,0\n"
        );
        assert_eq!(file_name(&answer), "a.com_event-page_2025-01-01_2025-01-31.csv");
    }

    #[test]
    fn formulas_stay_text_and_numbers_stay_numbers() {
        let answer = json!({
            "results": [{"dimensions": ["=1+1"], "metrics": [-3]}, {"dimensions": ["@SUM(A1)"], "metrics": [1]},
                        {"dimensions": ["\tx"], "metrics": [1]}, {"dimensions": ["a=b"], "metrics": [1]}],
            "query": {"site_id": "a.com", "date_range": ["2025-01-01", "2025-01-31"], "metrics": ["visitors"], "dimensions": ["event:page"]}
        });
        assert_eq!(to_csv(&answer).unwrap(), "event:page,visitors\n'=1+1,-3\n'@SUM(A1),1\n'\tx,1\na=b,1\n");
    }

    #[test]
    fn a_funnel_exports_its_steps() {
        let answer = json!({
            "results": [{"dimensions": [], "metrics": [10]}],
            "funnel": {"visitors": 10, "steps": [
                {"goal": "Pricing", "visitors": 6, "conversion_rate": 60, "step_conversion_rate": 60, "dropoff": 4},
                {"goal": "Signup", "visitors": 3, "conversion_rate": 30, "step_conversion_rate": 50, "dropoff": 3}
            ], "comparison": {"visitors": 8, "steps": [
                {"goal": "Pricing", "visitors": 4, "conversion_rate": 50, "step_conversion_rate": 50, "dropoff": 4},
                {"goal": "Signup", "visitors": 1, "conversion_rate": 12.5, "step_conversion_rate": 25, "dropoff": 3}
            ]}},
            "query": {"site_id": "a.com", "date_range": ["2025-01-01", "2025-01-07"], "metrics": ["visitors"], "dimensions": []}
        });
        assert_eq!(
            to_csv(&answer).unwrap(),
            "step,goal,visitors,conversion_rate,step_conversion_rate,dropoff,visitors_previous,conversion_rate_previous\n\
             0,,10,,,,8,\n\
             1,Pricing,6,60,60,4,4,50\n\
             2,Signup,3,30,50,3,1,12.5\n"
        );
        assert_eq!(file_name(&answer), "a.com_funnel_2025-01-01_2025-01-07.csv");
    }

    #[test]
    fn file_names_of_totals_and_realtime_are_safe() {
        let answer = json!({"results": [], "query": {"site_id": 7, "date_range": ["2025-01-01T10:00:00", "2025-01-01T10:06:00"],
                            "metrics": ["visitors"], "dimensions": []}});
        assert_eq!(file_name(&answer), "7_totals_2025-01-01T10-00-00_2025-01-01T10-06-00.csv");
        assert_eq!(to_csv(&answer).unwrap(), "visitors\n");
    }
}
