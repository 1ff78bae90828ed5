//! API keys for programs (`Authorization: Bearer ta_...`) in `tally.api_keys`: each acts
//! as its user, optionally limited to one site; only the SHA-256 is stored.

use deadpool_postgres::Pool;
use serde_json::{json, Value};

use super::caller::User;
use super::tokens;
use crate::error::ApiError;

/// The prefix of API keys, so a key in a log or a paste is recognisable.
pub const PREFIX: &str = "ta_";

/// An active key's user, their role, the key's id and site limit.
pub type KeyOwner = (User, String, i32, Option<i32>);

pub struct ApiKeys {
    pool: Pool,
}

impl ApiKeys {
    pub fn new(pool: Pool) -> Self {
        ApiKeys { pool }
    }

    /// The owner of an active key, or `None`.
    pub async fn lookup(&self, key: &str) -> Result<Option<KeyOwner>, ApiError> {
        if !key.starts_with(PREFIX) {
            return Ok(None);
        }
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT u.user_id, u.email, u.name, u.is_admin, u.pg_role, k.key_id, k.site_id \
                 FROM tally.api_keys k JOIN tally.users u USING (user_id) \
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                &[&tokens::hash(key).as_slice()],
            )
            .await?;
        Ok(row.map(|r| (User { id: r.get(0), email: r.get(1), name: r.get(2), admin: r.get(3) }, r.get(4), r.get(5), r.get(6))))
    }

    /// Whether key `key_id` is still active (not revoked).
    pub async fn is_active(&self, key_id: i32) -> Result<bool, ApiError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT 1 FROM tally.api_keys WHERE key_id = $1 AND revoked_at IS NULL", &[&key_id]).await?;
        Ok(row.is_some())
    }

    /// A new key of `user_id`; returns its id and the key, which is not stored.
    pub async fn create(&self, user_id: i32, name: &str, site_id: Option<i32>) -> Result<(i32, String), ApiError> {
        let key = tokens::generate(PREFIX);
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO tally.api_keys (user_id, name, key_hash, site_id) VALUES ($1, $2, $3, $4) RETURNING key_id",
                &[&user_id, &name, &tokens::hash(&key).as_slice(), &site_id],
            )
            .await?;
        Ok((row.get(0), key))
    }

    /// The active keys of `user_id` (never the keys themselves).
    pub async fn list(&self, user_id: i32) -> Result<Vec<Value>, ApiError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT key_id, name, site_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                 FROM tally.api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY key_id",
                &[&user_id],
            )
            .await?;
        Ok(rows.iter().map(|r| json!({"id": r.get::<_, i32>(0), "name": r.get::<_, String>(1), "site_id": r.get::<_, Option<i32>>(2), "created_at": r.get::<_, String>(3)})).collect())
    }

    /// Revokes every key of `user_id` (after a password change: a key minted by whoever
    /// knew the old password dies with it), or only those limited to `site_id` (the
    /// user's membership there was removed).
    pub async fn revoke_all(&self, user_id: i32, site_id: Option<i32>) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE tally.api_keys SET revoked_at = now() \
                 WHERE user_id = $1 AND ($2::int IS NULL OR site_id = $2) AND revoked_at IS NULL",
                &[&user_id, &site_id],
            )
            .await?;
        Ok(())
    }

    /// Revokes a key of `user_id`; false when that user has no such active key.
    pub async fn revoke(&self, user_id: i32, key_id: i32) -> Result<bool, ApiError> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "UPDATE tally.api_keys SET revoked_at = now() WHERE key_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&key_id, &user_id],
            )
            .await?;
        Ok(n == 1)
    }
}
