//! Who is calling, and as which Postgres role their SQL runs.
//!
//! The gateway authenticates (a session cookie or an API key, checked against hashes in
//! `tally.sessions` / `tally.api_keys`); Postgres authorizes: every request's SQL runs in
//! a transaction under `SET LOCAL ROLE <the user's role>` ([`Caller::transaction`]), where
//! row-level security and grants decide what the user may see and do (sql/auth.sql).

pub mod api_keys;
pub mod audit;
pub mod caller;
pub mod client_ip;
pub mod limits;
pub mod password;
pub mod sessions;
pub mod share_links;
pub mod share_panels;
pub mod tokens;
pub mod users;

pub use caller::{Caller, Credential, User};

use std::time::Duration;

use deadpool_postgres::Pool;

use crate::config::AuthConfig;

/// Everything the gateway keeps for authentication.
pub struct Auth {
    pub sessions: sessions::Sessions,
    pub api_keys: api_keys::ApiKeys,
    pub share_links: share_links::ShareLinks,
    pub limits: limits::Limits,
    pub hasher: password::Hasher,
    pub config: AuthConfig,
}

impl Auth {
    pub fn new(pool: Pool, config: AuthConfig) -> Self {
        Auth {
            sessions: sessions::Sessions::new(pool.clone(), Duration::from_secs(u64::from(config.session_ttl_hours) * 3600)),
            api_keys: api_keys::ApiKeys::new(pool.clone()),
            share_links: share_links::ShareLinks::new(pool),
            limits: limits::Limits::new(&config),
            hasher: password::Hasher::new(config.max_password_hashes, Duration::from_millis(config.password_hash_wait_ms)),
            config,
        }
    }
}
