//! `date_trunc(unit, ts)` per row without a call per row. Truncation depends on the
//! session's time zone, so only Postgres computes it; it is monotone in `ts`, so when
//! the first and last microsecond of a UTC hour truncate to the same value, every
//! timestamp of that hour does. Each hour is asked about twice, once; an hour a
//! boundary falls inside (a zone half an hour off UTC, truncating by hour) asks per row.

use rustc_hash::FxHashMap;

const HOUR_US: i64 = 3_600_000_000;

/// Hours remembered in a direct-mapped table before the map (a power of two): rows
/// come sorted by visitor, so consecutive rows jump between the hours of a segment's
/// day or two.
const RECENT: usize = 64;

/// An hour's start and the truncation of each of its timestamps, `None` when they
/// differ.
type Hour = (i64, Option<i64>);

/// The truncation of the hours met so far.
#[derive(Debug)]
pub struct Buckets {
    /// Per UTC hour (its start): the truncation of each of its timestamps, or `None`
    /// when they differ.
    hours: FxHashMap<i64, Option<i64>>,
    /// Hours looked up lately, at their hour number modulo [`RECENT`].
    recent: Box<[Option<Hour>; RECENT]>,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets { hours: FxHashMap::default(), recent: Box::new([None; RECENT]) }
    }
}

impl Buckets {
    /// The truncation of `ts` (µs since the Unix epoch), `trunc` computing it when
    /// the hour is new or split.
    pub fn of(&mut self, ts: i64, trunc: &mut dyn FnMut(i64) -> i64) -> i64 {
        let number = ts.div_euclid(HOUR_US);
        let hour = number.saturating_mul(HOUR_US);
        // RECENT is a power of two: the mask is the remainder, negative hours included.
        let slot = &mut self.recent[(number & (RECENT as i64 - 1)) as usize];
        let whole = match *slot {
            Some((h, whole)) if h == hour => whole,
            _ => {
                let whole = *self.hours.entry(hour).or_insert_with(|| {
                    let first = trunc(hour);
                    (first == trunc(hour.saturating_add(HOUR_US - 1))).then_some(first)
                });
                *slot = Some((hour, whole));
                whole
            }
        };
        whole.unwrap_or_else(|| trunc(ts))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Truncation to whole local hours in a zone `offset` µs east of UTC.
    fn local_hours(offset: i64) -> impl FnMut(i64) -> i64 {
        move |ts| (ts + offset).div_euclid(HOUR_US) * HOUR_US - offset
    }

    #[test]
    fn matches_the_truncation_in_whole_and_split_hours() {
        for offset in [0, 30 * 60_000_000, -45 * 60_000_000, 7] {
            let mut calls = 0;
            let mut reference = local_hours(offset);
            let mut counted = |ts| {
                calls += 1;
                local_hours(offset)(ts)
            };
            let mut buckets = Buckets::default();
            for i in -500i64..500 {
                let ts = i * 599_999_999 + 13;
                assert_eq!(buckets.of(ts, &mut counted), reference(ts), "offset {offset}, ts {ts}");
            }
            if offset == 0 {
                assert!(calls <= 2 * 170, "{calls} calls for whole hours");
            }
        }
    }

    proptest! {
        /// Times in any order, hours sharing a slot of the recent table included, the
        /// extremes too, truncate as the zone's own truncation does.
        #[test]
        fn times_in_any_order_truncate_as_the_zone_does(
            times in prop::collection::vec(
                prop_oneof![
                    (0i64..4, 0i64..4 * HOUR_US).prop_map(|(k, us)| k * RECENT as i64 * HOUR_US + us),
                    any::<i64>().prop_map(|t| t / 2),
                ],
                1..300,
            ),
            offset in prop_oneof![Just(0i64), Just(30 * 60_000_000)],
        ) {
            let mut buckets = Buckets::default();
            for ts in times {
                prop_assert_eq!(buckets.of(ts, &mut local_hours(offset)), local_hours(offset)(ts));
            }
        }
    }
}
