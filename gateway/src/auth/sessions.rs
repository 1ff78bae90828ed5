//! Dashboard sessions in `tally.sessions`: the cookie carries a random token, Postgres
//! its SHA-256, an expiry that each use pushes forward, and a revocation time.

use std::time::Duration;

use deadpool_postgres::Pool;

use super::caller::User;
use super::tokens;
use crate::error::ApiError;

pub struct Sessions {
    pool: Pool,
    ttl: Duration,
}

/// A session's expiry is pushed forward at most this often: an active dashboard does
/// not write a row per request.
const SLIDE_EVERY_SECS: f64 = 60.0;

impl Sessions {
    pub fn new(pool: Pool, ttl: Duration) -> Self {
        Sessions { pool, ttl }
    }

    /// How long a session lasts without use.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `user_id`; returns the token for the cookie.
    pub async fn create(&self, user_id: i32) -> Result<String, ApiError> {
        let token = tokens::generate("");
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tally.sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
                &[&tokens::hash(&token).as_slice(), &user_id, &self.ttl.as_secs_f64()],
            )
            .await?;
        Ok(token)
    }

    /// The user of a live session (not expired, not revoked) and their role, extending
    /// the session's expiry.
    pub async fn lookup(&self, token_hash: &[u8; 32]) -> Result<Option<(User, String)>, ApiError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT u.user_id, u.email, u.name, u.is_admin, u.pg_role, \
                        s.expires_at < now() + make_interval(secs => $2::float8 - $3::float8) AS slide \
                 FROM tally.sessions s JOIN tally.users u USING (user_id) \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
                &[&token_hash.as_slice(), &self.ttl.as_secs_f64(), &SLIDE_EVERY_SECS],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        if row.get::<_, bool>(5) {
            client
                .execute(
                    "UPDATE tally.sessions SET expires_at = now() + make_interval(secs => $2) WHERE token_hash = $1",
                    &[&token_hash.as_slice(), &self.ttl.as_secs_f64()],
                )
                .await?;
        }
        let user = User { id: row.get(0), email: row.get(1), name: row.get(2), admin: row.get(3) };
        Ok(Some((user, row.get(4))))
    }

    /// Ends a session (logout).
    pub async fn revoke(&self, token_hash: &[u8; 32]) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        client
            .execute("UPDATE tally.sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", &[&token_hash.as_slice()])
            .await?;
        Ok(())
    }

    /// Ends every session of `user_id` but `keep` (after a password change).
    pub async fn revoke_others(&self, user_id: i32, keep: &[u8; 32]) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE tally.sessions SET revoked_at = now() WHERE user_id = $1 AND token_hash <> $2 AND revoked_at IS NULL",
                &[&user_id, &keep.as_slice()],
            )
            .await?;
        Ok(())
    }
}
