//! `GET /healthz`: 200 when the gateway can reach Postgres, 503 otherwise, for load
//! balancers and the setup script's readiness wait.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(health))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Whether the gateway reaches Postgres",
    responses(
        (status = 200, description = "`{\"status\": \"ok\", \"extension_version\"}`; 503 otherwise", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let client = state.pool.get().await?;
    let row = client.query_one("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'tally'", &[]).await?;
    Ok(Json(json!({ "status": "ok", "extension_version": row.get::<_, String>(0) })))
}
