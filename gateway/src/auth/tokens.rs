//! Secret tokens (session cookies, API keys): 256 random bits, hex, with a prefix naming
//! the kind (`ta_` API key; ingest keys are `tk_`). Postgres keeps only their SHA-256:
//! with 256 random bits a fast hash is as good as a slow one, and lookups stay one
//! index probe.

use sha2::{Digest, Sha256};

/// A new token: `prefix` followed by 64 hex digits from the operating system's CSPRNG
/// (through `rand`'s thread generator, reseeded from it).
pub fn generate(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The SHA-256 stored in place of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_distinct_and_prefixed() {
        let (a, b) = (super::generate("ta_"), super::generate("ta_"));
        assert!(a.starts_with("ta_") && a.len() == 67);
        assert_ne!(a, b);
        assert_ne!(super::hash(&a), super::hash(&b));
    }
}
