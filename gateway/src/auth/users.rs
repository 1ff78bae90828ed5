//! Signing in (with the per-name lockout), changing passwords, and creating
//! administrators from the command line.

use std::net::IpAddr;

use deadpool_postgres::Pool;
use serde_json::json;

use super::caller::User;
use super::{audit, password, Auth};
use crate::config::AuthConfig;
use crate::error::ApiError;

/// What a failed sign-in says, whatever failed: no hint whether the account exists.
const WRONG_CREDENTIALS: &str = "wrong email or password";

/// Checks an email and password. On success returns the user and their role; on failure
/// counts the failure against the email from this address (locking the pair after
/// `lockout_after` in a row) and writes both outcomes to the audit log.
pub async fn sign_in(auth: &Auth, pool: &Pool, email: &str, password: String, ip: IpAddr) -> Result<(User, String), ApiError> {
    auth.limits.login(ip)?;
    let email = email.trim().to_lowercase();
    let client = pool.get().await?;
    refuse_locked(&client, &email, ip).await?;
    let row = client
        .query_opt("SELECT user_id, email, name, is_admin, pg_role, password_hash FROM tally.users WHERE email = $1", &[&email])
        .await?;
    let stored = row.as_ref().map(|r| r.get::<_, String>(5));
    if auth.hasher.verify(password, stored).await? {
        if let Some(r) = row {
            forget_failures(&client, &email, ip).await?;
            return Ok((User { id: r.get(0), email: r.get(1), name: r.get(2), admin: r.get(3) }, r.get(4)));
        }
    }
    count_failure(&client, &auth.config, &email, ip).await?;
    audit::record(&client, "login.failure", None, json!({ "email": email }), ip).await?;
    Err(ApiError::Unauthorized(WRONG_CREDENTIALS.into()))
}

/// 429 (with the seconds left) while `name` is locked for `ip`. `name` is what a
/// password is guessed for: a sign-in email, or `share:<link id>` for a shared link.
pub async fn refuse_locked(client: &deadpool_postgres::Client, name: &str, ip: IpAddr) -> Result<(), ApiError> {
    let locked = client
        .query_opt(
            "SELECT ceil(extract(epoch FROM locked_until - now()))::int8 FROM tally.login_failures \
             WHERE email = $1 AND address = $2 AND locked_until > now()",
            &[&name, &ip],
        )
        .await?;
    match locked {
        Some(row) => Err(ApiError::TooManyRequests { retry_after_secs: row.get::<_, i64>(0).max(1) as u64 }),
        None => Ok(()),
    }
}

/// The right password for `name` from `ip`: its count of wrong ones starts over.
pub async fn forget_failures(client: &deadpool_postgres::Client, name: &str, ip: IpAddr) -> Result<(), ApiError> {
    client.execute("DELETE FROM tally.login_failures WHERE email = $1 AND address = $2", &[&name, &ip]).await?;
    Ok(())
}

/// One more wrong password for `email` (a sign-in name as [`refuse_locked`] has it)
/// from `ip`; the pair's lock starts at `lockout_after` in a row. Pairs idle for a day
/// are forgotten on the way, so made-up names and addresses do not pile up.
pub async fn count_failure(client: &deadpool_postgres::Client, config: &AuthConfig, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    client.execute("DELETE FROM tally.login_failures WHERE last_at < now() - interval '1 day'", &[]).await?;
    client
        .execute(
            "INSERT INTO tally.login_failures AS f (email, address, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (email, address) DO UPDATE SET \
                 failures = CASE WHEN f.locked_until <= now() THEN 1 ELSE f.failures + 1 END, \
                 last_at = now(), \
                 locked_until = CASE WHEN f.locked_until <= now() THEN NULL ELSE f.locked_until END",
            &[&email, &ip],
        )
        .await?;
    client
        .execute(
            "UPDATE tally.login_failures SET locked_until = now() + make_interval(secs => $4) \
             WHERE email = $1 AND address = $2 AND failures >= $3 AND locked_until IS NULL",
            &[&email, &ip, &(config.lockout_after.max(1) as i32), &f64::from(config.lockout_seconds)],
        )
        .await?;
    Ok(())
}

/// Replaces the password of `user_id` after checking the current one.
pub async fn change_password(auth: &Auth, pool: &Pool, user_id: i32, current: String, new: String, ip: IpAddr) -> Result<(), ApiError> {
    auth.limits.login(ip)?;
    password::validate("new_password", &new)?;
    let client = pool.get().await?;
    let stored: String = client.query_one("SELECT password_hash FROM tally.users WHERE user_id = $1", &[&user_id]).await?.get(0);
    if !auth.hasher.verify(current, Some(stored)).await? {
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    let hash = auth.hasher.hash(new).await?;
    client.execute("UPDATE tally.users SET password_hash = $2 WHERE user_id = $1", &[&user_id, &hash]).await?;
    Ok(())
}

/// `tally-gateway create-admin`: creates the administrator `email`, or makes the
/// existing user of that email an administrator with this password. Idempotent.
/// Returns the user's id.
pub async fn create_admin(pool: &Pool, email: &str, name: &str, password: &str) -> anyhow::Result<i32> {
    password::validate("password", password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = password::hash_now(password)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let email = email.trim().to_lowercase();
    let existing = tx.query_opt("SELECT user_id FROM tally.users WHERE email = $1 FOR UPDATE", &[&email]).await?;
    let id = match existing {
        Some(row) => {
            let id: i32 = row.get(0);
            tx.execute("UPDATE tally.users SET password_hash = $2 WHERE user_id = $1", &[&id, &hash]).await?;
            tx.execute("SELECT tally.set_admin($1, true)", &[&id]).await?;
            id
        }
        None => tx.query_one("SELECT tally.create_user($1, $2, $3, true)", &[&email, &name, &hash]).await?.get(0),
    };
    tx.execute("INSERT INTO tally.audit_log (action, detail) VALUES ('user.create_admin', $1)", &[&json!({ "user_id": id })]).await?;
    tx.commit().await?;
    Ok(id)
}
