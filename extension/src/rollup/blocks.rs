//! Keeps `tally.rollup_blocks` (sql/rollups.sql): every rollup row but `total`, one
//! compressed block per site and day (`tally_core::rollup::block`). A rewrite of some
//! hours reads each day's block, keeps the entries of its other hours and writes it
//! again ([`replace`]); the rows of a dimension are read back by
//! `query::rollups` and listed by `tally.rollup_block_rows`.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::query::Acc;
use tally_core::rollup::block;
use tally_core::rollup::periods::{Period, DAY_US};
use tally_core::rollup::{hour_of, Hours, Row, DIMENSIONS};
use tally_core::sketch::hll::Hll;

use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};

/// Whether the database stores per-value rollups in blocks: a database still at
/// 0.1.0's SQL, running this library until `ALTER EXTENSION tally UPDATE`
/// (docs/upgrades.md), keeps them as rows of `tally.rollups` and its daily and weekly
/// sums, and is read and written that way.
pub fn stored(client: &SpiClient) -> bool {
    client
        .select("SELECT to_regclass('tally.rollup_blocks') IS NOT NULL", Some(1), &[])
        .and_then(|rows| rows.first().get_one::<bool>())
        .unwrap_or_else(|e| error!("looking up tally.rollup_blocks: {e}"))
        .unwrap_or(false)
}

/// Replaces the entries of `hours` in the blocks of the days they overlap with `rows`
/// (the hours' rows of every dimension; `total` ones are left out).
fn replace(client: &mut SpiClient, site: i32, hours: Hours, rows: &[Row]) {
    if hours.is_empty() {
        return;
    }
    for day in Period::Day.overlapping(hours.lo, hours.hi) {
        let old = read(client, site, day);
        let new = block::replace(old.as_deref(), day, hours, rows)
            .unwrap_or_else(|e| error!("the rollup block of site {site} for {}: {e}", day_name(day)));
        store(client, site, day, new);
    }
}

/// Drops the entries of the hours that end at or before `horizon` (retention): whole
/// blocks of earlier days, the first hours of the day of `horizon`.
pub fn expire(client: &mut SpiClient, site: i32, horizon: i64) {
    let day = Period::Day.start_of(horizon);
    client
        .update("DELETE FROM tally.rollup_blocks WHERE site_id = $1 AND day < $2", None, &[site.into(), from_unix_us(day).into()])
        .unwrap_or_else(|e| error!("retention of rollup blocks of site {site}: {e}"));
    // An hour h is kept while h + 1 hour > horizon: the hours from hour_of(horizon) on.
    replace(client, site, Hours { lo: day, hi: hour_of(horizon) }, &[]);
}

/// The stored block of one site's day, copied out of SPI.
pub(super) fn read(client: &SpiClient, site: i32, day: i64) -> Option<Vec<u8>> {
    client
        .select("SELECT data FROM tally.rollup_blocks WHERE site_id = $1 AND day = $2", Some(1), &[site.into(), from_unix_us(day).into()])
        .unwrap_or_else(|e| error!("reading the rollup block of site {site}: {e}"))
        .next()
        .and_then(|row| row.value::<&[u8]>(1).map(<[u8]>::to_vec))
}

/// Writes (or, with `None`, deletes) one site's block of `day`.
pub(super) fn store(client: &mut SpiClient, site: i32, day: i64, data: Option<Vec<u8>>) {
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("writing the rollup block of site {site} for {}: {e}", day_name(day)) };
    match data {
        Some(data) => client.update(
            "INSERT INTO tally.rollup_blocks AS b VALUES ($1, $2, $3) ON CONFLICT (site_id, day) DO UPDATE SET data = excluded.data",
            None,
            &[site.into(), from_unix_us(day).into(), data.into()],
        ),
        None => {
            client.update("DELETE FROM tally.rollup_blocks WHERE site_id = $1 AND day = $2", None, &[site.into(), from_unix_us(day).into()])
        }
    }
    .unwrap_or_else(|e| fail(e));
}

pub(super) fn day_name(day: i64) -> String {
    format!("the day {} days after 1970-01-01", day.div_euclid(DAY_US))
}

/// Moves the per-value rows of `tally.rollups` (every dimension but `total`, as
/// releases before blocks stored them) into blocks, unchanged, and deletes them.
/// Returns the rows moved. Run by the upgrade to 0.2.0.
pub fn from_rows(client: &mut SpiClient) -> i64 {
    let days: Vec<(i32, i64)> = client
        .select(
            "SELECT DISTINCT site_id, date_bin('24 hours', hour, '2000-01-01') FROM tally.rollups WHERE dimension <> 'total'",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("reading the days of per-value rollup rows: {e}"))
        .map(|r| (r.value::<i32>(1).unwrap_or_default(), r.value::<TimestampWithTimeZone>(2).map(to_unix_us).unwrap_or_default()))
        .collect();
    let mut moved = 0;
    for (site, day) in days {
        let rows: Vec<Row> = client
            .select(
                "SELECT hour, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, \
                        open_visits, mixed_visits, engagement_ms, visitors::bytea \
                 FROM tally.rollups WHERE site_id = $1 AND dimension <> 'total' AND hour >= $2 AND hour < $2 + interval '24 hours'",
                None,
                &[site.into(), from_unix_us(day).into()],
            )
            .unwrap_or_else(|e| error!("reading per-value rollup rows of site {site}: {e}"))
            .map(|r| stored_row(&r, site))
            .collect();
        moved += rows.len() as i64;
        let data = block::encode(day, &rows, &[]).unwrap_or_else(|e| error!("the rollup rows of site {site} for {}: {e}", day_name(day)));
        store(client, site, day, Some(data));
    }
    for table in ["tally.rollups", "tally.rollups_daily", "tally.rollups_weekly"] {
        client
            .update(&format!("DELETE FROM {table} WHERE dimension <> 'total'"), None, &[])
            .unwrap_or_else(|e| error!("deleting per-value rows of {table}: {e}"));
    }
    moved
}

/// A row of `tally.rollups` as read by [`from_rows`].
fn stored_row(r: &impl SpiValue, site: i32) -> Row {
    let count = |i: usize| r.value::<i64>(i).unwrap_or_default();
    let dimension: String = r.value(2).unwrap_or_default();
    let dimension = DIMENSIONS
        .iter()
        .find(|d| **d == dimension)
        .unwrap_or_else(|| error!("tally.rollups of site {site} holds rows of an unknown dimension {dimension:?}"));
    let visitors: &[u8] = r.value(13).unwrap_or_default();
    Row {
        hour: r.value::<TimestampWithTimeZone>(1).map(to_unix_us).unwrap_or_default(),
        dimension,
        value: r.value(3),
        acc: Acc {
            events: count(4) as u64,
            pageviews: count(5) as u64,
            visits: count(6) as u64,
            bounces: count(7) as u64,
            duration_us: count(8) as u64,
            visit_pageviews: count(9) as u64,
            engagement_ms: count(12) as u64,
            ..Acc::default()
        },
        open_visits: count(10),
        mixed_visits: count(11),
        visitors: Hll::from_bytes(visitors).unwrap_or_else(|e| error!("a visitors sketch of tally.rollups of site {site}: {e}")),
        visit_durations: None,
        engagement_times: None,
    }
}
