//! Public shared dashboards, for anyone holding a link's secret URL (no sign-in):
//! - `GET /share/{token}`: the dashboard page in shared mode (the dashboard's own
//!   `index.html`, loading its files from the root), framed only where the link allows
//!   (Content-Security-Policy `frame-ancestors`);
//! - `GET /api/v1/share/{token}`: what the page shows (`{site, timezone, name, panels,
//!   protected, unlocked}`; only `{name, protected, unlocked}` until a protected link
//!   is unlocked);
//! - `POST /api/v1/share/{token}/unlock` `{"password"}` → `{"unlock"}`: the token to send
//!   as `X-Tally-Share-Unlock` with the queries of a password-protected link;
//! - `POST /api/v1/share/{token}/query` and `.../query/batch`: stats queries as
//!   `POST /api/v1/query[/batch]` answers them, run as the link's role (its site only)
//!   and within its panels (`auth::share_panels`).
//!
//! An unknown, malformed or revoked token is a 404, all alike, and counts against the
//! client address's sign-in rate limit, so links cannot be guessed by brute force (with
//! 256 random bits they could not be anyway) nor used to hammer the database.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::client_ip::ClientIp;
use crate::auth::share_links::{ShareLink, UNLOCK_HEADER};
use crate::auth::share_panels::{self, PANELS};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::routes::query;
use crate::security_headers::shared_page_policy;
use crate::state::AppState;
use crate::statement::Work;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/share/{token}", get(page))
        .route("/api/v1/share/{token}", get(describe))
        .route("/api/v1/share/{token}/unlock", post(unlock))
        .route("/api/v1/share/{token}/query", post(run_query))
        .route("/api/v1/share/{token}/query/batch", post(run_batch))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(page, describe, unlock, run_query, run_batch))]
pub struct Api;

fn no_link() -> ApiError {
    ApiError::NotFound("no such shared link (it may have been revoked)".into())
}

/// The active link of `token`; a miss is counted against `ip`'s rate limit (429 past it).
async fn find(state: &AppState, token: &str, ip: std::net::IpAddr) -> Result<ShareLink, ApiError> {
    match state.auth.share_links.find(token).await? {
        Some(link) => Ok(link),
        None => {
            state.auth.limits.login(ip)?;
            Err(no_link())
        }
    }
}

/// The link of `token`, unlocked by the request's `X-Tally-Share-Unlock` if it has a
/// password (401 naming `password` otherwise).
async fn unlocked(state: &AppState, token: &str, headers: &HeaderMap, ip: std::net::IpAddr) -> Result<ShareLink, ApiError> {
    let link = find(state, token, ip).await?;
    let unlock = headers.get(UNLOCK_HEADER).and_then(|v| v.to_str().ok());
    if !state.auth.share_links.is_unlocked(&link, unlock).await? {
        return Err(ApiError::Unauthorized("this shared dashboard needs its password (password)".into()));
    }
    Ok(link)
}

/// The panel names a link shows: its list, or every panel.
fn panels_of(link: &ShareLink) -> Vec<String> {
    link.panels.clone().unwrap_or_else(|| PANELS.iter().map(|(name, _)| (*name).to_owned()).collect())
}

#[utoipa::path(
    get,
    path = "/share/{token}",
    tag = "share",
    summary = "The shared dashboard page",
    params(("token" = String, Path, description = "The shared link's secret token")),
    responses(
        (status = 200, description = "The dashboard in shared mode", body = String, content_type = "text/html"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn page(State(state): State<AppState>, ClientIp(ip): ClientIp, Path(token): Path<String>) -> Result<Response, ApiError> {
    let link = match find(&state, &token, ip).await {
        Ok(link) => link,
        Err(ApiError::NotFound(_)) => {
            return Ok((
                StatusCode::NOT_FOUND,
                Html("<!doctype html><title>Tally</title><p>This shared dashboard does not exist or was revoked.</p>"),
            )
                .into_response())
        }
        Err(e) => return Err(e),
    };
    let index = tokio::fs::read_to_string(state.config.dashboard_dir.join("index.html"))
        .await
        .map_err(|e| anyhow::anyhow!("the dashboard's index.html: {e}"))?;
    // The page lives at /share/<token>: `<base href="../">` makes the dashboard's
    // relative file names (app.js, app.css) load from the directory above, behind a
    // path prefix too.
    let html = index.replacen("<head>", "<head>\n<base href=\"../\">\n<meta name=\"robots\" content=\"noindex\">", 1);
    let ancestors = match &link.embed_origins {
        None => "'none'".to_owned(),
        Some(origins) if origins.is_empty() => "*".to_owned(),
        Some(origins) => origins.join(" "),
    };
    let policy = HeaderValue::from_str(&shared_page_policy(&ancestors)).map_err(anyhow::Error::from)?;
    // Browsers that predate frame-ancestors refuse to frame a link that is not embeddable.
    let frame_options = link.embed_origins.is_none().then_some([(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))]);
    let headers = [
        (header::CONTENT_SECURITY_POLICY, policy),
        // The token is in the URL: no cache keeps the page, no search engine lists it.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    Ok((headers, frame_options, Html(html)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/share/{token}",
    tag = "share",
    summary = "What a shared dashboard shows",
    params(("token" = String, Path, description = "The shared link's secret token"), ("X-Tally-Share-Unlock" = Option<String>, Header, description = "The unlock token of a password-protected link")),
    responses(
        (status = 200, description = "`{\"site\", \"timezone\", \"name\", \"panels\", \"protected\", \"unlocked\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn describe(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let link = find(&state, &token, ip).await?;
    let unlock = headers.get(UNLOCK_HEADER).and_then(|v| v.to_str().ok());
    let unlocked = state.auth.share_links.is_unlocked(&link, unlock).await?;
    // Before its password, a protected link tells nothing of what it shows.
    if !unlocked {
        return Ok(Json(json!({ "name": link.name, "protected": true, "unlocked": false })));
    }
    Ok(Json(json!({
        "site": link.domain,
        "timezone": link.timezone,
        "name": link.name,
        "panels": panels_of(&link),
        "protected": link.password_hash.is_some(),
        "unlocked": unlocked,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Unlock {
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/share/{token}/unlock",
    tag = "share",
    summary = "Unlock a password-protected shared dashboard",
    request_body = Unlock,
    params(("token" = String, Path, description = "The shared link's secret token")),
    responses(
        (status = 200, description = "`{\"unlock\"}`: the token for `X-Tally-Share-Unlock`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn unlock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<Unlock>,
) -> Result<Json<Value>, ApiError> {
    let link = find(&state, &token, ip).await?;
    let unlock = state.auth.share_links.unlock(&state.auth, &link, body.password, ip).await?;
    Ok(Json(json!({ "unlock": unlock })))
}

#[utoipa::path(
    post,
    path = "/api/v1/share/{token}/query",
    tag = "share",
    summary = "A stats query within the link's site and panels",
    request_body = crate::openapi::schemas::StatsQuery,
    params(("token" = String, Path, description = "The shared link's secret token"), ("X-Tally-Share-Unlock" = Option<String>, Header, description = "The unlock token of a password-protected link")),
    responses(
        (status = 200, description = "As `POST /api/v1/query`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn run_query(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    JsonBody(q): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let link = unlocked(&state, &token, &headers, ip).await?;
    if let Some(panels) = &link.panels {
        share_panels::check(panels, &q)?;
    }
    Ok(Json(query::answer_with_imports(&state, &link.caller(ip), &q, Some("share.query"), Work::Query).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/share/{token}/query/batch",
    tag = "share",
    summary = "Stats queries within the link's site and panels",
    request_body = crate::openapi::schemas::QueryBatch,
    params(("token" = String, Path, description = "The shared link's secret token"), ("X-Tally-Share-Unlock" = Option<String>, Header, description = "The unlock token of a password-protected link")),
    responses(
        (status = 200, description = "As `POST /api/v1/query/batch`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn run_batch(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let link = unlocked(&state, &token, &headers, ip).await?;
    if let (Some(panels), Some(queries)) = (&link.panels, body.get("queries").and_then(Value::as_array)) {
        for q in queries {
            share_panels::check(panels, q)?;
        }
    }
    Ok(Json(query::batch(&state, &link.caller(ip), &body).await?))
}
