//! The ingest payload fuzz property (`fuzz/payload_check.rs`) run on stable Rust for a
//! bounded time, so `./dev test` exercises it without cargo-fuzz (which needs nightly
//! for its sanitizer flags). proptest generates the inputs: valid bodies of both
//! endpoints and spool files, mutated with the tokens that break parsers and databases
//! (`\u0000`, `%00`, lone surrogates, control characters, huge numbers, stray quotes),
//! and plain random bytes; a failure is shrunk to a small input and reported. The run
//! lasts `TALLY_FUZZ_SECONDS` (60 by default), round after round of fresh cases.

#[path = "../fuzz/payload_check.rs"]
mod payload_check;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Valid bodies to mutate: each parser's happy paths, so mutations reach deep.
const SEEDS: &[&str] = &[
    r#"{"name":"pageview","url":"https://a.com/x?utm_source=news&utm_campaign=c#h","domain":"a.com","referrer":"https://g.com/","props":{"k":"v","n":3,"b":true},"revenue":{"amount":"1.5","currency":"EUR"},"interactive":false,"w":1280,"h":1}"#,
    r#"{"n":"Signup","u":"app://shop/cart","d":"a.com,b.com","r":"","p":"{\"plan\":\"pro\"}","$":{"amount":2,"currency":"usd"}}"#,
    r#"[{"name":"a","url":"https://a.com/","id":"e1","timestamp":"2025-06-01T10:00:00Z","user_agent":"Mozilla/5.0","ip":"203.0.113.7"},{"name":"b","url":"https://a.com/?ref=x","timestamp":1748772000000,"props":{"k":"v"}}]"#,
    "{\"name\":\"a\",\"url\":\"https://a.com/\"}\n{\"name\":\"b\",\"url\":\"https://a.com/p?utm_term=t\",\"id\":\"x\"}\n",
];

/// What mutations insert.
const TOKENS: &[&str] = &[
    "\\u0000",
    "%00",
    "%FF",
    "%0A",
    "\\ud800",
    "\\udc00",
    "\\u001b",
    "\u{1b}",
    "\u{85}",
    "\0",
    "\\",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "1e999",
    "-1",
    "99999999999999999999",
    "\n",
    "\r\n",
    "null",
    "true",
    "\u{fffd}",
    "ä",
    "%",
    "#",
    "?",
    "//",
    "app:",
];

fn seed() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::sample::select(SEEDS).prop_map(|s| s.as_bytes().to_vec()),
        // A spool file, so the reader sees the right magic and lengths to mutate.
        Just(spool_file()),
    ]
}

fn spool_file() -> Vec<u8> {
    let event = tally_core::event::Event { site_id: 1, ts: payload_check::NOW_US, name: "pageview".into(), ..Default::default() };
    tally_gateway::ingest::encoded::EncodedBatch::encode([(&event, Some("id"))]).to_file()
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, &'static str),
    Replace(usize, u8),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), proptest::sample::select(TOKENS)).prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Insert(at, token) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Replace(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            Mutation::Delete(at, n) if !bytes.is_empty() => {
                let at = at % len;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            _ => {}
        }
    }
    bytes
}

/// The selector byte (which parser) and the input.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        3 => (seed(), proptest::collection::vec(mutation(), 0..6)).prop_map(|(s, m)| mutate(s, &m)),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ];
    (any::<u8>(), body).prop_map(|(selector, body)| {
        // Mostly the parser the seed was written for: a spool file starts with "TLYB",
        // a batch with '['.
        let selector = match body.first() {
            Some(b'T') => 2,
            Some(b'[') => 1,
            _ => selector,
        };
        std::iter::once(selector).chain(body).collect()
    })
}

/// Inputs per round; the deadline is checked between rounds.
const CASES_PER_ROUND: u32 = 2_000;

#[test]
fn ingest_payload_parsers_hold_for_a_bounded_run() {
    let seconds: u64 = std::env::var("TALLY_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let strategy = input();
    let mut rounds = 0u64;
    while rounds == 0 || Instant::now() < deadline {
        // A runner stops after `cases` successes, so each round has a fresh one (with a
        // fresh random seed).
        TestRunner::new(Config { cases: CASES_PER_ROUND, failure_persistence: None, ..Config::default() })
            .run(&strategy, |data| {
                payload_check::check(&data);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        rounds += 1;
    }
    eprintln!("{} inputs in {seconds} s", rounds * u64::from(CASES_PER_ROUND));
}
