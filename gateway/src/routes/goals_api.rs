//! Plausible's Sites API for goals, so goals are made without SQL and scripts written
//! for Plausible keep working:
//! - `PUT /api/v1/sites/goals` `{"site_id": domain, "goal_type": "event", "event_name"}`
//!   or `{..., "goal_type": "page", "page_path"}` (`*` is any characters), with an
//!   optional `display_name`: the goal, found or created (analysts and admins);
//! - `GET /api/v1/sites/goals?site_id=<domain>`: `{"goals": [...], "meta": {...}}`;
//! - `DELETE /api/v1/sites/goals/{goal_id}` `{"site_id"}` (or `?site_id=`):
//!   `{"deleted": true}`.
//!
//! Tally's queries name goals (`["is", "event:goal", ["Signup"]]`), so a goal's `id` is
//! its display name. Statements run under the caller's role: row-level security lets
//! analysts and admins of the site write its goals (others get 403), and a site the
//! caller cannot see is "no such site" (404). Changes are audited.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, put};
use axum::{Json, Router};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};

use super::goal::{Goal, PLAUSIBLE};
use super::site_items;
use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sites/goals", put(create_goal).get(list_goals)).route("/api/v1/sites/goals/{goal_id}", delete(delete_goal))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_goal, list_goals, delete_goal))]
pub struct Api;

/// The site `domain` names, as the caller may see it.
async fn site_of(tx: &Transaction<'_>, domain: Option<&str>) -> Result<i32, ApiError> {
    let domain = domain
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::bad_request("site_id", "site_id is required: the site's domain"))?;
    let row = tx.query_opt("SELECT site_id FROM tally.sites WHERE domain = $1", &[&domain.to_ascii_lowercase()]).await?;
    row.map(|r| r.get(0)).ok_or_else(|| ApiError::NotFound("no such site".into()))
}

/// A goal as Plausible's API shows it (a Tally goal has no custom properties).
fn goal_json(name: &str, event_name: Option<&str>, page_path: Option<&str>) -> Value {
    json!({
        "id": name,
        "display_name": name,
        "goal_type": if event_name.is_some() { "event" } else { "page" },
        "event_name": event_name,
        "page_path": page_path,
        "custom_props": {},
    })
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/goals",
    tag = "goals",
    summary = "Find or create a goal (Plausible's Sites API)",
    request_body = crate::openapi::schemas::PlausibleGoal,
    responses(
        (status = 200, description = "The goal", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_goal(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody<Value>) -> Result<Json<Value>, ApiError> {
    let fields = site_items::object(&body)?;
    let required =
        |field: &str| site_items::optional_text(fields, field)?.ok_or_else(|| ApiError::bad_request(field, format!("{field} is required")));
    let (event_name, page_path) = match body.get("goal_type").and_then(Value::as_str) {
        Some("event") => (Some(required(PLAUSIBLE.event_name)?), None),
        Some("page") => (None, Some(required(PLAUSIBLE.page_pattern)?)),
        _ => return Err(ApiError::bad_request("goal_type", "goal_type is \"event\" or \"page\"")),
    };
    // A goal restricted to custom property values would count more than asked without them.
    match fields.get("custom_props") {
        None | Some(Value::Null) => {}
        Some(Value::Object(props)) if props.is_empty() => {}
        Some(_) => {
            return Err(ApiError::bad_request("custom_props", "goals with custom properties are not supported: leave custom_props out"))
        }
    }
    let name = match site_items::optional_text(fields, PLAUSIBLE.name)? {
        Some(name) => name,
        None => event_name.clone().unwrap_or_else(|| format!("Visit {}", page_path.as_deref().unwrap_or_default())),
    };
    let goal = Goal::checked(&PLAUSIBLE, name, event_name, page_path, None)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site_id = site_of(&tx, body.get("site_id").and_then(Value::as_str)).await?;
    // Found or created: the same definition again is the same goal; the name taken by
    // another definition is a conflict, never a silent redefinition.
    tx.execute(
        "INSERT INTO tally.goals (site_id, name, event_name, page_pattern) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&site_id, &goal.name, &goal.event_name, &goal.page_pattern],
    )
    .await?;
    let row =
        tx.query_one("SELECT event_name, page_pattern FROM tally.goals WHERE site_id = $1 AND name = $2", &[&site_id, &goal.name]).await?;
    let stored: (Option<String>, Option<String>) = (row.get(0), row.get(1));
    if (&stored.0, &stored.1) != (&goal.event_name, &goal.page_pattern) {
        return Err(ApiError::Conflict(format!("the goal {:?} exists with another definition: give another display_name", goal.name)));
    }
    audit::record(&tx, "goal.create", Some(site_id), json!({ "goal": goal.name }), caller.ip).await?;
    tx.commit().await?;
    let mut answer = goal_json(&goal.name, goal.event_name.as_deref(), goal.page_pattern.as_deref());
    answer["domain"] = body["site_id"].as_str().unwrap_or_default().trim().to_ascii_lowercase().into();
    Ok(Json(answer))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/goals",
    tag = "goals",
    summary = "The goals of a site (Plausible's Sites API)",
    params(("site_id" = String, Query, description = "The site's domain")),
    responses(
        (status = 200, description = "`{\"goals\", \"meta\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_goals(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site_id = site_of(&tx, params.get("site_id").map(String::as_str)).await?;
    let rows = tx.query("SELECT name, event_name, page_pattern FROM tally.goals WHERE site_id = $1 ORDER BY name", &[&site_id]).await?;
    tx.commit().await?;
    let goals: Vec<Value> = rows.iter().map(|r| goal_json(r.get(0), r.get(1), r.get(2))).collect();
    let count = goals.len();
    Ok(Json(json!({ "goals": goals, "meta": { "after": null, "before": null, "limit": count } })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/goals/{goal_id}",
    tag = "goals",
    summary = "Delete a goal (Plausible's Sites API)",
    params(("goal_id" = String, Path, description = "The goal's display name"), ("site_id" = Option<String>, Query, description = "The site's domain (or site_id in a JSON body)")),
    responses(
        (status = 200, description = "`{\"deleted\": true}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn delete_goal(
    State(state): State<AppState>,
    caller: Caller,
    Path(goal_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // Plausible's clients send the site in a JSON body; a query parameter does as well.
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("body", format!("body is not valid JSON: {e}")))?
    };
    let domain = params.get("site_id").map(String::as_str).or_else(|| body.get("site_id").and_then(Value::as_str));
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site_id = site_of(&tx, domain).await?;
    let deleted = tx.execute("DELETE FROM tally.goals WHERE site_id = $1 AND name = $2", &[&site_id, &goal_id]).await?;
    if deleted == 0 {
        return Err(ApiError::NotFound("no such goal".into()));
    }
    audit::record(&tx, "goal.delete", Some(site_id), json!({ "goal": goal_id }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(json!({ "deleted": true })))
}
