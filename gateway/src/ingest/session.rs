//! Visits: a visitor's events belong to one session until 30 minutes pass without an
//! event. The gateway keeps the open sessions in memory.
//!
//! Several gateway processes: the visitor id is the same whichever gateway computes it
//! (the daily salt lives in Postgres), but open sessions are per process. Run them behind
//! a load balancer that routes by client address (nginx `hash $remote_addr consistent`,
//! HAProxy `balance source`), so a visitor's events meet the same session map; visitor
//! ids are per IP, so this is exactly the stickiness needed. If a gateway dies or the
//! pool changes, a visit in flight is split in two at that moment, never merged with
//! another visitor's. Entry page, exit page and bounce are not stored: they are derived
//! at query time from the events of a `session_id` ordered by `ts`, so they stay right
//! whichever gateway wrote which event.

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
            open.retain(|_, s| (ts - s.last_ts).abs() <= SESSION_TIMEOUT_US);
        }
        let entry = open.entry((site_id, visitor_id)).or_insert(OpenSession { id: rand::random(), last_ts: ts });
        // Backfilled events may run backwards in time: a gap either way ends the visit.
        if (ts - entry.last_ts).abs() > SESSION_TIMEOUT_US {
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
        // A backfilled event an hour before the visit starts its own visit.
        let live = s.session_id(3, 9, 10 * SESSION_TIMEOUT_US);
        assert_ne!(live, s.session_id(3, 9, 8 * SESSION_TIMEOUT_US));
    }
}
