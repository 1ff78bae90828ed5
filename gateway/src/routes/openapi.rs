//! `GET /api/openapi.json`: the OpenAPI 3.1 description of this API ([`crate::openapi`]),
//! public like the API's own documentation would be. Built once, on the first request.

use std::sync::LazyLock;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi))]
pub struct Api;

static DOCUMENT: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::to_value(crate::openapi::document()).expect("the OpenAPI document serializes"));

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    summary = "This description of the API (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value)),
    security(())
)]
async fn openapi() -> impl IntoResponse {
    Json(&*DOCUMENT)
}
