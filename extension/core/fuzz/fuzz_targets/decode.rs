//! Feeds arbitrary bytes to every decoder: the first byte picks which. Decoders must
//! return errors, never panic, overflow or allocate without bound.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_core::codec::{bitpack, block, delta, dict, frame, ints, props, rle};
use tally_core::event::COLUMNS;
use tally_core::segment::SegmentReader;

fn segment(bytes: &[u8]) {
    if let Ok(reader) = SegmentReader::open(bytes) {
        for column in COLUMNS {
            let _ = reader.column(column);
        }
        let _ = reader.events();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 12 {
        0 => segment(input),
        // A valid magic and checksum around fuzzed bytes, so the parser behind the
        // checksum gets exercised too.
        1 => {
            let mut bytes = b"TLYS".to_vec();
            bytes.extend_from_slice(input);
            let crc = crc32fast::hash(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
            segment(&bytes);
        }
        2 => drop(bitpack::decode(input)),
        3 => drop(bitpack::decode_u32(input)),
        4 => drop(frame::decode(input)),
        5 => drop(delta::decode(input)),
        6 => drop(delta::decode_dod(input)),
        7 => drop(rle::decode(input)),
        8 => drop(ints::decode(input)),
        9 => drop(block::decompress(input)),
        10 => drop(dict::decode(input)),
        _ => drop(props::decode(input)),
    }
});
