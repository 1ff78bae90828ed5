//! `POST /api/v1/query`: a stats query (Plausible Stats API v2 shape) passed through to
//! `tally.query(jsonb)`. The extension validates it; a bad field comes back as SQLSTATE
//! 22023 with `field: <path>` in DETAIL and becomes a 400 naming that field.
//!
//! [`answer`] is the one way the gateway runs a stats query: the CSV export and the
//! realtime stream use it too, so they answer exactly what the dashboard shows.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio_postgres::error::SqlState;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/query", post(run_query))
}

async fn run_query(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    Ok(Json(answer(&state, &json_body(body)?).await?))
}

/// A request body that must be JSON: 413 when too large, 400 naming `body` otherwise.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("body", rejection.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("body", format!("not JSON: {e}")))
}

/// Runs one stats query through `tally.query` and returns its JSON answer.
pub async fn answer(state: &AppState, query: &Value) -> Result<Value, ApiError> {
    let mut client = state.pool.get().await?;
    // One transaction per query: the place where the caller's role will be set
    // (`SET LOCAL ROLE`) once requests are authenticated, so RLS applies to it.
    let tx = client.transaction().await?;
    let row = tx.query_one("SELECT tally.query($1)", &[query]).await.map_err(bad_query)?;
    tx.commit().await?;
    Ok(row.get(0))
}

/// A query the extension rejected becomes a 400 naming the field; anything else stays
/// a database error.
fn bad_query(error: tokio_postgres::Error) -> ApiError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::INVALID_PARAMETER_VALUE {
            if let Some(field) = db.detail().and_then(|d| d.strip_prefix("field: ")) {
                return ApiError::bad_request(field, db.message());
            }
        }
    }
    error.into()
}
