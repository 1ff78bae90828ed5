//! Adds up rollup rows per value (and per hour, for time buckets): what a reader does
//! with the hourly, daily and weekly rows of a range. Done here rather than by SQL's
//! `GROUP BY` with `tally.hll_union_agg`, whose final step packed every value's sketch
//! into bytes for the reader to unpack again (40% of a 30-day top-pages answer from
//! rollups); the sketches' union is the same ([`HllUnion`]).

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::Row;
use crate::sketch::hll::{Hll, HllError, HllUnion};

/// Rows summed so far, by (hour or 0, value); the summed rows' values stay in the keys
/// (a row's value moves into the map rather than being copied per row).
#[derive(Debug, Default)]
pub struct RowSums {
    hourly: bool,
    groups: FxHashMap<(i64, Option<String>), (Row, HllUnion)>,
}

impl RowSums {
    /// Sums per value, or per hour and value when `hourly`.
    pub fn new(hourly: bool) -> RowSums {
        RowSums { hourly, groups: FxHashMap::default() }
    }

    /// Adds `row`: its counts to its group's, its visitors to their union. The summed
    /// row keeps the earliest hour; sketches of durations and engagement are left out.
    pub fn add(&mut self, mut row: Row) -> Result<(), HllError> {
        let key = (if self.hourly { row.hour } else { 0 }, row.value.take());
        let empty = Hll::new(row.visitors.params());
        let visitors = std::mem::replace(&mut row.visitors, empty);
        match self.groups.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert((Row { visit_durations: None, engagement_times: None, ..row }, HllUnion::of(visitors)));
            }
            Entry::Occupied(mut slot) => {
                let (sum, union) = slot.get_mut();
                sum.hour = sum.hour.min(row.hour);
                sum.acc += row.acc;
                sum.open_visits += row.open_visits;
                sum.mixed_visits += row.mixed_visits;
                union.add(visitors)?;
            }
        }
        Ok(())
    }

    /// One row per group, its visitors the union of its rows'.
    pub fn finish(self) -> Vec<Row> {
        self.groups
            .into_iter()
            .map(|((_, value), (mut sum, union))| {
                sum.value = value;
                sum.visitors = union.finish().unwrap_or(sum.visitors);
                sum
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Acc;
    use crate::rollup::{HOUR_US, VISITOR_PARAMS};

    fn row(hour: i64, value: &str, events: u64, visitors: &[i64]) -> Row {
        let mut sketch = Hll::new(VISITOR_PARAMS);
        sketch.extend(visitors);
        Row {
            hour,
            dimension: "page",
            value: Some(value.into()),
            acc: Acc { events, pageviews: events, visits: 1, duration_us: 10, visit_pageviews: events, ..Acc::default() },
            open_visits: 0,
            mixed_visits: 0,
            visitors: sketch,
            visit_durations: None,
            engagement_times: None,
        }
    }

    #[test]
    fn rows_add_up_per_value_or_per_hour_and_value() {
        let rows = [row(2 * HOUR_US, "/a", 3, &[1, 2]), row(HOUR_US, "/a", 4, &[2, 3]), row(HOUR_US, "/b", 1, &[9])];
        let mut by_value = RowSums::new(false);
        rows.iter().cloned().for_each(|r| by_value.add(r).unwrap());
        let mut summed = by_value.finish();
        summed.sort_by(|a, b| a.value.cmp(&b.value));
        assert_eq!(summed.len(), 2);
        let a = &summed[0];
        assert_eq!((a.hour, a.acc.events, a.acc.visits, a.acc.duration_us), (HOUR_US, 7, 2, 20));
        assert_eq!(a.visitors.cardinality().unwrap(), Some(3.0));
        let mut by_hour = RowSums::new(true);
        rows.iter().cloned().for_each(|r| by_hour.add(r).unwrap());
        assert_eq!(by_hour.finish().len(), 3);
    }
}
