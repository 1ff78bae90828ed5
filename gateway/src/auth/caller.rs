//! The [`Caller`] extractor: the authenticated user of a request, from the session cookie
//! or an `Authorization: Bearer` API key, and [`Caller::transaction`], the one way a
//! handler reaches Postgres on the user's behalf.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum_extra::extract::CookieJar;
use deadpool_postgres::{Object, Transaction};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tally_session";

/// A Tally user as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub admin: bool,
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A dashboard session; the SHA-256 of its token.
    Session { token_hash: [u8; 32] },
    /// An API key, limited to one site when `site_id` is set.
    ApiKey { key_id: i32, site_id: Option<i32> },
    /// A public shared link of one site (`auth::share_links`): never extracted from a
    /// request by [`Caller`]'s extractor, only built by the shared-link routes, so no
    /// other route ever runs for it.
    ShareLink { link_id: i32, site_id: i32 },
    /// A scheduled email report of the user (`reports::mailer`), scoped to its site:
    /// built by the mailer only, never from a request.
    Schedule { schedule_id: i32, site_id: i32 },
}

/// An authenticated caller. Extracting it answers 401 (JSON) when the request carries no
/// valid credential; ingest keys are refused here, they only write events.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The user's Postgres role (`tally.users.pg_role`).
    pub pg_role: String,
    pub credential: Credential,
    /// The client's address, for the audit log.
    pub ip: IpAddr,
}

impl Caller {
    /// Opens a transaction on `client` running as the caller's role: every statement in
    /// it obeys the caller's grants and row-level security (and, for an API key limited
    /// to one site, sees only that site). Committing or dropping it ends the role.
    pub async fn transaction<'a>(&self, client: &'a mut Object) -> Result<Transaction<'a>, ApiError> {
        let tx = client.transaction().await?;
        // The role name comes from tally.users (tally_u<id>_<hex>), never from the request;
        // quoting keeps it an identifier regardless.
        let scope = match self.credential {
            Credential::ApiKey { site_id: Some(site), .. }
            | Credential::ShareLink { site_id: site, .. }
            | Credential::Schedule { site_id: site, .. } => site.to_string(),
            _ => String::new(),
        };
        tx.batch_execute(&format!("SET LOCAL ROLE {}", quote_ident(&self.pg_role))).await?;
        tx.execute("SELECT pg_catalog.set_config('tally.site_scope', $1, true)", &[&scope]).await?;
        Ok(tx)
    }

    /// Whether the credential this caller came with still holds (the session is not
    /// signed out or ended by a password change, the key is not revoked): for work
    /// that outlives the request it was checked on, such as a realtime stream.
    pub async fn still_valid(&self, state: &AppState) -> Result<bool, ApiError> {
        match &self.credential {
            Credential::Session { token_hash } => Ok(state.auth.sessions.lookup(token_hash).await?.is_some()),
            Credential::ApiKey { key_id, .. } => state.auth.api_keys.is_active(*key_id).await,
            Credential::ShareLink { link_id, .. } => state.auth.share_links.is_active(*link_id).await,
            Credential::Schedule { .. } => Ok(true),
        }
    }

    /// Refuses callers that came with an API key: managing keys and passwords needs a
    /// person at the dashboard, so a leaked key cannot mint more keys.
    pub fn require_session(&self) -> Result<(), ApiError> {
        match self.credential {
            Credential::Session { .. } => Ok(()),
            Credential::ApiKey { .. } | Credential::ShareLink { .. } | Credential::Schedule { .. } => {
                Err(ApiError::Forbidden("this needs a signed-in session, not an API key".into()))
            }
        }
    }
}

/// `"name"` with embedded quotes doubled: a Postgres identifier whatever it contains.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The bearer token of the request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("sign in, or send an API key as `Authorization: Bearer <key>`".into())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = super::client_ip::of(parts, state);
        if let Some(token) = bearer(&parts.headers) {
            if token.starts_with("tk_") {
                return Err(ApiError::Unauthorized("ingest keys can only send events (POST /api/v1/events)".into()));
            }
            let (user, pg_role, key_id, site_id) = state.auth.api_keys.lookup(token).await?.ok_or_else(unauthorized)?;
            state.auth.limits.api_key(key_id)?;
            return Ok(Caller { user, pg_role, credential: Credential::ApiKey { key_id, site_id }, ip });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()).ok_or_else(unauthorized)?;
        let token_hash = super::tokens::hash(&token);
        let (user, pg_role) = state.auth.sessions.lookup(&token_hash).await?.ok_or_else(unauthorized)?;
        Ok(Caller { user, pg_role, credential: Credential::Session { token_hash }, ip })
    }
}
