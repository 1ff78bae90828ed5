//! Feeds arbitrary bytes to the ingest body parsers (`POST /api/event`'s Plausible body,
//! `POST /api/v1/events`' JSON array or NDJSON) and to the spool file reader. Each must
//! answer Ok or a 4xx error naming a field, never panic; whatever parses must survive
//! its own enrichment steps. Run: `cd gateway && cargo +nightly fuzz run payload`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_gateway::error::ApiError;
use tally_gateway::ingest::encoded::EncodedBatch;
use tally_gateway::ingest::{batch, enrich, payload};

/// A fixed "now" inside the accepted range, so runs are reproducible.
const NOW_US: i64 = 1_750_000_000_000_000;

fn check_error(e: ApiError) {
    match e {
        ApiError::BadRequest { field, message } => assert!(!field.is_empty() && !message.is_empty()),
        ApiError::PayloadTooLarge => {}
        other => panic!("a parser answered {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => match payload::parse_event(input) {
            Ok(e) => {
                assert!(!e.domains.is_empty());
                let page = enrich::page_fields(&e.event.url, e.event.hash_mode);
                let _ = enrich::referrer_fields(e.event.referrer.as_ref(), &page.hostname, page.utm_source.as_deref());
            }
            Err(e) => check_error(e),
        },
        1 => match batch::parse_batch(input, NOW_US) {
            Ok(events) => {
                assert!(!events.is_empty() && events.len() <= batch::MAX_BATCH_EVENTS);
                for e in events {
                    assert!(e.ts.is_none_or(|ts| ts >= batch::MIN_TS_US && ts <= NOW_US + batch::MAX_FUTURE_US));
                    let _ = enrich::page_fields(&e.event.url, e.event.hash_mode);
                }
            }
            Err(e) => check_error(e),
        },
        _ => {
            let _ = EncodedBatch::from_file(input);
        }
    }
});
