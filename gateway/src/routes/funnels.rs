//! Funnels of a site: ordered goals a visit goes through, managed in the API (the
//! dashboard's Goals page; its funnel panel picks one). Same rules as goals: every
//! member lists them, analysts and admins of the site change them.
//!
//! - `GET /api/v1/sites/{id}/funnels`: `{"funnels": [{"name", "steps": [goal names]}]}`
//! - `POST /api/v1/sites/{id}/funnels` `{"name", "steps"}`: 2 to 8 distinct goals of
//!   the site, in order (201)
//! - `PUT|DELETE /api/v1/sites/{id}/funnels/{name}`: replace (a rename too), delete (204)
//!
//! A bad field is a 400 naming it (`steps[1]` for a step that is not a goal).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};

use super::json_body::JsonBody;
use super::site_items::{self, require_site, Named};
use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// Fewest and most steps of a funnel: what tally.funnels allows (and the query engine
/// follows, `MAX_FUNNEL_STEPS`).
const STEPS: std::ops::RangeInclusive<usize> = 2..=8;

const FUNNELS: Named = Named { table: "tally.funnels", what: "funnel" };

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites/{id}/funnels", get(list).post(create))
        .route("/api/v1/sites/{id}/funnels/{name}", put(replace).delete(remove))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, replace, remove))]
pub struct Api;

struct Funnel {
    name: String,
    steps: Vec<String>,
}

impl Funnel {
    /// The funnel in `body`, its steps checked against the site's goals.
    async fn parse(tx: &Transaction<'_>, site_id: i32, body: &Value) -> Result<Funnel, ApiError> {
        let body = site_items::object(body)?;
        let name = site_items::name(body, "name")?;
        let shape = || ApiError::bad_request("steps", format!("steps are {} to {} goals in order", STEPS.start(), STEPS.end()));
        let list = body.get("steps").and_then(Value::as_array).filter(|l| STEPS.contains(&l.len())).ok_or_else(shape)?;
        let goals: Vec<String> =
            tx.query("SELECT name FROM tally.goals WHERE site_id = $1", &[&site_id]).await?.iter().map(|r| r.get(0)).collect();
        let mut steps: Vec<String> = Vec::with_capacity(list.len());
        for (i, step) in list.iter().enumerate() {
            let field = format!("steps[{i}]");
            let step = step
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::bad_request(&field, "a step is a goal's name"))?;
            if !goals.iter().any(|g| g == step) {
                return Err(ApiError::bad_request(&field, format!("no goal named {step:?} on this site: create it first")));
            }
            if steps.iter().any(|s| s == step) {
                return Err(ApiError::bad_request(&field, format!("the goal {step:?} is already a step of this funnel")));
            }
            steps.push(step.to_owned());
        }
        Ok(Funnel { name, steps })
    }

    fn json(&self) -> Value {
        json!({"name": self.name, "steps": self.steps})
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/funnels",
    tag = "funnels",
    summary = "The funnels of a site",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"funnels\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let rows = tx.query("SELECT name, steps FROM tally.funnels WHERE site_id = $1 ORDER BY name", &[&site_id]).await?;
    tx.commit().await?;
    let funnels: Vec<Value> = rows.iter().map(|r| Funnel { name: r.get(0), steps: r.get(1) }.json()).collect();
    Ok(Json(json!({ "funnels": funnels })))
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{id}/funnels",
    tag = "funnels",
    summary = "Create a funnel",
    request_body = crate::openapi::schemas::Funnel,
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 201, description = "The funnel", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<i32>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let funnel = Funnel::parse(&tx, site_id, &body).await?;
    tx.execute("INSERT INTO tally.funnels (site_id, name, steps) VALUES ($1, $2, $3)", &[&site_id, &funnel.name, &funnel.steps])
        .await
        .map_err(FUNNELS.taken(&funnel.name))?;
    audit::record(&tx, "funnel.create", Some(site_id), funnel.json(), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(funnel.json())))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/funnels/{name}",
    tag = "funnels",
    summary = "Replace (or rename) a funnel",
    request_body = crate::openapi::schemas::Funnel,
    params(("id" = i32, Path, description = "The site id"), ("name" = String, Path, description = "The funnel name")),
    responses(
        (status = 200, description = "The funnel", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, old)): Path<(i32, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let funnel = Funnel::parse(&tx, site_id, &body).await?;
    let changed = tx
        .execute(
            "UPDATE tally.funnels SET name = $3, steps = $4 WHERE site_id = $1 AND name = $2",
            &[&site_id, &old, &funnel.name, &funnel.steps],
        )
        .await
        .map_err(FUNNELS.taken(&funnel.name))?;
    if changed == 0 {
        return Err(FUNNELS.unchangeable(&tx, site_id, &old).await);
    }
    audit::record(&tx, "funnel.update", Some(site_id), json!({ "name": old, "funnel": funnel.json() }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(funnel.json()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/funnels/{name}",
    tag = "funnels",
    summary = "Delete a funnel",
    params(("id" = i32, Path, description = "The site id"), ("name" = String, Path, description = "The funnel name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn remove(State(state): State<AppState>, caller: Caller, Path((site_id, name)): Path<(i32, String)>) -> Result<StatusCode, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    FUNNELS.delete(&tx, site_id, &name).await?;
    audit::record(&tx, "funnel.delete", Some(site_id), json!({ "name": name }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
