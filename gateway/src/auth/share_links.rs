//! Public shared links (`tally.share_links`, sql/auth.sql and sql/sharing.sql): a secret
//! URL `/share/ts_<64 hex>` that shows one site's dashboard read-only to anyone who has
//! it. The gateway finds the link by the SHA-256 of its token, then runs the link's
//! queries as the link's own Postgres role ([`ShareLink::caller`]), which row-level
//! security holds to the link's site while the link is not revoked.
//!
//! A password-protected link is unlocked with its password ([`ShareLinks::unlock`]):
//! the right one earns a token, sent back as `X-Tally-Share-Unlock`, valid for
//! [`UNLOCK_TTL`]. Guessing is bounded twice, as for sign-in: per client address in
//! this gateway (the sign-in rate limit) and per link and address in Postgres (the
//! sign-in lockout, under the name `share:<link id>`), which holds across gateways.

use std::net::IpAddr;
use std::time::Duration;

use deadpool_postgres::Pool;

use super::caller::{Caller, Credential, User};
use super::{tokens, users, Auth};
use crate::error::ApiError;

/// The prefix of shared-link tokens, so one in a log or a paste is recognisable.
pub const PREFIX: &str = "ts_";
/// The header that carries an unlock token of a password-protected link.
pub const UNLOCK_HEADER: &str = "x-tally-share-unlock";
/// How long an unlock lasts: a working day, so a meeting's viewers type it once.
pub const UNLOCK_TTL: Duration = Duration::from_secs(12 * 3600);

/// An active (not revoked) shared link.
#[derive(Debug, Clone)]
pub struct ShareLink {
    pub id: i32,
    pub site_id: i32,
    pub domain: String,
    pub timezone: String,
    pub name: String,
    pub pg_role: String,
    pub password_hash: Option<String>,
    /// The panels shown; `None`: all of them.
    pub panels: Option<Vec<String>>,
    /// Origins that may frame the link; `None`: not embeddable, empty: any site.
    pub embed_origins: Option<Vec<String>>,
}

impl ShareLink {
    /// The caller that runs the link's queries: its role, scoped to its site. The user
    /// is a stand-in (id 0, the link's name): only the shared-link routes build this
    /// caller, and they use its role, scope and address alone.
    pub fn caller(&self, ip: IpAddr) -> Caller {
        Caller {
            user: User { id: 0, email: String::new(), name: self.name.clone(), admin: false },
            pg_role: self.pg_role.clone(),
            credential: Credential::ShareLink { link_id: self.id, site_id: self.site_id },
            ip,
        }
    }

    /// The name its wrong passwords are counted under in `tally.login_failures`.
    fn lockout_name(&self) -> String {
        format!("share:{}", self.id)
    }
}

pub struct ShareLinks {
    pool: Pool,
}

impl ShareLinks {
    pub fn new(pool: Pool) -> Self {
        ShareLinks { pool }
    }

    /// The active link of `token`, or `None` (unknown, malformed or revoked alike).
    pub async fn find(&self, token: &str) -> Result<Option<ShareLink>, ApiError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT l.link_id, l.site_id, s.domain, s.timezone, l.name, l.pg_role::text, l.password_hash, l.panels, l.embed_origins \
                 FROM tally.share_links l JOIN tally.sites s USING (site_id) \
                 WHERE l.token_hash = $1 AND l.revoked_at IS NULL",
                &[&tokens::hash(token).as_slice()],
            )
            .await?;
        Ok(row.map(|r| ShareLink {
            id: r.get(0),
            site_id: r.get(1),
            domain: r.get(2),
            timezone: r.get(3),
            name: r.get(4),
            pg_role: r.get(5),
            password_hash: r.get(6),
            panels: r.get(7),
            embed_origins: r.get(8),
        }))
    }

    /// Whether link `link_id` is still active (for work that outlives its request).
    pub async fn is_active(&self, link_id: i32) -> Result<bool, ApiError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT 1 FROM tally.share_links WHERE link_id = $1 AND revoked_at IS NULL", &[&link_id]).await?;
        Ok(row.is_some())
    }

    /// Whether `unlock` (the header's token, if any) unlocks `link`: always for a link
    /// without a password.
    pub async fn is_unlocked(&self, link: &ShareLink, unlock: Option<&str>) -> Result<bool, ApiError> {
        if link.password_hash.is_none() {
            return Ok(true);
        }
        let Some(unlock) = unlock else { return Ok(false) };
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT 1 FROM tally.share_unlocks WHERE token_hash = $1 AND link_id = $2 AND expires_at > now()",
                &[&tokens::hash(unlock).as_slice(), &link.id],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Checks `password` for `link` from `ip` and returns a new unlock token; a wrong
    /// password is 403 and counts towards the lockout, a locked pair 429.
    pub async fn unlock(&self, auth: &Auth, link: &ShareLink, password: String, ip: IpAddr) -> Result<String, ApiError> {
        let Some(stored) = link.password_hash.clone() else {
            return Err(ApiError::bad_request("password", "this link has no password"));
        };
        auth.limits.login(ip)?;
        let name = link.lockout_name();
        let client = self.pool.get().await?;
        users::refuse_locked(&client, &name, ip).await?;
        if !auth.hasher.verify(password, Some(stored)).await? {
            users::count_failure(&client, &auth.config, &name, ip).await?;
            return Err(ApiError::Forbidden("wrong password".into()));
        }
        users::forget_failures(&client, &name, ip).await?;
        let token = tokens::generate("");
        // Expired unlocks are dropped on the way, so the table stays small.
        client.execute("DELETE FROM tally.share_unlocks WHERE expires_at < now()", &[]).await?;
        client
            .execute(
                "INSERT INTO tally.share_unlocks (token_hash, link_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
                &[&tokens::hash(&token).as_slice(), &link.id, &UNLOCK_TTL.as_secs_f64()],
            )
            .await?;
        Ok(token)
    }
}
