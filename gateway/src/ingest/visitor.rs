//! Cookieless visitor ids: `siphash(daily salt, site, IP, user agent)`.
//!
//! The salt is a random 16-byte key per UTC day kept in `tally.salts`, created by the
//! first gateway that needs it (so several gateways agree) and deleted by
//! `tally.daily_salt` once it is two days old, after which nobody can recompute which
//! IP made which visitor id. The IP address itself is never stored.

use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::NaiveDate;
use deadpool_postgres::Pool;
use siphasher::sip::SipHasher13;

use crate::error::DbError;

/// Computes visitor ids, fetching each day's salt from Postgres once.
pub struct VisitorIds {
    pool: Pool,
    current: Mutex<Option<(NaiveDate, [u8; 16])>>,
}

impl VisitorIds {
    pub fn new(pool: Pool) -> Self {
        VisitorIds { pool, current: Mutex::new(None) }
    }

    /// The salt for `day`, from the cache or from `tally.daily_salt(day)`.
    pub async fn salt(&self, day: NaiveDate) -> Result<[u8; 16], DbError> {
        if let Some((d, salt)) = *self.current.lock().expect("salt cache poisoned") {
            if d == day {
                return Ok(salt);
            }
        }
        let client = self.pool.get().await?;
        let row = client.query_one("SELECT tally.daily_salt($1)", &[&day]).await?;
        let bytes: Vec<u8> = row.get(0);
        let salt: [u8; 16] = bytes.try_into().expect("tally.daily_salt returns 16 bytes");
        *self.current.lock().expect("salt cache poisoned") = Some((day, salt));
        Ok(salt)
    }
}

/// The visitor id for one client of one site under one day's salt.
pub fn visitor_id(salt: &[u8; 16], site_id: i32, ip: IpAddr, user_agent: &str) -> i64 {
    let (k0, k1) = salt.split_at(8);
    let mut h = SipHasher13::new_with_keys(
        u64::from_le_bytes(k0.try_into().expect("8 bytes")),
        u64::from_le_bytes(k1.try_into().expect("8 bytes")),
    );
    h.write(&site_id.to_le_bytes());
    match ip {
        IpAddr::V4(v4) => h.write(&v4.octets()),
        IpAddr::V6(v6) => h.write(&v6.octets()),
    }
    h.write(user_agent.as_bytes());
    h.finish() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_input() {
        let salt = [7u8; 16];
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let base = visitor_id(&salt, 1, ip, "ua");
        assert_eq!(base, visitor_id(&salt, 1, ip, "ua"));
        assert_ne!(base, visitor_id(&[8u8; 16], 1, ip, "ua"));
        assert_ne!(base, visitor_id(&salt, 2, ip, "ua"));
        assert_ne!(base, visitor_id(&salt, 1, "203.0.113.10".parse().unwrap(), "ua"));
        assert_ne!(base, visitor_id(&salt, 1, ip, "ua2"));
    }
}
