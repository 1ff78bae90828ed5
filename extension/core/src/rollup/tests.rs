//! Rollup rows of hand-made visits, checked figure by figure, and the same rows
//! whatever order and split (segments or hot rows) the events arrive in.

use proptest::prelude::*;

use super::*;
use crate::event::Event;
use crate::segment::{self, SegmentReader};
use crate::sketch::hash::hash_bigint;

const MINUTE: i64 = 60_000_000;
/// 2024-03-30 10:00 UTC.
const T0: i64 = 1_711_792_800_000_000;

fn ev(minute: i64, session: i64, name: &str, path: &str) -> Event {
    Event {
        site_id: 1,
        ts: T0 + minute * MINUTE,
        name: name.into(),
        visitor_id: session * 10,
        session_id: session,
        pathname: path.into(),
        country: Some("DE".into()),
        ..Event::default()
    }
}

fn rows_of(hours: Hours, events: &[Event]) -> Vec<Row> {
    let mut b = Builder::new(hours);
    b.add_events(events);
    b.finish()
}

fn find<'a>(rows: &'a [Row], hour: i64, dimension: &str, value: Option<&str>) -> &'a Row {
    rows.iter()
        .find(|r| r.hour == hour && r.dimension == dimension && r.value.as_deref() == value)
        .unwrap_or_else(|| panic!("no row {hour} {dimension} {value:?}"))
}

/// Two hours from T0, the window from T0 - 30 min to T0 + 4 h.
fn two_hours() -> Hours {
    Hours::overlapping(T0, T0 + 2 * HOUR_US)
}

#[test]
fn hours_cover_the_range_like_sql() {
    assert_eq!(Hours::overlapping(T0 + 1, T0 + HOUR_US + 1), Hours { lo: T0, hi: T0 + 2 * HOUR_US });
    assert_eq!(Hours::overlapping(T0, T0 + HOUR_US), Hours { lo: T0, hi: T0 + HOUR_US });
    assert_eq!(Hours::overlapping(T0 + 5, T0 + 5), Hours { lo: T0, hi: T0 + HOUR_US });
    assert!(Hours::overlapping(T0 + 3 * HOUR_US, T0).is_empty());
    assert_eq!(hour_of(-1), -HOUR_US);
    assert_eq!(two_hours().window(), (T0 - 30 * MINUTE, T0 + 4 * HOUR_US));
}

#[test]
fn a_visit_across_an_hour_counts_its_events_per_hour_and_itself_once() {
    let mut engaged = ev(70, 1, "engagement", "/b");
    engaged.engagement_ms = Some(4_000);
    let events = [ev(50, 1, "pageview", "/a"), ev(65, 1, "pageview", "/b"), engaged, ev(5, 2, "pageview", "/a")];
    let rows = rows_of(two_hours(), &events);
    let first = find(&rows, T0, "total", None);
    assert_eq!((first.acc.events, first.acc.pageviews, first.acc.visits, first.acc.bounces), (2, 2, 2, 1));
    assert_eq!((first.acc.duration_us, first.acc.visit_pageviews, first.open_visits), (20 * MINUTE as u64, 3, 0));
    assert_eq!(first.visit_durations.as_ref().map(|s| s.count()), Some(2));
    assert_eq!((first.acc.engagement_ms, first.engagement_times.is_none()), (0, true));
    let second = find(&rows, T0 + HOUR_US, "total", None);
    // The engagement event adds its time but is no event of its own (nor an interaction).
    assert_eq!((second.acc.events, second.acc.pageviews, second.acc.visits, second.acc.engagement_ms), (1, 1, 0, 4_000));
    assert!(second.visit_durations.is_none());
    assert_eq!(second.engagement_times.as_ref().map(|s| s.count()), Some(1));
    // Visit 1 saw /b at 11:05, but the visit belongs to 10:00: a visits-only row.
    let b = find(&rows, T0, "page", Some("/b"));
    assert_eq!((b.acc.events, b.acc.visits, b.acc.bounces), (0, 1, 0));
    assert_eq!(b.visitors, Hll::new(VISITOR_PARAMS));
    // Entry page is the visit's, for all its events in any hour.
    assert_eq!(find(&rows, T0 + HOUR_US, "entry_page", Some("/a")).acc.pageviews, 1);
    assert_eq!(find(&rows, T0, "event", Some("pageview")).acc.visits, 2);
    let engagement = find(&rows, T0 + HOUR_US, "event", Some("engagement"));
    assert_eq!(engagement.acc.engagement_ms, 4_000);
    // Quantile sketches only on total rows: per value they cost more than the counts.
    assert!(engagement.engagement_times.is_none() && find(&rows, T0, "page", Some("/a")).visit_durations.is_none());
    assert!(rows.iter().all(|r| r.dimension == "total" || (r.visit_durations.is_none() && r.engagement_times.is_none())));
    assert_eq!(find(&rows, T0, "source", None).acc.visits, 2);
    assert_eq!(find(&rows, T0, "country", Some("DE")).acc.events, 2);
    assert_eq!(find(&rows, T0, "country", Some("DE")).mixed_visits, 0);
    assert_eq!(find(&rows, T0, "page", Some("/a")).mixed_visits, 1, "visit 1 saw /a and /b");
}

#[test]
fn non_interactive_events_never_end_a_bounce() {
    let passive = |minute, session| Event { interactive: Some(false), ..ev(minute, session, "Video Autoplay", "/a") };
    let clicked = Event { interactive: Some(true), ..ev(3, 2, "Click", "/a") };
    // Visit 1: a pageview and a non-interactive event; visit 2: a pageview and a click;
    // visit 3: stored before the flag existed (NULL counts as interactive).
    let events = [
        ev(1, 1, "pageview", "/a"),
        passive(2, 1),
        ev(1, 2, "pageview", "/a"),
        clicked,
        ev(1, 3, "pageview", "/a"),
        ev(2, 3, "Click", "/a"),
    ];
    let total = |events: &[Event]| {
        let r = find(&rows_of(two_hours(), events), T0, "total", None).clone();
        (r.acc.events, r.acc.visits, r.acc.bounces)
    };
    assert_eq!(total(&events), (6, 3, 1));
    // The same through a segment.
    let segment = segment::build(&events).unwrap();
    let mut b = Builder::new(two_hours());
    b.add_segment(&SegmentReader::open(&segment.bytes).unwrap()).unwrap();
    let r = find(&b.finish(), T0, "total", None).clone();
    assert_eq!((r.acc.events, r.acc.visits, r.acc.bounces), (6, 3, 1));
}

#[test]
fn visit_values_come_from_the_first_event_and_the_first_pageview() {
    let mut first = ev(10, 1, "signup", "/x");
    first.referrer_source = Some("Google".into());
    first.utm_campaign = Some("spring".into());
    let mut later = ev(20, 1, "pageview", "/landing");
    later.referrer_source = Some("Bing".into());
    let rows = rows_of(two_hours(), &[later, first, ev(30, 1, "pageview", "/next")]);
    let entry: Vec<_> = rows.iter().filter(|r| r.dimension == "entry_page").map(|r| r.value.as_deref()).collect();
    assert_eq!(entry, [Some("/landing")]);
    assert_eq!(find(&rows, T0, "source", Some("Google")).acc.events, 3);
    assert_eq!(find(&rows, T0, "utm_campaign", Some("spring")).acc.visits, 1);
    assert_eq!(find(&rows, T0, "utm_source", None).acc.visits, 1);
    assert!(rows.iter().all(|r| r.value.as_deref() != Some("Bing")));
    // No pageview: no entry page.
    let rows = rows_of(two_hours(), &[ev(10, 2, "signup", "/x")]);
    assert_eq!(find(&rows, T0, "entry_page", None).acc.visits, 1);
}

#[test]
fn the_window_decides_where_visits_start_and_end() {
    let hours = Hours::overlapping(T0, T0 + HOUR_US);
    let events = [
        // Started 20 minutes before the hour: not a visit of the hour, its events are.
        ev(-20, 1, "pageview", "/a"),
        ev(10, 1, "pageview", "/b"),
        // Started 40 minutes before: outside the window, so it starts in the hour.
        ev(-40, 2, "pageview", "/a"),
        ev(15, 2, "pageview", "/c"),
        // Followed past the hour up to the window's end (T0 + 3 h), not beyond.
        ev(30, 3, "pageview", "/a"),
        ev(170, 3, "pageview", "/a"),
        ev(185, 3, "pageview", "/a"),
    ];
    let rows = rows_of(hours, &events);
    let total = find(&rows, T0, "total", None);
    assert_eq!((total.acc.events, total.acc.visits, total.acc.bounces), (3, 2, 1));
    assert_eq!(total.acc.duration_us, 140 * MINUTE as u64);
    // Visit 3's last event seen is within 30 minutes of the window's end: it is open.
    assert_eq!(total.open_visits, 1);
    assert!(rows.iter().all(|r| r.hour == T0));
    assert_eq!(find(&rows, T0, "entry_page", Some("/c")).acc.visits, 1);
}

#[test]
fn durations_are_exact_microseconds_and_bounces_ignore_engagement() {
    let a = ev(0, 1, "pageview", "/");
    let mut b = ev(0, 1, "engagement", "/");
    b.ts += 1_500;
    let rows = rows_of(two_hours(), &[a.clone(), b.clone()]);
    let total = find(&rows, T0, "total", None);
    assert_eq!((total.acc.duration_us, total.acc.bounces), (1_500, 1));
    b.name = "signup".into();
    let rows = rows_of(two_hours(), &[a, b]);
    assert_eq!(find(&rows, T0, "total", None).acc.bounces, 0, "a pageview and a custom event are no bounce");
}

#[test]
fn visitors_are_the_hll_of_the_hashed_visitor_ids() {
    let events: Vec<Event> = (0..500).map(|i| ev(i % 60, i / 3, "pageview", "/")).collect();
    let rows = rows_of(two_hours(), &events);
    let mut expected = Hll::new(VISITOR_PARAMS);
    for e in &events {
        expected.add(hash_bigint(e.visitor_id, 0));
    }
    assert_eq!(find(&rows, T0, "total", None).visitors.to_bytes(), expected.to_bytes());
}

#[test]
fn ties_within_a_visit_do_not_depend_on_order() {
    let mut a = ev(5, 1, "pageview", "/b");
    a.referrer_source = Some("B".into());
    let mut b = ev(5, 1, "pageview", "/a");
    b.referrer_source = Some("A".into());
    let one = rows_of(two_hours(), &[a.clone(), b.clone()]);
    assert_eq!(one, rows_of(two_hours(), &[b, a]));
    assert_eq!(find(&one, T0, "entry_page", Some("/a")).acc.visits, 1);
    assert_eq!(find(&one, T0, "source", Some("A")).acc.visits, 1);
}

fn traffic() -> impl Strategy<Value = Vec<Event>> {
    let event = (-40i64..260, 0i64..12, 0usize..4, 0usize..5, proptest::option::of(0usize..3), proptest::option::of(0i32..90_000));
    proptest::collection::vec(event, 0..120).prop_map(|raw| {
        raw.into_iter()
            .map(|(minute, session, name, page, source, engagement)| {
                let mut e = ev(minute, session, ["pageview", "engagement", "signup", "pageview"][name], ["/", "/a", "/b", "/c", ""][page]);
                e.ts += session * 7 % 3;
                e.referrer_source = source.map(|s| ["Google", "Bing", "news"][s].to_string());
                e.utm_medium = source.map(|_| "cpc".to_string());
                e.device = (page > 2).then(|| "mobile".to_string());
                e.engagement_ms = engagement.filter(|_| name == 1);
                e
            })
            .collect()
    })
}

proptest! {
    /// Reading some events from segments (in chunks, as compaction stores them) and
    /// the rest as hot rows, in any order, gives the rows of reading them all at once.
    #[test]
    fn rows_do_not_depend_on_order_or_storage(events in traffic(), cut in 0usize..120, chunk in 1usize..50, reversed: bool) {
        let hours = Hours::overlapping(T0, T0 + 2 * HOUR_US);
        let expected = rows_of(hours, &events);
        let cut = cut.min(events.len());
        let (stored, hot) = events.split_at(cut);
        let mut b = Builder::new(hours);
        let mut hot = hot.to_vec();
        if reversed {
            hot.reverse();
            b.add_events(&hot);
        }
        for part in stored.chunks(chunk) {
            let seg = segment::build(part).unwrap();
            b.add_segment(&SegmentReader::open(&seg.bytes).unwrap()).unwrap();
        }
        if !reversed {
            b.add_events(&hot);
        }
        prop_assert_eq!(b.finish(), expected);
    }

    /// Every event in the hours is counted once per dimension (every pageview under
    /// `page`), every visit starting in them once under `total`.
    #[test]
    fn totals_add_up(events in traffic()) {
        let hours = Hours::overlapping(T0, T0 + 2 * HOUR_US);
        let rows = rows_of(hours, &events);
        let (from, to) = hours.window();
        let in_hours = events.iter().filter(|e| (hours.lo..hours.hi).contains(&e.ts) && e.name != "engagement").count() as u64;
        let mut starts = std::collections::BTreeMap::new();
        for e in events.iter().filter(|e| (from..to).contains(&e.ts)) {
            let s = starts.entry(e.session_id).or_insert(e.ts);
            *s = (*s).min(e.ts);
        }
        let visits = starts.values().filter(|&&s| (hours.lo..hours.hi).contains(&s)).count() as u64;
        let pageviews = events.iter().filter(|e| (hours.lo..hours.hi).contains(&e.ts) && e.name == "pageview").count() as u64;
        for dimension in DIMENSIONS {
            let events: u64 = rows.iter().filter(|r| r.dimension == dimension).map(|r| r.acc.events).sum();
            // Pages are made of pageviews only, as the query engine's top pages.
            prop_assert_eq!(events, if dimension == "page" { pageviews } else { in_hours }, "{}", dimension);
        }
        prop_assert_eq!(rows.iter().filter(|r| r.dimension == "total").map(|r| r.acc.visits).sum::<u64>(), visits);
    }
}

proptest! {
    /// The rows of a window's hours computed a piece at a time ([`Indexed::rows`], as
    /// a recomputation spreads a long window over threads a day each) are those of the
    /// whole window at once, visits crossing a piece's edge or midnight included.
    #[test]
    fn rows_computed_in_pieces_are_those_of_the_whole_window(events in traffic(), cut in 1i64..8) {
        // The traffic moved to 21:50-02:50 UTC: its visits cross midnight.
        let shift = 11 * HOUR_US + 30 * MINUTE;
        let events: Vec<Event> = events.into_iter().map(|e| Event { ts: e.ts + shift, ..e }).collect();
        let hours = Hours::overlapping(T0 + shift, T0 + shift + 5 * HOUR_US);
        let expected = rows_of(hours, &events);
        let mut b = Builder::new(hours);
        b.add_events(&events);
        let indexed = b.index();
        let midnight = hours.lo.div_euclid(periods::DAY_US) * periods::DAY_US + periods::DAY_US;
        let edge = hours.lo + cut * HOUR_US;
        let mut pieces: Vec<Row> = [(hours.lo, midnight.min(edge)), (midnight.min(edge), midnight.max(edge)), (midnight.max(edge), hours.hi)]
            .into_iter()
            .flat_map(|(lo, hi)| indexed.rows(Hours { lo, hi }))
            .collect();
        let dim = |r: &Row| DIMENSIONS.iter().position(|d| *d == r.dimension);
        pieces.sort_by(|a, b| (dim(a), a.hour, &a.value).cmp(&(dim(b), b.hour, &b.value)));
        prop_assert_eq!(pieces, expected);
    }
}
