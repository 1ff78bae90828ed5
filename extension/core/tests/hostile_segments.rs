//! Segment bytes from an attacker: any role may hand `tally.segment_arrays` whatever
//! bytes it likes, so decoding must fail or succeed within bounded memory, and what
//! writing rows out would cost must be known before it is attempted.
//!
//! This file has its own allocator, counting the most bytes live at once, so each test
//! measures what decoding allocates rather than trusting it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use proptest::prelude::*;
use tally_core::event::{Event, COLUMNS};
use tally_core::segment::{build, SegmentReader};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests measure one at a time: the counters are process-wide.
static MEASURING: Mutex<()> = Mutex::new(());

/// Most bytes live at once while `work` runs, beyond those live before.
fn peak_of(work: impl FnOnce()) -> usize {
    let _one = MEASURING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    work();
    PEAK.load(Ordering::Relaxed) - before
}

/// What decoding any bytes may allocate at most: a column of the most rows a segment
/// holds (4M 8-byte values, a validity byte each and the visit structure), plus what
/// zstd may inflate the input to. Gigabytes would mean a length read from the bytes
/// was trusted.
fn bound(input: usize) -> usize {
    (4 << 20) * 32 + input * 1024 + (1 << 20)
}

/// Decodes every column of `bytes` one at a time, as `tally.segment_arrays` measures
/// them, and returns the bytes they would take written out.
fn decode_all(bytes: &[u8]) -> Option<usize> {
    let reader = SegmentReader::open(bytes).ok()?;
    let mut total = 0usize;
    for name in COLUMNS {
        total = total.saturating_add(reader.column(name).ok()?.materialized_bytes(8));
    }
    Some(total)
}

/// `body` behind a valid magic and ahead of a valid checksum, so it reaches the parser.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut bytes = b"TLYS".to_vec();
    bytes.extend_from_slice(body);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

fn sample() -> Vec<u8> {
    let events: Vec<Event> = (0..200)
        .map(|i| Event {
            ts: i * 1_000_000,
            visitor_id: i / 9,
            session_id: i / 3,
            name: "pageview".into(),
            pathname: format!("/p{}", i % 7),
            props: vec![("plan".into(), format!("{}", i % 3))],
            ..Event::default()
        })
        .collect();
    build(&events).unwrap().bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bodies behind a valid checksum: an error or a decode, within the bound.
    #[test]
    fn random_bodies_decode_within_bounded_memory(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let bytes = sealed(&body);
        let peak = peak_of(|| {
            decode_all(&bytes);
        });
        prop_assert!(peak <= bound(bytes.len()), "{peak} bytes for {} input bytes", bytes.len());
    }

    /// A real segment with bytes overwritten, inserted or removed, resealed: the
    /// lengths and counts in its header and blocks take any value.
    #[test]
    fn mutated_segments_decode_within_bounded_memory(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let sample = sample();
        let mut body = sample[4..sample.len() - 4].to_vec();
        for (pos, byte, how) in edits {
            let pos = pos % (body.len() + 1);
            match how {
                0 if pos < body.len() => body[pos] = byte,
                1 => body.insert(pos, byte),
                _ if pos < body.len() => drop(body.remove(pos)),
                _ => body.push(byte),
            }
        }
        let bytes = sealed(&body);
        let peak = peak_of(|| {
            decode_all(&bytes);
        });
        prop_assert!(peak <= bound(bytes.len()), "{peak} bytes for {} input bytes", bytes.len());
    }
}

/// Large varints where the header keeps its row count: the most rows a segment may
/// hold is refused past, whatever the bytes claim.
#[test]
fn a_header_claiming_too_many_rows_is_refused_before_allocating() {
    for rows in [u64::from(u32::MAX), 1 << 40, u64::MAX >> 1] {
        let mut body = vec![1u8]; // version
        let mut v = rows;
        while v >= 0x80 {
            body.push((v as u8) | 0x80);
            v >>= 7;
        }
        body.push(v as u8);
        body.extend_from_slice(&[0; 16]);
        let bytes = sealed(&body);
        let peak = peak_of(|| assert!(SegmentReader::open(&bytes).is_err(), "{rows} rows accepted"));
        assert!(peak < 1 << 20, "{peak} bytes allocated to refuse {rows} rows");
    }
}

/// A segment of many rows of one long string is small, since its dictionary holds
/// the string once; written out as rows it is the rows times the string. That is what
/// a crafted input uses to ask for gigabytes, and what is measured before.
#[test]
fn rows_of_one_long_string_are_measured_before_they_are_written_out() {
    let long = "/".to_owned() + &"x".repeat(4_095);
    let rows = 20_000;
    let events: Vec<Event> = (0..rows).map(|i| Event { ts: i, pathname: long.clone(), ..Event::default() }).collect();
    let bytes = build(&events).unwrap().bytes;
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    let reader = SegmentReader::open(&bytes).unwrap();
    let mut measured = 0;
    let peak = peak_of(|| measured = reader.column("pathname").unwrap().materialized_bytes(8));
    assert_eq!(measured, rows as usize * (long.len() + 8));
    assert!(peak < rows as usize * 16, "measuring allocated {peak} bytes");
}
