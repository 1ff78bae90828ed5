//! Users (administrators only; Postgres refuses everyone else with 403):
//! - `GET /api/v1/users`: every user with their memberships;
//! - `POST /api/v1/users` `{"email", "name", "password", "admin"}`: a new user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{audit, password, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/users", get(list_users).post(create_user))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_users, create_user))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    summary = "Every user with their memberships (administrators)",
    responses(
        (status = 200, description = "`{\"users\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let rows = tx.query("SELECT user_id, email, name, is_admin, memberships FROM tally.list_users()", &[]).await?;
    tx.commit().await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.get::<_, i32>(0), "email": r.get::<_, String>(1), "name": r.get::<_, String>(2),
                   "admin": r.get::<_, bool>(3), "sites": r.get::<_, Value>(4)})
        })
        .collect();
    Ok(Json(json!({ "users": users })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewUser {
    email: String,
    #[serde(default)]
    name: String,
    password: String,
    #[serde(default)]
    admin: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    summary = "Create a user (administrators)",
    request_body = NewUser,
    responses(
        (status = 201, description = "The user", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email = body.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return Err(ApiError::bad_request("email", "email must be an address such as ana@example.com"));
    }
    password::validate("password", &body.password)?;
    let hash = state.auth.hasher.hash(body.password).await?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let id: i32 = tx.query_one("SELECT tally.create_user($1, $2, $3, $4)", &[&email, &body.name, &hash, &body.admin]).await?.get(0);
    audit::record(&tx, "user.create", None, json!({ "user_id": id, "email": email, "admin": body.admin }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"user": {"id": id, "email": email, "name": body.name, "admin": body.admin}}))))
}
