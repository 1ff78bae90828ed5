//! Feeds arbitrary bytes to the ingest body parsers and the spool file reader; the
//! property is `payload_check.rs`, shared with the bounded stable run of `./dev test`
//! (`gateway/tests/payload_fuzz.rs`). Run: `cd gateway && cargo +nightly fuzz run payload`.

#![no_main]

#[path = "../payload_check.rs"]
mod payload_check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payload_check::check(data));
