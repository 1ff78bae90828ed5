//! Feeds arbitrary bytes to the sketch decoders (hll, ddsketch): they must return
//! errors, never panic, and whatever decodes must estimate and re-encode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_core::sketch::ddsketch::DDSketch;
use tally_core::sketch::hll::Hll;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Hll::from_bytes(data) {
        let _ = h.cardinality();
        assert_eq!(Hll::from_bytes(&h.to_bytes()).as_ref(), Ok(&h));
    }
    if let Ok(s) = DDSketch::from_bytes(data) {
        let _ = s.quantile(0.5);
        assert_eq!(DDSketch::from_bytes(&s.to_bytes()).as_ref(), Ok(&s));
    }
});
