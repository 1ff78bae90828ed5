//! The property both payload fuzzers check, for one input: the cargo-fuzz target
//! (`fuzz_targets/payload.rs`, nightly) and the bounded run on stable that `./dev test`
//! makes (`gateway/tests/payload_fuzz.rs`). The first byte picks the parser: the
//! Plausible body of `POST /api/event`, the batch body of `POST /api/v1/events`, or the
//! spool file reader. Each must answer Ok or a 4xx error naming a field, never panic;
//! whatever parses must survive its enrichment steps, and every text it would store
//! must be text Postgres takes (no NUL) with no control character in a name or key.

use tally_gateway::error::ApiError;
use tally_gateway::ingest::encoded::EncodedBatch;
use tally_gateway::ingest::payload::IncomingEvent;
use tally_gateway::ingest::{batch, enrich, payload};

/// A fixed "now", so runs are reproducible.
pub const NOW_US: i64 = 1_750_000_000_000_000;
const HORIZON: batch::Horizon = batch::Horizon { now_us: NOW_US, max_age_days: 730 };

fn check_error(e: ApiError) {
    match e {
        ApiError::BadRequest { field, message } => assert!(!field.is_empty() && !message.is_empty()),
        ApiError::PayloadTooLarge => {}
        other => panic!("a parser answered {other:?}"),
    }
}

/// The event's stored text: what Postgres would refuse or what would make a dimension
/// print like another is not there.
fn check_event(e: &IncomingEvent) {
    assert!(!e.name.chars().any(char::is_control), "name {:?}", e.name);
    for (k, v) in &e.props {
        assert!(!k.chars().any(char::is_control), "property key {k:?}");
        assert!(!v.contains('\0'), "property value {v:?}");
    }
    let page = enrich::page_fields(&e.url, e.hash_mode);
    let referrer = enrich::referrer_fields(e.referrer.as_ref(), &page.hostname, page.utm_source.as_deref());
    let texts = [&page.utm_source, &page.utm_medium, &page.utm_campaign, &page.utm_term, &page.utm_content, &referrer.referrer];
    for text in [Some(&page.hostname), Some(&page.pathname)].into_iter().chain(texts.into_iter().map(Option::as_ref)).flatten() {
        assert!(!text.chars().any(char::is_control), "a URL-derived value {text:?}");
    }
}

pub fn check(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => match payload::parse_event(input) {
            Ok(e) => {
                assert!(!e.domains.is_empty());
                assert!(e.domains.iter().all(|d| !d.chars().any(char::is_control)));
                check_event(&e.event);
            }
            Err(e) => check_error(e),
        },
        1 => match batch::parse_batch(input, HORIZON) {
            Ok(events) => {
                assert!(!events.is_empty() && events.len() <= batch::MAX_BATCH_EVENTS);
                for e in events {
                    match e {
                        Ok(e) => {
                            let oldest = NOW_US - i64::from(HORIZON.max_age_days) * 86_400_000_000;
                            assert!(e.ts.is_none_or(|ts| ts >= oldest && ts <= NOW_US + batch::MAX_FUTURE_US));
                            assert!(e.id.iter().chain(&e.user_agent).all(|s| !s.chars().any(char::is_control)));
                            check_event(&e.event);
                        }
                        Err(e) => check_error(e),
                    }
                }
            }
            Err(e) => check_error(e),
        },
        _ => {
            let _ = EncodedBatch::from_file(input);
        }
    }
}
