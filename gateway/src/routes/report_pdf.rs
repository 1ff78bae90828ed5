//! `POST /api/v1/reports/pdf` `{"site_id", "date_range", "filters", "comparison"}` (a
//! dashboard view, `reports::view::ReportView`): the view's KPI cards, visitors chart
//! and top tables as a PDF file, printed by headless Chromium. The queries run as the
//! caller, so the PDF shows what their dashboard does; each is in the audit log
//! (`report.pdf`).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::json;

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::reports::html::{self, Medium};
use crate::reports::view::{self, ReportView};
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/pdf", post(pdf))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(pdf))]
pub struct Api;

#[utoipa::path(
    post,
    path = "/api/v1/reports/pdf",
    tag = "reports",
    summary = "A PDF report of a dashboard view",
    request_body = ReportView,
    responses(
        (status = 200, description = "The PDF", body = Vec<u8>, content_type = "application/pdf"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn pdf(State(state): State<AppState>, caller: Caller, JsonBody(view): JsonBody<ReportView>) -> Result<impl IntoResponse, ApiError> {
    let report = view::collect(&state, &caller, view).await?;
    let pdf = state.printer.pdf(&html::document(&report, &Medium::Print)).await?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    audit::record(&tx, "report.pdf", None, json!({ "site": report.view.site_id, "view": report.view }), caller.ip).await?;
    tx.commit().await?;
    let name = format!("tally-{}-{}-{}.pdf", report.view.site_id, report.from, report.to)
        .replace(|c: char| !c.is_ascii_alphanumeric() && !matches!(c, '.' | '-'), "_");
    Ok((
        [(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))],
        pdf,
    ))
}
