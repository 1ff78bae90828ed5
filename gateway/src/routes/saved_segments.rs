//! Saved segments of a site: named filter sets, personal (the owner's alone) or shared
//! with every member of the site, used in a query as `["is", "segment", [id]]`.
//!
//! - `GET /api/v1/sites/{id}/segments`: `{"segments": [{"id", "name", "filters",
//!   "shared", "mine", "created_at", "updated_at"}]}`, the caller's own and the shared ones
//! - `POST /api/v1/sites/{id}/segments` `{"name", "filters", "shared"?}` (201)
//! - `GET|PUT|DELETE /api/v1/sites/{id}/segments/{segment_id}`
//!
//! Postgres decides (sql/saved_segments.sql): any member saves personal segments,
//! analysts and admins of the site share them and change shared ones; another user's
//! personal segment does not exist for the caller (404). The filters are checked as a
//! query's are: an unknown dimension is a 400 at its field (`filters[0][1]`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;

use super::json_body::JsonBody;
use super::query::bad_query;
use super::site_items::{self, require_site};
use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// A segment as the API shows it; `$1` is the caller's user id.
const SEGMENT: &str = "\
SELECT jsonb_build_object('id', g.segment_id, 'name', g.name, 'filters', g.filters, 'shared', g.shared,
    'mine', g.owner_id IS NOT DISTINCT FROM $1::int,
    'created_at', g.created_at, 'updated_at', g.updated_at)
FROM tally.saved_segments g";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites/{id}/segments", get(list).post(create))
        .route("/api/v1/sites/{id}/segments/{segment_id}", get(read).put(replace).delete(remove))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, read, create, replace, remove))]
pub struct Api;

struct Segment {
    name: String,
    filters: Value,
    shared: bool,
}

impl Segment {
    fn parse(body: &Value) -> Result<Segment, ApiError> {
        let body = site_items::object(body)?;
        let name = site_items::name(body, "name")?;
        let filters = body.get("filters").cloned().ok_or_else(|| ApiError::bad_request("filters", "filters are required"))?;
        let shared = match body.get("shared") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::bad_request("shared", "shared is true or false")),
        };
        Ok(Segment { name, filters, shared })
    }
}

/// What Postgres refused in a segment's write: filters it judged (22023, naming the
/// field), or sharing by a member who may not share (row-level security, 42501).
fn refused(shared: bool) -> impl Fn(tokio_postgres::Error) -> ApiError {
    move |e| match e.code() {
        Some(code) if *code == SqlState::INSUFFICIENT_PRIVILEGE && shared => {
            ApiError::bad_request("shared", "only analysts and admins of the site share segments with its members")
        }
        _ => bad_query(e),
    }
}

fn segment_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::bad_request("segment_id", "a segment id is an integer"))
}

async fn one(tx: &Transaction<'_>, caller: &Caller, site_id: i32, id: i64) -> Result<Option<Value>, ApiError> {
    let row = tx.query_opt(&format!("{SEGMENT} WHERE g.site_id = $2 AND g.segment_id = $3"), &[&caller.user.id, &site_id, &id]).await?;
    Ok(row.map(|r| r.get(0)))
}

fn no_segment() -> ApiError {
    ApiError::NotFound("no such segment".into())
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/segments",
    tag = "segments",
    summary = "The caller's and the shared segments of a site",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"segments\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let rows =
        tx.query(&format!("{SEGMENT} WHERE g.site_id = $2 ORDER BY lower(g.name), g.segment_id"), &[&caller.user.id, &site_id]).await?;
    tx.commit().await?;
    Ok(Json(json!({ "segments": rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>() })))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/segments/{segment_id}",
    tag = "segments",
    summary = "One segment",
    params(("id" = i32, Path, description = "The site id"), ("segment_id" = i64, Path, description = "The segment id")),
    responses(
        (status = 200, description = "The segment", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn read(State(state): State<AppState>, caller: Caller, Path((site_id, id)): Path<(i32, String)>) -> Result<Json<Value>, ApiError> {
    let id = segment_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let found = one(&tx, &caller, site_id, id).await?;
    tx.commit().await?;
    found.map(Json).ok_or_else(no_segment)
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{id}/segments",
    tag = "segments",
    summary = "Save a segment",
    request_body = crate::openapi::schemas::Segment,
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 201, description = "The segment", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<i32>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let segment = Segment::parse(&body)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site(&tx, site_id).await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO tally.saved_segments (site_id, name, filters, shared) VALUES ($1, $2, $3, $4) RETURNING segment_id",
            &[&site_id, &segment.name, &segment.filters, &segment.shared],
        )
        .await
        .map_err(refused(segment.shared))?
        .get(0);
    let created = one(&tx, &caller, site_id, id).await?.ok_or_else(no_segment)?;
    audit::record(&tx, "segment.create", Some(site_id), json!({ "segment_id": id, "shared": segment.shared }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/segments/{segment_id}",
    tag = "segments",
    summary = "Replace a segment",
    request_body = crate::openapi::schemas::Segment,
    params(("id" = i32, Path, description = "The site id"), ("segment_id" = i64, Path, description = "The segment id")),
    responses(
        (status = 200, description = "The segment", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, id)): Path<(i32, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = segment_id(&id)?;
    let segment = Segment::parse(&body)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let changed = tx
        .execute(
            "UPDATE tally.saved_segments SET name = $3, filters = $4, shared = $5 WHERE site_id = $1 AND segment_id = $2",
            &[&site_id, &id, &segment.name, &segment.filters, &segment.shared],
        )
        .await
        .map_err(refused(segment.shared))?;
    if changed == 0 {
        return Err(unchangeable(&tx, &caller, site_id, id).await);
    }
    let updated = one(&tx, &caller, site_id, id).await?.ok_or_else(no_segment)?;
    audit::record(&tx, "segment.update", Some(site_id), json!({ "segment_id": id, "shared": segment.shared }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/segments/{segment_id}",
    tag = "segments",
    summary = "Delete a segment",
    params(("id" = i32, Path, description = "The site id"), ("segment_id" = i64, Path, description = "The segment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn remove(State(state): State<AppState>, caller: Caller, Path((site_id, id)): Path<(i32, String)>) -> Result<StatusCode, ApiError> {
    let id = segment_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    if tx.execute("DELETE FROM tally.saved_segments WHERE site_id = $1 AND segment_id = $2", &[&site_id, &id]).await? == 0 {
        return Err(unchangeable(&tx, &caller, site_id, id).await);
    }
    audit::record(&tx, "segment.delete", Some(site_id), json!({ "segment_id": id }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unchangeable(tx: &Transaction<'_>, caller: &Caller, site_id: i32, id: i64) -> ApiError {
    match one(tx, caller, site_id, id).await {
        Ok(found) => site_items::unchangeable(found.is_some(), "segment"),
        Err(e) => e,
    }
}
