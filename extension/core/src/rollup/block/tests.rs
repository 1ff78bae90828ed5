//! Blocks give back the rows they were written from (per hour, or summed per day), only
//! those a filter takes, with the same visitor sets; damaged bytes are an error.

use proptest::prelude::*;

use super::*;
use crate::rollup::VISITOR_PARAMS;

/// 2024-03-30 00:00 UTC.
const DAY: i64 = 1_711_756_800_000_000;

/// Small ids spread over the whole hash range, negative hashes included.
fn spread(x: i64) -> i64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64)
}

fn sketch(hashes: &[i64]) -> Hll {
    let mut set = Hll::new(VISITOR_PARAMS);
    set.extend(hashes);
    set
}

fn row(dimension: &'static str, value: Option<&str>, hour: i64, counts: [u32; COUNTS], visitors: &[i64]) -> Row {
    let c = |k: usize| u64::from(counts[k]);
    Row {
        hour: DAY + hour * HOUR_US,
        dimension,
        value: value.map(str::to_owned),
        acc: Acc {
            events: c(0),
            pageviews: c(1),
            visits: c(2),
            bounces: c(3),
            duration_us: c(4) * 1_000_003,
            visit_pageviews: c(5),
            engagement_ms: c(6),
            ..Acc::default()
        },
        open_visits: i64::from(counts[7]),
        mixed_visits: i64::from(counts[8]),
        visitors: sketch(visitors),
        visit_durations: None,
        engagement_times: None,
    }
}

fn all(block: &Block<'_>, dimension: &str, filter: &Filter<'_>) -> Vec<Row> {
    let mut out = Vec::new();
    block.rows(dimension, filter, &mut |row| out.push(row)).unwrap();
    out
}

const EVERYTHING: Filter<'static> = Filter { values: None, from_us: DAY, to_us: DAY + DAY_US, visitors: true };

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (a.dimension, &a.value, a.hour).cmp(&(b.dimension, &b.value, b.hour)));
    rows
}

/// Every row of every dimension of `bytes`.
fn decoded(bytes: &[u8], filter: &Filter<'_>) -> Vec<Row> {
    let block = Block::open(bytes).unwrap();
    sorted(DIMENSIONS.iter().flat_map(|d| all(&block, d, filter)).collect())
}

const VALUES: [Option<&str>; 6] = [None, Some(""), Some("/"), Some("/a"), Some("/a/b"), Some("DE")];

/// Rows of distinct (dimension, value, hour), visitors drawn from a few hundred hashes
/// (visitors recur across a day's rows, as they do in real ones).
fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    let key = (1..DIMENSIONS.len(), 0..VALUES.len(), 0i64..24);
    let figures = (prop::array::uniform9(0u32..5000), prop::collection::vec(-200i64..200, 0..30));
    prop::collection::btree_map(key, figures, 0..60).prop_map(|map| {
        map.into_iter()
            .map(|((d, v, h), (counts, visitors))| {
                let hashes: Vec<i64> = visitors.iter().map(|&x| spread(x)).collect();
                row(DIMENSIONS[d], VALUES[v], h, counts, &hashes)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn hourly_rows_come_back_as_written(rows in rows_strategy()) {
        let bytes = encode(DAY, &rows, &[]).unwrap();
        prop_assert_eq!(decoded(&bytes, &EVERYTHING), sorted(rows));
    }

    #[test]
    fn daily_dimensions_come_back_summed_per_value(rows in rows_strategy()) {
        let daily = ["page", "source", "utm_term"];
        let bytes = encode(DAY, &rows, &daily).unwrap();
        let mut expected = Vec::new();
        for dimension in DIMENSIONS {
            let own = rows.iter().filter(|r| r.dimension == dimension).cloned();
            if daily.contains(&dimension) {
                let mut sums = RowSums::new(false);
                own.for_each(|r| sums.add(r).unwrap());
                expected.extend(sums.finish().into_iter().map(|r| Row { hour: DAY, ..r }));
            } else {
                expected.extend(own);
            }
        }
        prop_assert_eq!(decoded(&bytes, &EVERYTHING), sorted(expected));
        let block = Block::open(&bytes).unwrap();
        for dimension in daily {
            if rows.iter().any(|r| r.dimension == dimension) {
                prop_assert_eq!(block.grain(dimension), Some(Grain::Day));
                // A daily entry stands only for its whole day.
                let morning = Filter { to_us: DAY + 12 * HOUR_US, ..EVERYTHING };
                prop_assert!(all(&block, dimension, &morning).is_empty());
            }
        }
    }

    #[test]
    fn a_filter_takes_its_values_and_hours(
        rows in rows_strategy(),
        picked in prop::collection::vec(0..VALUES.len(), 0..4),
        from in 0i64..24,
        hours in 0i64..25,
        visitors: bool,
    ) {
        let bytes = encode(DAY, &rows, &[]).unwrap();
        let values: Vec<Option<String>> = picked.iter().map(|&v| VALUES[v].map(str::to_owned)).collect();
        let filter = Filter { values: Some(&values), from_us: DAY + from * HOUR_US, to_us: DAY + (from + hours) * HOUR_US, visitors };
        let expected: Vec<Row> = rows
            .iter()
            .filter(|r| values.contains(&r.value) && (filter.from_us..filter.to_us).contains(&r.hour))
            .map(|r| Row { visitors: if visitors { r.visitors.clone() } else { Hll::new(VISITOR_PARAMS) }, ..r.clone() })
            .collect();
        prop_assert_eq!(decoded(&bytes, &filter), sorted(expected));
    }

    #[test]
    fn damaged_blocks_are_an_error_not_a_panic(rows in rows_strategy(), at: prop::sample::Index, byte: u8, cut: prop::sample::Index) {
        let bytes = encode(DAY, &rows, &["page"]).unwrap();
        let mut flipped = bytes.clone();
        let i = at.index(flipped.len());
        flipped[i] ^= byte.max(1);
        let truncated = &bytes[..cut.index(bytes.len())];
        for damaged in [&flipped[..], truncated] {
            if let Ok(block) = Block::open(damaged) {
                for dimension in DIMENSIONS {
                    let _ = block.rows(dimension, &EVERYTHING, &mut |_| {});
                }
            }
        }
    }
}

#[test]
fn a_days_rows_from_its_events_come_back_as_computed() {
    use crate::event::Event;
    use crate::rollup::{Builder, Hours};
    let minute = 60_000_000;
    let ev = |at: i64, session: i64, path: &str, country: &str| Event {
        site_id: 1,
        ts: DAY + at * minute,
        name: "pageview".into(),
        visitor_id: session % 7,
        session_id: session,
        pathname: path.into(),
        country: Some(country.into()),
        referrer_source: (session % 3 == 0).then(|| "Google".into()),
        ..Event::default()
    };
    // Visits spread over the day, some across hours, visitors coming back.
    let events: Vec<Event> = (0..200).flat_map(|s| [ev(s * 7, s, "/a", "DE"), ev(s * 7 + 3, s, &format!("/p{}", s % 11), "FR")]).collect();
    let hours = Hours { lo: DAY, hi: DAY + DAY_US };
    let mut builder = Builder::new(hours);
    builder.add_events(&events);
    let rows: Vec<Row> = builder.finish().into_iter().filter(|r| r.dimension != "total").collect();
    assert!(rows.iter().any(|r| r.mixed_visits > 0) && rows.iter().any(|r| r.value.is_none()));
    let bytes = encode(DAY, &rows, &[]).unwrap();
    assert_eq!(decoded(&bytes, &EVERYTHING), sorted(rows));
}

#[test]
fn registers_and_empty_sets_come_back_as_written() {
    // Past the explicit limit (1,280 for these parameters) a set is registers.
    let many: Vec<i64> = (0..5_000i64).map(spread).collect();
    let rows = vec![
        row("country", Some("DE"), 3, [9; COUNTS], &many),
        row("country", Some("FR"), 3, [1; COUNTS], &many[..3]),
        row("country", Some("US"), 4, [0; COUNTS], &[]),
    ];
    assert!(matches!(rows[0].visitors.repr(), Repr::Full(_)));
    assert_eq!(*rows[2].visitors.repr(), Repr::Empty);
    let bytes = encode(DAY, &rows, &[]).unwrap();
    assert_eq!(decoded(&bytes, &EVERYTHING), sorted(rows.clone()));
    // Summed over the day, the registers absorb the explicit set.
    let bytes = encode(DAY, &rows, &["country"]).unwrap();
    let summed = decoded(&bytes, &EVERYTHING);
    assert_eq!(summed.len(), 3);
    assert_eq!(summed[0].visitors, rows[0].visitors);
}

#[test]
fn rows_a_block_cannot_hold_are_refused() {
    let page = row("page", Some("/"), 0, [1; COUNTS], &[1]);
    assert!(matches!(encode(DAY + HOUR_US, std::slice::from_ref(&page), &[]), Err(BlockError::NotADay(_))));
    let tomorrow = Row { hour: DAY + DAY_US, ..page.clone() };
    assert!(matches!(encode(DAY, &[tomorrow], &[]), Err(BlockError::OutsideDay { .. })));
    let twice = [page.clone(), page.clone()];
    assert!(matches!(encode(DAY, &twice, &[]), Err(BlockError::Duplicate { dimension: "page" })));
    let with_quantiles = Row { visit_durations: Some(crate::sketch::ddsketch::DDSketch::default()), ..page.clone() };
    assert!(matches!(encode(DAY, &[with_quantiles], &[]), Err(BlockError::Quantiles)));
    let unknown = Row { dimension: "planet", ..page };
    assert!(matches!(encode(DAY, &[unknown], &[]), Err(BlockError::Dimension(_))));
}

#[test]
fn a_day_without_rows_is_a_small_block() {
    let bytes = encode(DAY, &[], &[]).unwrap();
    assert!(bytes.len() < 16, "{} bytes", bytes.len());
    let block = Block::open(&bytes).unwrap();
    assert_eq!((block.day(), block.grain("page"), block.entries("page")), (DAY, None, 0));
}

#[test]
fn replacing_hours_keeps_the_other_hours_entries() {
    let old = [
        row("page", Some("/a"), 1, [1; COUNTS], &[spread(1)]),
        row("page", Some("/a"), 5, [2; COUNTS], &[spread(2)]),
        row("country", Some("FR"), 9, [3; COUNTS], &[spread(3), spread(4)]),
    ];
    let bytes = encode(DAY, &old, &[]).unwrap();
    let hours = Hours { lo: DAY + 4 * HOUR_US, hi: DAY + 6 * HOUR_US };
    let new = [row("page", Some("/b"), 4, [4; COUNTS], &[spread(5)]), row("total", None, 4, [9; COUNTS], &[spread(5)])];
    let replaced = replace(Some(&bytes), DAY, hours, &new).unwrap().unwrap();
    let block = Block::open(&replaced).unwrap();
    let pages = sorted(all(&block, "page", &EVERYTHING));
    assert_eq!(pages, vec![old[0].clone(), new[0].clone()]);
    assert_eq!(all(&block, "country", &EVERYTHING), vec![old[2].clone()]);
    assert!(all(&block, "total", &EVERYTHING).is_empty(), "total rows stay out of blocks");
    // Replacing every hour with nothing leaves no block.
    let day = Hours { lo: DAY - HOUR_US, hi: DAY + DAY_US };
    assert_eq!(replace(Some(&replaced), DAY, day, &[]).unwrap(), None);
    assert!(replace(Some(&replaced), DAY + DAY_US, day, &[]).is_err(), "a block of another day");
}
