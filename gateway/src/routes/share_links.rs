//! Managing a site's public shared links (admins of the site):
//! - `GET /api/v1/sites/{id}/share-links`: the active links (never their tokens);
//! - `POST /api/v1/sites/{id}/share-links` `{"name", "password"?, "panels"?, "embed"?,
//!   "embed_origins"?}` → 201 with the link's `token` and `path` (`/share/<token>`),
//!   shown only now;
//! - `DELETE /api/v1/sites/{id}/share-links/{link_id}`: revokes it, for good.
//!
//! Every statement runs as the caller: row-level security lets only the site's admins
//! write or read its links (sql/sharing.sql), so a site the caller cannot see is a 404
//! and one they only view is a 403.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use deadpool_postgres::Transaction;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::share_links::PREFIX;
use crate::auth::{audit, password, share_panels, tokens, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites/{id}/share-links", get(list).post(create))
        .route("/api/v1/sites/{id}/share-links/{link_id}", delete(revoke))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, revoke))]
pub struct Api;

/// 404 unless the caller sees the site, 403 unless they are one of its admins.
async fn require_site_admin(tx: &Transaction<'_>, site_id: i32) -> Result<(), ApiError> {
    let row =
        tx.query_opt("SELECT site_id = ANY (tally.visible_site_ids('admin')) FROM tally.sites WHERE site_id = $1", &[&site_id]).await?;
    match row.map(|r| r.get::<_, bool>(0)) {
        None => Err(ApiError::NotFound("no such site".into())),
        Some(false) => Err(ApiError::Forbidden("only admins of the site manage its shared links".into())),
        Some(true) => Ok(()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/share-links",
    tag = "share",
    summary = "The active shared links of a site (admins)",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"links\": [...]}` without tokens", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    caller.require_session()?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site_admin(&tx, site_id).await?;
    let rows = tx
        .query(
            "SELECT link_id, name, protected, panels, embed_origins, \
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM tally.share_links WHERE site_id = $1 AND revoked_at IS NULL ORDER BY link_id",
            &[&site_id],
        )
        .await?;
    tx.commit().await?;
    let links: Vec<Value> = rows
        .iter()
        .map(|r| {
            let origins: Option<Vec<String>> = r.get(4);
            json!({
                "id": r.get::<_, i32>(0),
                "name": r.get::<_, String>(1),
                "protected": r.get::<_, bool>(2),
                "panels": r.get::<_, Option<Vec<String>>>(3),
                "embed": origins.is_some(),
                "embed_origins": origins.unwrap_or_default(),
                "created_at": r.get::<_, String>(5),
            })
        })
        .collect();
    Ok(Json(json!({ "share_links": links })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewLink {
    #[serde(default)]
    name: String,
    password: Option<String>,
    panels: Option<Vec<String>>,
    #[serde(default)]
    embed: bool,
    #[serde(default)]
    embed_origins: Vec<String>,
}

/// `https://example.com[:port]` exactly: an origin is written into a response header
/// (frame-ancestors), so anything else (paths, spaces, `;`, wildcards) is refused.
fn origin(field: &str, text: &str) -> Result<String, ApiError> {
    let refuse = || ApiError::bad_request(field, format!("{text:?} is not an origin such as https://blog.example.com"));
    let url = url::Url::parse(text).map_err(|_| refuse())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain || text.trim_end_matches('/') != url.origin().ascii_serialization() {
        return Err(refuse());
    }
    Ok(url.origin().ascii_serialization())
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{id}/share-links",
    tag = "share",
    summary = "Create a shared link (admins)",
    request_body = NewLink,
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 201, description = "The link with its `token` and `path`, shown only now", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<i32>,
    JsonBody(body): JsonBody<NewLink>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_session()?;
    let name = body.name.trim().to_owned();
    if name.chars().count() > 200 {
        return Err(ApiError::bad_request("name", "a name has at most 200 characters"));
    }
    if let Some(panels) = &body.panels {
        share_panels::validate("panels", panels)?;
    }
    if !body.embed && !body.embed_origins.is_empty() {
        return Err(ApiError::bad_request("embed_origins", "origins that may embed the link need \"embed\": true"));
    }
    let origins = match body.embed {
        false => None,
        true => Some(
            body.embed_origins.iter().enumerate().map(|(i, o)| origin(&format!("embed_origins[{i}]"), o)).collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let password_hash = match body.password.filter(|p| !p.is_empty()) {
        Some(p) => {
            password::validate("password", &p)?;
            Some(state.auth.hasher.hash(p).await?)
        }
        None => None,
    };
    let token = tokens::generate(PREFIX);
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site_admin(&tx, site_id).await?;
    let row = tx
        .query_one(
            "INSERT INTO tally.share_links (site_id, token_hash, name, password_hash, panels, embed_origins) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING link_id",
            &[&site_id, &tokens::hash(&token).as_slice(), &name, &password_hash, &body.panels, &origins],
        )
        .await?;
    let id: i32 = row.get(0);
    audit::record(
        &tx,
        "share_link.create",
        Some(site_id),
        json!({ "link_id": id, "panels": body.panels, "embed": origins.is_some() }),
        caller.ip,
    )
    .await?;
    tx.commit().await?;
    let link = json!({
        "id": id,
        "site_id": site_id,
        "name": name,
        "token": token,
        "path": format!("/share/{token}"),
        "protected": password_hash.is_some(),
        "panels": body.panels,
        "embed": origins.is_some(),
        "embed_origins": origins.unwrap_or_default(),
    });
    Ok((StatusCode::CREATED, Json(link)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}/share-links/{link_id}",
    tag = "share",
    summary = "Revoke a shared link",
    params(("id" = i32, Path, description = "The site id"), ("link_id" = i32, Path, description = "The link id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn revoke(State(state): State<AppState>, caller: Caller, Path((site_id, link_id)): Path<(i32, i32)>) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    require_site_admin(&tx, site_id).await?;
    let n = tx
        .execute(
            "UPDATE tally.share_links SET revoked_at = now() WHERE link_id = $1 AND site_id = $2 AND revoked_at IS NULL",
            &[&link_id, &site_id],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::NotFound("no such shared link".into()));
    }
    audit::record(&tx, "share_link.revoke", Some(site_id), json!({ "link_id": link_id }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
