//! `GET /metrics`: Prometheus text exposition of the gateway's metrics, for a scraper
//! holding `--metrics-token` (`Authorization: Bearer <token>`). Without the setting it
//! does not exist (404): queue depths, error counts and spool sizes tell an outsider
//! when the gateway is struggling.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(metrics))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics, for the holder of the metrics token",
    responses(
        (status = 200, description = "The text exposition format", body = String, content_type = "text/plain"),
        (status = "4XX", description = "No token or a wrong one (401); not served without one set (404)", body = crate::openapi::schemas::ErrorBody)
    ),
    security(("bearer" = []))
)]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return Err(ApiError::NotFound("metrics are not served: set TALLY_METRICS_TOKEN".into()));
    };
    // Digests compared, not the strings: equal-length values, no early exit on the secret.
    let given = crate::auth::caller::bearer(&headers).unwrap_or_default();
    if Sha256::digest(given.as_bytes()) != Sha256::digest(token.as_bytes()) {
        return Err(ApiError::Unauthorized("send the metrics token as `Authorization: Bearer <token>`".into()));
    }
    crate::database_metrics::collect(&state).await;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render()).into_response())
}
