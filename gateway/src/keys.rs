//! Ingest keys: `Authorization: Bearer <key>` on the batch API names the site the events
//! belong to. Postgres keeps only SHA-256 hashes of keys (`tally.ingest_keys`); the
//! gateway hashes what it is given and looks the hash up, caching answers (found or
//! not) for [`CACHE_TTL`] so a busy sender costs one query per TTL, not per request.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::error::DbError;
use crate::sites::Site;

/// How long a key lookup is reused: also how long a revoked key keeps working.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Cached answers beyond this many are forgotten all at once, bounding the memory a
/// flood of made-up keys can take.
const MAX_CACHED: usize = 10_000;

/// A lookup's answer (the key's site, or none) and when it was made.
type Cached = (Option<Site>, Instant);

pub struct IngestKeys {
    pool: Pool,
    /// By SHA-256 of the key.
    cache: RwLock<HashMap<[u8; 32], Cached>>,
}

impl IngestKeys {
    pub fn new(pool: Pool) -> Self {
        IngestKeys { pool, cache: RwLock::new(HashMap::new()) }
    }

    /// The site of an active key, or `None` for an unknown or revoked one.
    pub async fn site_for(&self, key: &str) -> Result<Option<Site>, DbError> {
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let cached = self.cache.read().expect("key cache poisoned").get(&hash).cloned();
        if let Some((site, at)) = &cached {
            if at.elapsed() < CACHE_TTL {
                return Ok(site.clone());
            }
        }
        match self.lookup(&hash).await {
            Ok(site) => Ok(site),
            // While Postgres is unreachable a known key keeps working, so its events reach
            // the disk spool instead of being refused.
            Err(e) if e.is_transient() => cached.map(|(site, _)| site).ok_or(e),
            Err(e) => Err(e),
        }
    }

    async fn lookup(&self, hash: &[u8; 32]) -> Result<Option<Site>, DbError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT s.site_id, s.domain, s.timezone FROM tally.ingest_keys k JOIN tally.sites s USING (site_id) \
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                &[&hash.as_slice()],
            )
            .await?;
        let site = row.map(|r| Site { site_id: r.get(0), domain: r.get(1), timezone: r.get(2) });
        let mut cache = self.cache.write().expect("key cache poisoned");
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(*hash, (site.clone(), Instant::now()));
        Ok(site)
    }
}
