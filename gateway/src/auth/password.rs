//! Password hashes: argon2id with the `argon2` crate's defaults (OWASP's 19 MiB, 2
//! passes), stored as PHC strings. Hashing runs on the blocking pool, a bounded number
//! at once ([`Hasher`]): it takes tens of milliseconds of CPU by design.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

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

/// Hashes and verifies passwords on the blocking pool, at most `--max-password-hashes`
/// at once: each takes 19 MiB and tens of milliseconds of CPU, so unbounded, a burst of
/// sign-ins (or of new users) would take the gateway's memory and cores.
pub struct Hasher {
    permits: Semaphore,
    /// How long a request waits for its turn before it is refused (503).
    queue_wait: Duration,
}

impl Hasher {
    pub fn new(at_once: usize, queue_wait: Duration) -> Hasher {
        Hasher { permits: Semaphore::new(at_once.max(1)), queue_wait }
    }

    /// The argon2id PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _turn = self.turn().await?;
        Ok(tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(anyhow::Error::from)??)
    }

    /// Whether `password` matches `phc`. Without a stored hash (unknown user) a dummy
    /// hash is checked instead, so a wrong email takes as long as a wrong password and
    /// timing does not tell whether an account exists.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ApiError> {
        let _turn = self.turn().await?;
        let checked = tokio::task::spawn_blocking(move || {
            let stored = phc.unwrap_or_else(|| DUMMY.get_or_init(|| hash_now("not a password of anyone").expect("hash")).clone());
            let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok::<_, anyhow::Error>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        });
        Ok(checked.await.map_err(anyhow::Error::from)??)
    }

    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(self.queue_wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::Overloaded { retry_after_secs: 1 }),
        }
    }
}

/// The argon2id PHC string of `password` with a fresh random salt, on the calling
/// thread: for the command line and tests.
pub fn hash_now(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing: {e}"))?.to_string())
}

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[cfg(test)]
mod tests {
    use super::Hasher;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hasher = Hasher::new(1, std::time::Duration::from_secs(1));
        let phc = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse battery".into(), Some(phc.clone())).await.unwrap());
        assert!(!hasher.verify("correct horse battery!".into(), Some(phc)).await.unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }
}
