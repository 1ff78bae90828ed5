//! In-memory rate limits of one gateway (GCRA, `governor`): sign-in attempts per client
//! address and requests per API key. The per-account lockout lives in Postgres instead
//! (`users::Lockout`), so it holds across gateways.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AuthConfig;
use crate::error::ApiError;

/// Keys remembered before idle ones are forgotten: bounds the memory a flood of
/// addresses or made-up keys can take.
const MAX_KEYS: usize = 100_000;

pub struct Limits {
    login: DefaultKeyedRateLimiter<IpAddr>,
    api_key: DefaultKeyedRateLimiter<i32>,
}

impl Limits {
    pub fn new(config: &AuthConfig) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"));
        Limits {
            login: RateLimiter::keyed(per_minute(config.login_attempts_per_minute)),
            api_key: RateLimiter::keyed(per_minute(config.api_key_requests_per_minute)),
        }
    }

    /// One sign-in attempt (or password check) from `ip`; 429 + Retry-After past the limit.
    pub fn login(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.login, ip)
    }

    /// One request with API key `key_id`; 429 + Retry-After past the limit.
    pub fn api_key(&self, key_id: i32) -> Result<(), ApiError> {
        check(&self.api_key, key_id)
    }
}

fn check<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: K) -> Result<(), ApiError> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::TooManyRequests { retry_after_secs: wait.as_secs_f64().ceil() as u64 }
    })
}
