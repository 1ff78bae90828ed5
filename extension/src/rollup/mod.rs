//! Keeps `tally.rollups` and `tally.rollup_blocks` current: compaction (and erasure, and retention, which remove
//! events) notes the hours of the events it adds or removes per site, then, inside
//! the same transaction, recomputes the settled rollup hours those events can affect
//! and computes the hours that settled since the last pass ([`refresh`]). A
//! recomputation reads the site's raw events of the hours' window (segments decoded
//! here, plus hot rows), computes the rows with `tally_core::rollup` and replaces the
//! hours' rows, so what compaction leaves before the settle point equals what
//! `tally.rebuild_rollups` produces for the same hours.

pub mod blocks;
pub mod periods;

use std::collections::{BTreeMap, BTreeSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::Event;
use tally_core::rollup::block::{self, BlockError};
use tally_core::rollup::periods::Period;
use tally_core::rollup::settle::{refresh_spans, settle_point};
use tally_core::rollup::{hour_of, Builder, Hours, Indexed, Row, DIMENSIONS};
use tally_core::segment::{SegmentError, SegmentReader};

use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};
use crate::storage::hot_scan::hot_events;
use crate::storage::parallel;

/// The hours (starts) of the events added or removed, per site: a refresh recomputes
/// the hours around each, so an event years late costs its own hours, not the years
/// between it and the others.
#[derive(Debug, Default)]
pub struct Touched {
    hours: BTreeMap<i32, BTreeSet<i64>>,
    /// The last (site, hour) noted: rows come in runs of one site and hour, which then
    /// cost a comparison each.
    last: Option<(i32, i64)>,
}

impl Touched {
    pub fn note(&mut self, event: &Event) {
        self.note_at(event.site_id, event.ts);
    }

    /// Notes an event of `site` at `ts` (µs since the epoch).
    pub fn note_at(&mut self, site: i32, ts: i64) {
        let hour = hour_of(ts);
        if self.last != Some((site, hour)) {
            self.hours.entry(site).or_default().insert(hour);
            self.last = Some((site, hour));
        }
    }
}

/// Keeps every site's hourly rows settled up to the hour on-time events can no longer
/// change (`tally.rollups_settled`, `tally_core::rollup::settle`): recomputes the
/// settled hours the touched events affect (late events, erasure, retention), then
/// computes the hours that settled since the last call, once each. Returns rows written.
pub fn refresh(client: &mut SpiClient, touched: &Touched) -> i64 {
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("reading settled rollup hours: {e}") };
    let now = client.select("SELECT now()", None, &[]).and_then(|rows| rows.first().get_one::<TimestampWithTimeZone>());
    let target = settle_point(now.unwrap_or_else(|e| fail(e)).map(to_unix_us).unwrap_or_else(|| error!("now() is NULL")));
    let mut settled: BTreeMap<i32, Option<i64>> = client
        .select("SELECT site_id, settled_until FROM tally.rollups_settled WHERE settled_until < $1", None, &[from_unix_us(target).into()])
        .unwrap_or_else(|e| fail(e))
        .map(|row| (row.value::<i32>(1).unwrap_or_default(), row.value::<TimestampWithTimeZone>(2).map(to_unix_us)))
        .collect();
    for &site in touched.hours.keys() {
        settled.entry(site).or_insert(None);
    }
    let mut spans = Vec::new();
    for (&site, &until) in &settled {
        let hours = touched.hours.get(&site).into_iter().flatten().copied();
        spans.extend(refresh_spans(hours, until, target).into_iter().map(|(from, to)| (site, from, to)));
    }
    let written = recompute(client, &spans);
    for &site in settled.keys() {
        client
            .update(
                "INSERT INTO tally.rollups_settled AS s VALUES ($1, $2) ON CONFLICT (site_id) DO UPDATE \
                 SET settled_until = greatest(s.settled_until, excluded.settled_until)",
                None,
                &[site.into(), from_unix_us(target).into()],
            )
            .unwrap_or_else(|e| error!("advancing the settled rollup hours of site {site}: {e}"));
    }
    written
}

/// Segment bytes a batch of windows holds before their rows are computed: the windows
/// of a batch are computed side by side, each holding its events decoded (~50 bytes
/// an event, a few times their encoded size) while it runs.
const RECOMPUTE_BATCH_BYTES: usize = 64 << 20;

/// Recomputes the rollup hours of each `(site, from_us, to_us)` (the hours overlapping
/// [from_us, to_us)) from the raw events, replacing what was there: idempotent.
/// Windows are read one after the other, computed side by side on the compaction
/// threads in batches ([`write_all`]), and written in order. Returns rows written.
pub fn recompute(client: &mut SpiClient, spans: &[(i32, i64, i64)]) -> i64 {
    let mut written = 0;
    let mut batch: Vec<Window> = Vec::new();
    for &(site, from_us, to_us) in spans {
        let hours = Hours::overlapping(from_us, to_us);
        if hours.is_empty() {
            continue;
        }
        batch.push(Window::read(site, hours));
        if batch.iter().map(Window::bytes).sum::<usize>() >= RECOMPUTE_BATCH_BYTES {
            written += write_all(client, &mut batch);
        }
    }
    written + write_all(client, &mut batch)
}

/// Computes a batch of windows, writes their rows, then empties it. The windows'
/// events are taken in side by side (a window each), then the rows of every site's
/// day computed and encoded as its block side by side (a day each), so a site with
/// a third of the events over thirty days spreads over every thread instead of
/// keeping one busy alone. Postgres is called on the backend's thread only, before
/// (the stored blocks) and after (the writes).
fn write_all(client: &mut SpiClient, batch: &mut Vec<Window>) -> i64 {
    let indexed = parallel::map(batch, Window::bytes, Window::index);
    let indexed: Vec<(i32, Indexed)> = batch
        .drain(..)
        .zip(indexed)
        .map(|(window, built)| {
            (window.site, built.unwrap_or_else(|(id, e)| error!("segment {id} of tally.segments cannot be decoded: {e}")))
        })
        .collect();
    let in_blocks = blocks::stored(client);
    let days = Day::all(client, &indexed, in_blocks);
    let size = |day: &Day| day.parts.iter().map(|&(w, hours)| indexed[w].1.events_in(hours)).sum::<usize>();
    let computed = parallel::map(&days, size, |day| day.compute(&indexed, in_blocks));
    // Per window, its rows to insert into `tally.rollups`: every row before the
    // upgrade to blocks, only the `total` ones after.
    let mut rows: Vec<Vec<Row>> = indexed.iter().map(|_| Vec::new()).collect();
    let mut written = 0;
    for (day, computed) in days.iter().zip(computed) {
        let (block, parts) =
            computed.unwrap_or_else(|e| error!("the rollup block of site {} for {}: {e}", day.site, blocks::day_name(day.day)));
        if in_blocks {
            blocks::store(client, day.site, day.day, block);
        }
        for (&(w, _), (count, part)) in day.parts.iter().zip(parts) {
            written += count as i64;
            rows[w].extend(part);
        }
    }
    for ((site, window), rows) in indexed.iter().zip(&rows) {
        write(client, *site, window.hours(), rows);
    }
    written
}

/// One site's day of a batch of windows: the hours of it each window recomputes, and
/// its stored block.
struct Day {
    site: i32,
    day: i64,
    /// (window, its hours in this day), in window order: windows of one site are apart
    /// in hours but may share a day (late events and the newly settled hours).
    parts: Vec<(usize, Hours)>,
    old: Option<Vec<u8>>,
}

impl Day {
    /// The days of `windows`, with their stored blocks when the database has blocks.
    fn all(client: &SpiClient, windows: &[(i32, Indexed)], in_blocks: bool) -> Vec<Day> {
        let mut days: BTreeMap<(i32, i64), Vec<(usize, Hours)>> = BTreeMap::new();
        for (w, (site, window)) in windows.iter().enumerate() {
            let Hours { lo, hi } = window.hours();
            for day in Period::Day.overlapping(lo, hi) {
                let hours = Hours { lo: lo.max(day), hi: hi.min(day + Period::Day.length()) };
                days.entry((*site, day)).or_default().push((w, hours));
            }
        }
        days.into_iter()
            .map(|((site, day), parts)| Day { site, day, parts, old: if in_blocks { blocks::read(client, site, day) } else { None } })
            .collect()
    }

    /// The day's new block (`None`: nothing left) and, per part, its rows of every
    /// dimension and those for `tally.rollups`; pure Rust, for any thread.
    #[allow(clippy::type_complexity)]
    fn compute(&self, windows: &[(i32, Indexed)], in_blocks: bool) -> Result<(Option<Vec<u8>>, Vec<(usize, Vec<Row>)>), BlockError> {
        let mut block = self.old.clone();
        let mut parts = Vec::with_capacity(self.parts.len());
        for &(w, hours) in &self.parts {
            let mut rows = windows[w].1.rows(hours);
            let count = rows.len();
            if in_blocks {
                block = block::replace(block.as_deref(), self.day, hours, &rows)?;
                rows.retain(|r| r.dimension == "total");
            }
            parts.push((count, rows));
        }
        Ok((block, parts))
    }
}

/// The raw events of one site's rollup hours and their window: the segments' bytes
/// (id, data) and the hot rows.
struct Window {
    site: i32,
    hours: Hours,
    segments: Vec<(i64, Vec<u8>)>,
    hot: Vec<Event>,
}

impl Window {
    fn read(site: i32, hours: Hours) -> Window {
        let (from, to) = hours.window();
        let (from, to) = (from_unix_us(from), from_unix_us(to));
        // Through an SPI connection of its own: the detoasted segments are freed once
        // copied, not when the caller's transaction ends (a pass reads many windows).
        Spi::connect(|reader| {
            let segments = reader
                .select(
                    "SELECT segment_id, data FROM tally.segments WHERE site_id = $1 AND max_ts >= $2 AND min_ts < $3",
                    None,
                    &[site.into(), from.into(), to.into()],
                )
                .unwrap_or_else(|e| error!("reading segments of site {site} for rollups: {e}"))
                .map(|row| {
                    let id: i64 = row.value(1).unwrap_or_default();
                    let data: &[u8] = row.value(2).unwrap_or_else(|| error!("segment {id} has no data"));
                    (id, data.to_vec())
                })
                .collect();
            Window { site, hours, segments, hot: hot_events(reader, site, from, to) }
        })
    }

    /// What the window holds, for batching and for starting the largest first: its
    /// segments' bytes, and its hot rows at about 200 bytes each as `Event`s.
    fn bytes(&self) -> usize {
        self.segments.iter().map(|(_, data)| data.len()).sum::<usize>() + self.hot.len() * 200
    }

    /// The window's events taken in, ready for the rows of its hours; `Err` names the
    /// segment that cannot be decoded.
    fn index(&self) -> Result<Indexed, (i64, SegmentError)> {
        let mut builder = Builder::new(self.hours);
        for (id, data) in &self.segments {
            SegmentReader::open(data).and_then(|segment| builder.add_segment(&segment)).map_err(|e| (*id, e))?;
        }
        builder.add_events(&self.hot);
        Ok(builder.index())
    }
}

/// Replaces the rows of `hours` in `tally.rollups` with `rows` (one DELETE, then one
/// INSERT of them from per-column arrays; the rows of every dimension before the
/// upgrade to blocks, [`blocks::stored`], else the `total` ones, the others being in
/// the days' blocks [`write_all`] stored) and queues the days for new daily and weekly
/// rows. The sketches travel as bytea and are checked by the casts to `tally.hll` and
/// `tally.ddsketch`.
fn write(client: &mut SpiClient, site: i32, hours: Hours, rows: &[Row]) {
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("writing rollups of site {site}: {e}") };
    periods::invalidate(client, site, hours);
    // Per dimension: the key leads with it, so a range of hours alone would walk every
    // index entry of the site (49 ms against 4 for four hours of the bench's large site).
    client
        .update(
            "DELETE FROM tally.rollups WHERE site_id = $1 AND dimension = ANY($4) AND hour >= $2 AND hour < $3",
            None,
            &[site.into(), from_unix_us(hours.lo).into(), from_unix_us(hours.hi).into(), DIMENSIONS.to_vec().into()],
        )
        .unwrap_or_else(|e| fail(e));
    if rows.is_empty() {
        return;
    }
    let column = |f: fn(&Row) -> i64| -> DatumWithOid { rows.iter().map(f).collect::<Vec<i64>>().into() };
    let args: [DatumWithOid; 16] = [
        site.into(),
        rows.iter().map(|r| from_unix_us(r.hour)).collect::<Vec<_>>().into(),
        rows.iter().map(|r| r.dimension).collect::<Vec<&str>>().into(),
        rows.iter().map(|r| r.value.as_deref()).collect::<Vec<Option<&str>>>().into(),
        column(|r| r.acc.events as i64),
        column(|r| r.acc.pageviews as i64),
        column(|r| r.acc.visits as i64),
        column(|r| r.acc.bounces as i64),
        column(|r| r.acc.duration_us as i64),
        column(|r| r.acc.visit_pageviews as i64),
        column(|r| r.open_visits),
        column(|r| r.mixed_visits),
        column(|r| r.acc.engagement_ms as i64),
        rows.iter().map(|r| r.visitors.to_bytes()).collect::<Vec<Vec<u8>>>().into(),
        rows.iter().map(|r| r.visit_durations.as_ref().map(|s| s.to_bytes())).collect::<Vec<Option<Vec<u8>>>>().into(),
        rows.iter().map(|r| r.engagement_times.as_ref().map(|s| s.to_bytes())).collect::<Vec<Option<Vec<u8>>>>().into(),
    ];
    client
        .update(
            "INSERT INTO tally.rollups \
             SELECT $1, r.hour, r.dimension, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us, \
                    r.visit_pageviews, r.open_visits, r.mixed_visits, r.engagement_ms, r.visitors::tally.hll, \
                    r.visit_durations::tally.ddsketch, r.engagement_times::tally.ddsketch \
             FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], \
                         $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::bytea[], $15::bytea[], \
                         $16::bytea[]) \
                  AS r(hour, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, \
                       open_visits, mixed_visits, engagement_ms, visitors, visit_durations, engagement_times)",
            None,
            &args,
        )
        .unwrap_or_else(|e| fail(e));
}
