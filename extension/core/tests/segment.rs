//! Segment round trips over arbitrary events, and corruption handling.

use proptest::prelude::*;
use tally_core::event::{Event, COLUMNS};
use tally_core::segment::{build, Column, SegmentError, SegmentReader};

/// Strings that exercise the dictionary: empty, shared, unicode and arbitrary.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("/".to_owned()), Just("Zürich 東京 🚀".to_owned()), "[a-c]{1,3}", any::<String>(),]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), text().prop_map(Some)]
}

/// Ids from a small pool so visits and visitors form runs, plus the extremes.
fn id() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..4, Just(i64::MIN), Just(i64::MAX), any::<i64>()]
}

fn opt_i32() -> impl Strategy<Value = Option<i32>> {
    prop_oneof![Just(None), Just(Some(i32::MIN)), Just(Some(i32::MAX)), any::<i32>().prop_map(Some)]
}

fn event() -> impl Strategy<Value = Event> {
    let keys = (any::<i32>(), any::<i64>(), text(), id(), id(), text(), text());
    let traffic = (opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text());
    let client = (opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text());
    let numbers = (
        opt_i32(),
        opt_i32(),
        prop_oneof![Just(None), Just(Some(i64::MIN)), any::<i64>().prop_map(Some)],
        opt_text(),
        proptest::collection::vec((text(), text()), 0..3),
        (opt_i32(), proptest::option::of(any::<bool>()), opt_text()),
    );
    (keys, traffic, client, numbers).prop_map(|(k, t, c, n)| Event {
        site_id: k.0,
        ts: k.1,
        name: k.2,
        visitor_id: k.3,
        session_id: k.4,
        hostname: k.5,
        pathname: k.6,
        referrer: t.0,
        referrer_source: t.1,
        utm_source: t.2,
        utm_medium: t.3,
        utm_campaign: t.4,
        utm_term: t.5,
        utm_content: t.6,
        country: c.0,
        region: c.1,
        city: c.2,
        browser: c.3,
        browser_version: c.4,
        os: c.5,
        os_version: c.6,
        device: c.7,
        screen_width: n.0,
        engagement_ms: n.1,
        revenue_micros: n.2,
        revenue_currency: n.3,
        props: n.4,
        scroll_depth: n.5 .0,
        interactive: n.5 .1,
        channel: n.5 .2,
    })
}

/// Events in the order a segment stores them.
fn storage_order(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| (e.visitor_id, e.session_id, e.ts));
    events
}

/// Visits whose per-visit fields really are constant, so session and visitor levels
/// are exercised rather than always falling back to rows.
fn visits() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((event(), 1usize..5), 0..12).prop_map(|visits| {
        visits
            .into_iter()
            .flat_map(|(visit, len)| {
                (0..len).map(move |i| Event { ts: visit.ts.wrapping_add(i as i64 * 1_000_000), pathname: format!("/{i}"), ..visit.clone() })
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_events_round_trip(events in proptest::collection::vec(event(), 0..40)) {
        let segment = build(&events).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        prop_assert_eq!(reader.rows(), events.len());
        prop_assert_eq!(reader.events().unwrap(), storage_order(events));
    }

    #[test]
    fn visits_round_trip(events in visits()) {
        let segment = build(&events).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        prop_assert_eq!(reader.events().unwrap(), storage_order(events));
    }

    #[test]
    fn flipped_bits_are_detected(events in proptest::collection::vec(event(), 1..6), pos: usize, bit in 0u8..8) {
        let mut bytes = build(&events).unwrap().bytes;
        let pos = pos % bytes.len();
        bytes[pos] ^= 1 << bit;
        prop_assert!(SegmentReader::open(&bytes).is_err());
    }

    /// With the checksum recomputed, corrupt bodies reach the parser: it must fail
    /// cleanly or decode something, never panic.
    #[test]
    fn corrupt_bodies_with_valid_checksum_never_panic(events in visits(), pos: usize, byte: u8) {
        let mut bytes = build(&events).unwrap().bytes;
        let body_len = bytes.len() - 4;
        bytes[pos % body_len] = byte;
        let crc = crc32fast::hash(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(&crc.to_le_bytes());
        if let Ok(reader) = SegmentReader::open(&bytes) {
            let _ = reader.events();
        }
    }
}

#[test]
fn zero_and_one_row_segments() {
    for events in [vec![], vec![Event::default()]] {
        let segment = build(&events).unwrap();
        let reader = SegmentReader::open(&segment.bytes).unwrap();
        assert_eq!(reader.events().unwrap(), events);
        assert_eq!(reader.zone(), segment.zone);
    }
}

#[test]
fn every_truncation_is_an_error() {
    let events: Vec<Event> = (0..50)
        .map(|i| Event { ts: i, visitor_id: i / 7, session_id: i / 3, pathname: format!("/p{}", i % 5), ..Event::default() })
        .collect();
    let bytes = build(&events).unwrap().bytes;
    for cut in 0..bytes.len() {
        assert!(SegmentReader::open(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn only_requested_columns_are_decoded_and_typed() {
    let events = vec![
        Event { ts: 5, pathname: "/b".into(), screen_width: Some(1280), ..Event::default() },
        Event { ts: 9, visitor_id: 1, pathname: "/a".into(), ..Event::default() },
    ];
    let segment = build(&events).unwrap();
    assert_eq!((segment.zone.ts_min, segment.zone.ts_max, segment.zone.rows), (5, 9, 2));
    let reader = SegmentReader::open(&segment.bytes).unwrap();
    let columns = reader.columns(&["pathname", "screen_width"]).unwrap();
    let Column::Str(paths) = &columns[0] else { panic!("pathname is a string column") };
    assert_eq!(paths.dict, ["/a", "/b"]);
    assert_eq!(paths.codes, [2, 1]);
    let Column::Int(widths) = &columns[1] else { panic!("screen_width is an integer column") };
    assert_eq!((widths.get(0), widths.get(1)), (Some(1280), None));
    assert_eq!(reader.column("nope"), Err(SegmentError::UnknownColumn("nope".into())));
    assert_eq!(reader.column_sizes().len(), COLUMNS.len() + 1);
}

#[test]
fn foreign_bytes_are_not_a_segment() {
    assert_eq!(SegmentReader::open(b"hello world").unwrap_err(), SegmentError::BadMagic);
    assert_eq!(SegmentReader::open(&[]).unwrap_err(), SegmentError::BadMagic);
}
