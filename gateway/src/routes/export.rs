//! `POST /api/v1/export`: a stats query (the same JSON as `/api/v1/query`) answered as
//! a CSV file, one row per result: the dimensions, the metrics and, with a comparison,
//! each metric's previous value and change. The dashboard's CSV buttons call it; every
//! export passes here, so one place logs it (and will write the audit log).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::query::{answer, json_body};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/export", post(export))
}

async fn export(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<impl IntoResponse, ApiError> {
    let query = json_body(body)?;
    let answer = answer(&state, &query).await?;
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

/// The answer's results as CSV with a header row.
fn to_csv(answer: &Value) -> Result<String, ApiError> {
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
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).map_err(anyhow::Error::from)?;
    for row in answer["results"].as_array().into_iter().flatten() {
        let mut record: Vec<String> = Vec::with_capacity(header.len());
        let mut cells = |values: &Value| record.extend(values.as_array().into_iter().flatten().map(cell));
        cells(&row["dimensions"]);
        cells(&row["metrics"]);
        if compared {
            cells(&row["comparison"]["metrics"]);
            cells(&row["comparison"]["change"]);
        }
        out.write_record(&record).map_err(anyhow::Error::from)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.into()))
}

/// One CSV cell: strings as they are, numbers as JSON writes them, null as empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<site>_<dimensions or "totals">_<from>_<to>.csv`, only characters safe in any file
/// system and header, so the file says what it holds.
fn file_name(answer: &Value) -> String {
    let query = &answer["query"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let dimensions: Vec<String> = query["dimensions"].as_array().into_iter().flatten().map(text).collect();
    let range: Vec<String> = query["date_range"].as_array().into_iter().flatten().map(text).collect();
    let mut parts = vec![text(&query["site_id"]), if dimensions.is_empty() { "totals".into() } else { dimensions.join("+") }];
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
    fn file_names_of_totals_and_realtime_are_safe() {
        let answer = json!({"results": [], "query": {"site_id": 7, "date_range": ["2025-01-01T10:00:00", "2025-01-01T10:06:00"],
                            "metrics": ["visitors"], "dimensions": []}});
        assert_eq!(file_name(&answer), "7_totals_2025-01-01T10-00-00_2025-01-01T10-06-00.csv");
        assert_eq!(to_csv(&answer).unwrap(), "visitors\n");
    }
}
