//! Visits: a visitor's events belong to one session until 30 minutes pass without an
//! event. The gateway keeps the open sessions in memory; with several gateways behind a
//! load balancer, route by client address (visitor ids are per IP) so each visitor's
//! events meet the same tracker.

use std::collections::HashMap;
use std::sync::Mutex;

/// A visit ends after this much inactivity: the convention of GA, Plausible and Matomo.
pub const SESSION_TIMEOUT_US: i64 = 30 * 60 * 1_000_000;

/// Open sessions beyond this many trigger a sweep of expired ones, bounding memory to
/// the visitors active in the last half hour.
const SWEEP_THRESHOLD: usize = 100_000;

#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<(i32, i64), OpenSession>>,
}

#[derive(Clone, Copy)]
struct OpenSession {
    id: i64,
    last_ts: i64,
}

impl Sessions {
    /// The session id for an event of `visitor_id` on `site_id` at `ts` (µs), opening a new
    /// visit if the last one timed out.
    pub fn session_id(&self, site_id: i32, visitor_id: i64, ts: i64) -> i64 {
        let mut open = self.open.lock().expect("session map poisoned");
        if open.len() >= SWEEP_THRESHOLD {
            open.retain(|_, s| ts - s.last_ts <= SESSION_TIMEOUT_US);
        }
        let entry = open.entry((site_id, visitor_id)).or_insert(OpenSession { id: rand::random(), last_ts: ts });
        if ts - entry.last_ts > SESSION_TIMEOUT_US {
            *entry = OpenSession { id: rand::random(), last_ts: ts };
        }
        entry.last_ts = entry.last_ts.max(ts);
        entry.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_ends_after_thirty_idle_minutes() {
        let s = Sessions::default();
        let first = s.session_id(1, 9, 0);
        assert_eq!(first, s.session_id(1, 9, SESSION_TIMEOUT_US));
        assert_eq!(first, s.session_id(1, 9, 2 * SESSION_TIMEOUT_US));
        assert_ne!(first, s.session_id(1, 9, 3 * SESSION_TIMEOUT_US + 1));
        assert_ne!(s.session_id(2, 9, 0), s.session_id(1, 9, 3 * SESSION_TIMEOUT_US + 1));
    }
}
