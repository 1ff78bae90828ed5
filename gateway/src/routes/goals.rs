//! Goals of a site, managed in the API (the dashboard's Goals page), under the caller's
//! role: every member lists them, analysts and admins of the site change them (others
//! get 403, a site they cannot see is 404).
//!
//! - `GET /api/v1/sites/{id}/goals`: `{"goals": [{"name", "event_name", "page_pattern", "currency"}]}`
//! - `POST /api/v1/sites/{id}/goals` `{"name", "event_name" | "page_pattern", "currency"?}`:
//!   a goal met by an event of that name, or by a pageview of a page matching the pattern
//!   (`*` any characters); with `currency` (ISO 4217) a revenue goal (201)
//! - `PUT /api/v1/sites/{id}/goals/{name}`: replace it; a new name carries over to the
//!   funnels that use it
//! - `DELETE /api/v1/sites/{id}/goals/{name}` (204): 409 while a funnel uses it
//!
//! A bad field is a 400 naming it, a name already taken a 400 at `name`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::goal::Goal;
use super::json_body::JsonBody;
use super::site_items::{require_site, Named};
use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

const GOALS: Named = Named { table: "tally.goals", what: "goal" };

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites/{id}/goals", get(list).post(create))
        .route("/api/v1/sites/{id}/goals/{name}", put(replace).delete(remove))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, replace, remove))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/goals",
    tag = "goals",
    summary = "The goals of a site",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"goals\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let rows =
        tx.query("SELECT name, event_name, page_pattern, currency FROM tally.goals WHERE site_id = $1 ORDER BY name", &[&site_id]).await?;
    tx.commit().await?;
    let goals: Vec<Value> =
        rows.iter().map(|r| Goal { name: r.get(0), event_name: r.get(1), page_pattern: r.get(2), currency: r.get(3) }.json()).collect();
    Ok(Json(json!({ "goals": goals })))
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{id}/goals",
    tag = "goals",
    summary = "Create a goal",
    request_body = crate::openapi::schemas::Goal,
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 201, description = "The goal", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<i32>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let goal = Goal::parse(&body)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    tx.execute(
        "INSERT INTO tally.goals (site_id, name, event_name, page_pattern, currency) VALUES ($1, $2, $3, $4, $5)",
        &[&site_id, &goal.name, &goal.event_name, &goal.page_pattern, &goal.currency],
    )
    .await
    .map_err(GOALS.taken(&goal.name))?;
    audit::record(&tx, "goal.create", Some(site_id), goal.json(), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(goal.json())))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/goals/{name}",
    tag = "goals",
    summary = "Replace (or rename) a goal",
    request_body = crate::openapi::schemas::Goal,
    params(("id" = i32, Path, description = "The site id"), ("name" = String, Path, description = "The goal name")),
    responses(
        (status = 200, description = "The goal", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, old)): Path<(i32, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let goal = Goal::parse(&body)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let changed = tx
        .execute(
            "UPDATE tally.goals SET name = $3, event_name = $4, page_pattern = $5, currency = $6 WHERE site_id = $1 AND name = $2",
            &[&site_id, &old, &goal.name, &goal.event_name, &goal.page_pattern, &goal.currency],
        )
        .await
        .map_err(GOALS.taken(&goal.name))?;
    if changed == 0 {
        return Err(GOALS.unchangeable(&tx, site_id, &old).await);
    }
    if goal.name != old {
        tx.execute(
            "UPDATE tally.funnels SET steps = array_replace(steps, $2, $3) WHERE site_id = $1 AND $2 = ANY (steps)",
            &[&site_id, &old, &goal.name],
        )
        .await?;
    }
    audit::record(&tx, "goal.update", Some(site_id), json!({ "name": old, "goal": goal.json() }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(goal.json()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/goals/{name}",
    tag = "goals",
    summary = "Delete a goal (409 while a funnel uses it)",
    params(("id" = i32, Path, description = "The site id"), ("name" = String, Path, description = "The goal name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn remove(State(state): State<AppState>, caller: Caller, Path((site_id, name)): Path<(i32, String)>) -> Result<StatusCode, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let funnels: Vec<String> = tx
        .query("SELECT name FROM tally.funnels WHERE site_id = $1 AND $2 = ANY (steps) ORDER BY name", &[&site_id, &name])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !funnels.is_empty() {
        return Err(ApiError::Conflict(format!("the goal is a step of the funnels {funnels:?}: take it out of them first")));
    }
    GOALS.delete(&tx, site_id, &name).await?;
    audit::record(&tx, "goal.delete", Some(site_id), json!({ "name": name }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
