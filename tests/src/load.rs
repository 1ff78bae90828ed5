//! Steady ingest for the failure tests (a Postgres outage, a failover): senders post
//! batches through `POST /api/v1/events`, every event with a unique `k` property, and
//! remember which requests were acknowledged and when; afterwards every acknowledged
//! event must be stored exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio_postgres::Client;

/// Events per request: a server-side sender's batch.
pub const PER_REQUEST: usize = 20;

/// What the senders learned.
#[derive(Default, Clone)]
pub struct Outcomes {
    /// Event key → whether its request was acknowledged (202).
    pub events: HashMap<String, bool>,
    /// When each acknowledgement arrived.
    pub acks: Vec<Instant>,
}

impl Outcomes {
    pub fn acknowledged(&self) -> usize {
        self.events.values().filter(|a| **a).count()
    }

    /// The longest wait between two acknowledgements from `since` on.
    pub fn longest_ack_gap(&self, since: Instant) -> Duration {
        let mut times: Vec<Instant> = self.acks.iter().copied().filter(|t| *t >= since).collect();
        times.sort();
        times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
    }
}

pub type SharedOutcomes = Arc<Mutex<Outcomes>>;

/// Sends batches to the gateway at `base` with ingest key `key` until `stop`; half of
/// the events also carry an event id, half rely on batch idempotency alone.
pub async fn sender(
    n: usize,
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    key: String,
    outcomes: SharedOutcomes,
    mut stop: watch::Receiver<bool>,
) {
    let mut seq = 0usize;
    while !*stop.borrow() {
        let keys: Vec<String> = (0..PER_REQUEST).map(|i| format!("s{n}-{seq}-{i}")).collect();
        seq += 1;
        let events: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut e = json!({"name": "pageview", "url": format!("https://d.example/{k}"), "props": {"k": k}});
                if i % 2 == 0 {
                    e["id"] = json!(k);
                }
                e
            })
            .collect();
        // Unknown until answered: an event whose request was cut off may be stored or not.
        outcomes.lock().unwrap().events.extend(keys.iter().map(|k| (k.clone(), false)));
        let url = format!("{}/api/v1/events", base.lock().unwrap());
        let send = http.post(url).bearer_auth(&key).json(&events).timeout(Duration::from_secs(20)).send();
        let acked = tokio::select! {
            r = send => matches!(r, Ok(resp) if resp.status() == 202),
            _ = stop.changed() => return,
        };
        {
            let mut o = outcomes.lock().unwrap();
            o.events.extend(keys.into_iter().map(|k| (k, acked)));
            if acked {
                o.acks.push(Instant::now());
            }
        }
        if !acked {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits (a minute at most) until every acknowledged event is in `tally.events`, then
/// asserts that each is stored exactly once and that nothing unsent is; returns how
/// many events were acknowledged.
pub async fn assert_stored_exactly_once(db: &Client, outcomes: &Outcomes) -> usize {
    let acked_keys: Vec<&String> = outcomes.events.iter().filter(|(_, a)| **a).map(|(k, _)| k).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts: HashMap<String, i64> = loop {
        let rows = db.query("SELECT props->>'k', count(*) FROM tally.events WHERE props ? 'k' GROUP BY 1", &[]).await.unwrap();
        let counts: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        if acked_keys.iter().all(|k| counts.contains_key(*k)) || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing = acked_keys.iter().filter(|k| !counts.contains_key(**k)).count();
    let duplicated: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    let unknown = counts.keys().filter(|k| !outcomes.events.contains_key(*k)).count();
    assert_eq!(missing, 0, "acknowledged events missing ({} acknowledged)", acked_keys.len());
    assert!(duplicated.is_empty(), "events stored twice: {:?}", &duplicated[..duplicated.len().min(5)]);
    assert_eq!(unknown, 0);
    eprintln!("{} events acknowledged, {} sent, {} stored", acked_keys.len(), outcomes.events.len(), counts.len());
    acked_keys.len()
}
