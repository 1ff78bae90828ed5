//! Sites and who may see them:
//! - `GET /api/v1/sites`: the sites the caller may see, with their role on each;
//! - `POST /api/v1/sites` `{"domain", "timezone"}`: a new site (administrators);
//! - `GET /api/v1/sites/{id}/members`, `PUT|DELETE /api/v1/sites/{id}/members/{user_id}`
//!   `{"role"}`: memberships (administrators);
//! - `GET|POST /api/v1/sites/{id}/ingest-keys`, `DELETE .../{key_id}`: ingest keys
//!   (admins of the site).
//!
//! Every statement runs under the caller's role: Postgres refuses what the caller may not
//! do (403), and a site they cannot see is a site that does not exist (404).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use deadpool_postgres::Transaction;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites", get(list_sites).post(create_site))
        .route("/api/v1/sites/{id}/members", get(list_members))
        .route("/api/v1/sites/{id}/members/{user_id}", put(set_member).delete(remove_member))
        .route("/api/v1/sites/{id}/ingest-keys", get(list_ingest_keys).post(create_ingest_key))
        .route("/api/v1/sites/{id}/ingest-keys/{key_id}", delete(revoke_ingest_key))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_sites, create_site, list_members, set_member, remove_member, list_ingest_keys, create_ingest_key, revoke_ingest_key))]
pub struct Api;

fn no_site() -> ApiError {
    ApiError::NotFound("no such site".into())
}

#[utoipa::path(
    get,
    path = "/api/v1/sites",
    tag = "sites",
    summary = "The sites the caller may see, with their role",
    responses(
        (status = 200, description = "`{\"sites\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_sites(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let sites = visible(&tx).await?;
    tx.commit().await?;
    Ok(Json(json!({ "sites": sites })))
}

/// The sites `tx`'s role may see, with its role on each and whether it has imported
/// data (`[{"id", "domain", "timezone", "role", "has_imports"}]`, by domain): exactly what
/// row-level security lets it query. The dashboard offers its imports toggle by
/// `has_imports`.
pub async fn visible(tx: &Transaction<'_>) -> Result<Vec<Value>, ApiError> {
    let rows = tx
        .query(
            "SELECT s.site_id, s.domain, s.timezone, m.role, EXISTS (SELECT FROM tally.site_imports i WHERE i.site_id = s.site_id)
             FROM tally.sites s JOIN tally.my_sites m USING (site_id) ORDER BY s.domain",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({"id": r.get::<_, i32>(0), "domain": r.get::<_, String>(1), "timezone": r.get::<_, String>(2), "role": r.get::<_, String>(3),
                   "has_imports": r.get::<_, bool>(4)})
        })
        .collect())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewSite {
    domain: String,
    #[serde(default = "utc")]
    timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

#[utoipa::path(
    post,
    path = "/api/v1/sites",
    tag = "sites",
    summary = "Create a site (administrators)",
    request_body = NewSite,
    responses(
        (status = 201, description = "The site", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_site(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewSite>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let domain = body.domain.trim().to_lowercase();
    if domain.is_empty() || domain.len() > 253 || domain.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(ApiError::bad_request("domain", "domain must be a host name such as example.com"));
    }
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx.query_one("SELECT tally.create_site($1, $2)", &[&domain, &body.timezone]).await.map_err(|e| {
        if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE) {
            ApiError::bad_request("timezone", "unknown time zone; use an IANA name such as Europe/Berlin")
        } else {
            e.into()
        }
    })?;
    let id: i32 = row.get(0);
    audit::record(&tx, "site.create", Some(id), json!({ "domain": domain }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "domain": domain, "timezone": body.timezone}))))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/members",
    tag = "sites",
    summary = "The members of a site",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"members\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_members(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let rows = tx.query("SELECT user_id, email, name, role FROM tally.site_members($1)", &[&site_id]).await?;
    tx.commit().await?;
    let members: Vec<Value> = rows
        .iter()
        .map(|r| json!({"user_id": r.get::<_, i32>(0), "email": r.get::<_, String>(1), "name": r.get::<_, String>(2), "role": r.get::<_, String>(3)}))
        .collect();
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Membership {
    role: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/members/{user_id}",
    tag = "sites",
    summary = "Set a user's role on a site",
    request_body = Membership,
    params(("id" = i32, Path, description = "The site id"), ("user_id" = i32, Path, description = "The user id")),
    responses(
        (status = 204, description = "Set"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, user_id)): Path<(i32, i32)>,
    JsonBody(body): JsonBody<Membership>,
) -> Result<StatusCode, ApiError> {
    if !["admin", "analyst", "viewer"].contains(&body.role.as_str()) {
        return Err(ApiError::bad_request("role", "role must be admin, analyst or viewer"));
    }
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    tx.execute("SELECT tally.set_membership($1, $2, $3)", &[&user_id, &site_id, &body.role]).await?;
    audit::record(&tx, "member.set", Some(site_id), json!({ "user_id": user_id, "role": body.role }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/members/{user_id}",
    tag = "sites",
    summary = "Remove a user from a site",
    params(("id" = i32, Path, description = "The site id"), ("user_id" = i32, Path, description = "The user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, user_id)): Path<(i32, i32)>,
) -> Result<StatusCode, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let removed: bool = tx.query_one("SELECT tally.remove_membership($1, $2)", &[&user_id, &site_id]).await?.get(0);
    if !removed {
        return Err(ApiError::NotFound("no such membership".into()));
    }
    audit::record(&tx, "member.remove", Some(site_id), json!({ "user_id": user_id }), caller.ip).await?;
    tx.commit().await?;
    // Row-level security already refuses the site to the user's sessions and keys; a
    // key limited to this site is revoked too, so adding the user back later does not
    // bring an old key back to life.
    state.auth.api_keys.revoke_all(user_id, Some(site_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/ingest-keys",
    tag = "sites",
    summary = "The ingest keys of a site (admins)",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"keys\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_ingest_keys(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    // The site's row is visible to every member; its keys only to its admins.
    if tx.query_opt("SELECT 1 FROM tally.sites WHERE site_id = $1", &[&site_id]).await?.is_none() {
        return Err(no_site());
    }
    let rows = tx
        .query(
            "SELECT key_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM tally.ingest_keys \
             WHERE site_id = $1 AND revoked_at IS NULL AND site_id = ANY (tally.visible_site_ids('admin')) ORDER BY key_id",
            &[&site_id],
        )
        .await?;
    tx.commit().await?;
    let keys: Vec<Value> = rows.iter().map(|r| json!({"id": r.get::<_, i32>(0), "created_at": r.get::<_, String>(1)})).collect();
    Ok(Json(json!({ "ingest_keys": keys })))
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{id}/ingest-keys",
    tag = "sites",
    summary = "Create an ingest key (admins)",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 201, description = "The key, its secret shown only now", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_ingest_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<i32>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx.query_one("SELECT key_id, key FROM tally.create_ingest_key($1)", &[&site_id]).await?;
    let key_id: i32 = row.get(0);
    audit::record(&tx, "ingest_key.create", Some(site_id), json!({ "key_id": key_id }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"id": key_id, "site_id": site_id, "key": row.get::<_, String>(1)}))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/ingest-keys/{key_id}",
    tag = "sites",
    summary = "Revoke an ingest key",
    params(("id" = i32, Path, description = "The site id"), ("key_id" = i32, Path, description = "The ingest key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn revoke_ingest_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((site_id, key_id)): Path<(i32, i32)>,
) -> Result<StatusCode, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let n = tx
        .execute(
            "UPDATE tally.ingest_keys SET revoked_at = now() WHERE key_id = $1 AND site_id = $2 AND revoked_at IS NULL",
            &[&key_id, &site_id],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::NotFound("no such ingest key".into()));
    }
    audit::record(&tx, "ingest_key.revoke", Some(site_id), json!({ "key_id": key_id }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
