//! Sign-in and the session: `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`,
//! `GET /api/v1/auth/me`, `GET /api/v1/auth/session`, `POST /api/v1/auth/password`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::caller::SESSION_COOKIE;
use crate::auth::client_ip::ClientIp;
use crate::auth::{audit, users, Caller, Credential};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/session", get(session))
        .route("/api/v1/auth/password", post(change_password))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, logout, me, session, change_password))]
pub struct Api;

#[derive(Deserialize, utoipa::ToSchema)]
struct Login {
    email: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in: sets the session cookie",
    request_body = Login,
    responses(
        (status = 200, description = "The user and their sites", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    JsonBody(body): JsonBody<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, pg_role) = users::sign_in(&state.auth, &state.pool, &body.email, body.password, ip).await?;
    let token = state.auth.sessions.create(user.id).await?;
    let caller =
        Caller { user: user.clone(), pg_role, credential: Credential::Session { token_hash: crate::auth::tokens::hash(&token) }, ip };
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    audit::record(&tx, "login", None, json!({}), caller.ip).await?;
    tx.commit().await?;
    let max_age = time_secs(state.auth.sessions.ttl().as_secs());
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.auth.config.cookie_secure())
        .max_age(max_age)
        .build();
    Ok((jar.add(cookie), Json(json!({ "user": user }))))
}

fn time_secs(secs: u64) -> time::Duration {
    time::Duration::seconds(secs as i64)
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "Sign out: ends the session",
    responses(
        (status = 204, description = "Signed out"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn logout(State(state): State<AppState>, caller: Caller, jar: CookieJar) -> Result<impl IntoResponse, ApiError> {
    if let Credential::Session { token_hash } = &caller.credential {
        state.auth.sessions.revoke(token_hash).await?;
    }
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    audit::record(&tx, "logout", None, json!({}), caller.ip).await?;
    tx.commit().await?;
    let gone = Cookie::build((SESSION_COOKIE, "")).path("/").http_only(true).same_site(SameSite::Strict).build();
    Ok((jar.remove(gone), StatusCode::NO_CONTENT))
}

/// The caller and the sites they may see, with their role on each: what the
/// dashboard needs to draw its site picker. Read under the caller's role, so it lists
/// exactly what row-level security lets them query.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    summary = "The signed-in user and their sites",
    responses(
        (status = 200, description = "`{\"user\", \"sites\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let sites = crate::routes::sites::visible(&tx).await?;
    tx.commit().await?;
    Ok(Json(json!({ "user": caller.user, "sites": sites })))
}

/// What `me` answers for a signed-in caller, and `{"user": null, "sites": []}` (200) for
/// anyone else: the dashboard asks this on every load to choose between its pages and
/// its login form, and a 401 there would be a failed request (an error in the browser's
/// console) on every visit to the login page.
#[utoipa::path(
    get,
    path = "/api/v1/auth/session",
    tag = "auth",
    summary = "The session, if any",
    responses(
        (status = 200, description = "`{\"user\", \"sites\"}`, the user null when signed out", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn session(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Result<Json<Value>, ApiError> {
    match caller {
        Ok(caller) => me(State(state), caller).await,
        Err(ApiError::Unauthorized(_)) => Ok(Json(json!({ "user": null, "sites": [] }))),
        Err(err) => Err(err),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password, signs out their other sessions and revokes their
/// API keys: whoever knew the old password may have made either.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    summary = "Change the caller's password",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions and API keys revoked"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    users::change_password(&state.auth, &state.pool, caller.user.id, body.current_password, body.new_password, caller.ip).await?;
    if let Credential::Session { token_hash } = &caller.credential {
        state.auth.sessions.revoke_others(caller.user.id, token_hash).await?;
    }
    state.auth.api_keys.revoke_all(caller.user.id, None).await?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    audit::record(&tx, "password.change", None, json!({}), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
