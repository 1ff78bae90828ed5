//! The caller's own API keys (`Authorization: Bearer ta_...` for programs):
//! - `GET /api/v1/keys`: active keys (never the keys themselves);
//! - `POST /api/v1/keys` `{"name", "site_id"?}`: a new key, shown once in the answer; with
//!   `site_id` it sees only that site;
//! - `DELETE /api/v1/keys/{id}`: revokes one.
//!
//! Only from a signed-in session: an API key cannot mint or list keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/keys", get(list_keys).post(create_key)).route("/api/v1/keys/{id}", delete(revoke_key))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_keys, create_key, revoke_key))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    summary = "The caller's API keys (never their secrets)",
    responses(
        (status = 200, description = "`{\"keys\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_session()?;
    Ok(Json(json!({ "keys": state.auth.api_keys.list(caller.user.id).await? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewKey {
    #[serde(default)]
    name: String,
    site_id: Option<i32>,
}

#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "keys",
    summary = "Create an API key (signed-in sessions only)",
    request_body = NewKey,
    responses(
        (status = 201, description = "The key, its secret shown only now", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_session()?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    // A key limited to a site the caller cannot see would be useless; say so as for any
    // missing site.
    if let Some(site) = body.site_id {
        if tx.query_opt("SELECT 1 FROM tally.sites WHERE site_id = $1", &[&site]).await?.is_none() {
            return Err(ApiError::NotFound("no such site".into()));
        }
    }
    let (id, key) = state.auth.api_keys.create(caller.user.id, &body.name, body.site_id).await?;
    audit::record(&tx, "api_key.create", body.site_id, json!({ "key_id": id, "name": body.name }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "name": body.name, "site_id": body.site_id, "key": key}))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "keys",
    summary = "Revoke an API key",
    params(("id" = i64, Path, description = "The key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn revoke_key(State(state): State<AppState>, caller: Caller, Path(id): Path<i32>) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    if !state.auth.api_keys.revoke(caller.user.id, id).await? {
        return Err(ApiError::NotFound("no such key".into()));
    }
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    audit::record(&tx, "api_key.revoke", None, json!({ "key_id": id }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
