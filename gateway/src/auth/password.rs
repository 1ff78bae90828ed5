//! Password hashes: argon2id with the `argon2` crate's defaults (OWASP's 19 MiB, 2
//! passes), stored as PHC strings. Hashing runs on the blocking pool: it takes tens of
//! milliseconds of CPU by design.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;

/// Shortest password accepted. Long enough that the lockout makes guessing hopeless.
pub const MIN_LENGTH: usize = 10;
/// Longest accepted: hashing is linear in the length, so an unbounded one is a cheap
/// way to burn our CPU.
pub const MAX_LENGTH: usize = 1024;

/// Checks a new password's length, naming `field` when it is refused.
pub fn validate(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_LENGTH || password.len() > MAX_LENGTH {
        return Err(ApiError::bad_request(field, format!("a password needs {MIN_LENGTH} to {MAX_LENGTH} characters")));
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// [`hash`] on the calling thread, for the command line and tests.
pub fn hash_now(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing: {e}"))?.to_string())
}

/// Whether `password` matches `phc`. Without a stored hash (unknown user) a dummy hash
/// is checked instead, so a wrong email takes as long as a wrong password and timing
/// does not tell whether an account exists.
pub async fn verify(password: String, phc: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = phc.unwrap_or_else(|| DUMMY.get_or_init(|| hash_now("not a password of anyone").expect("hash")).clone());
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let phc = super::hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery".into(), Some(phc.clone())).await.unwrap());
        assert!(!super::verify("correct horse battery!".into(), Some(phc)).await.unwrap());
        assert!(!super::verify("anything".into(), None).await.unwrap());
    }
}
