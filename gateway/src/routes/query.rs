//! `POST /api/v1/query`: a stats query (Plausible Stats API v2 shape) passed through to
//! `tally.query(jsonb)`. The extension validates it; a bad field comes back as SQLSTATE
//! 22023 with `field: <path>` in DETAIL and becomes a 400 naming that field.
//!
//! The query runs under the caller's role, so row-level security decides which sites it
//! reads: a site the caller may not see answers exactly like one that does not exist
//! (400, `site_id`, "no such site"). Each query is written to the audit log.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/query", post(run_query))
}

async fn run_query(State(state): State<AppState>, caller: Caller, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("body", rejection.body_text()),
    })?;
    let query: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("body", format!("not JSON: {e}")))?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx.query_one("SELECT tally.query($1)", &[&query]).await.map_err(bad_query)?;
    audit::record(&tx, "query", None, json!({ "site": query.get("site_id") }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(row.get(0)))
}

/// A query the extension rejected becomes a 400 naming the field; anything else stays
/// a database error.
pub(crate) fn bad_query(error: tokio_postgres::Error) -> ApiError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::INVALID_PARAMETER_VALUE {
            if let Some(field) = db.detail().and_then(|d| d.strip_prefix("field: ")) {
                return ApiError::bad_request(field, db.message());
            }
        }
    }
    error.into()
}
