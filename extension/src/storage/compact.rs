//! Compaction: hot rows become columnar segments, and a day's small segments merge
//! into large ones.
//!
//! Each pass runs in the caller's transaction: the hot rows are deleted and their
//! segments inserted atomically, so a crash at any point either keeps the hot rows or
//! keeps the segments, never both and never neither. An advisory lock keeps two
//! compactions (the background worker and a manual call) from interleaving.

use std::collections::BTreeMap;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tally_core::event::Event;
use tally_core::segment::{self, Batch, Segment, SegmentError, SegmentReader};

use super::arrays::from_unix_us;
use super::{hot, hot_scan, parallel};
use crate::spi_value::SpiValue;
use crate::{gucs, rollup};

/// Key of the advisory lock held by compaction, retention and erasure: any value
/// unlikely to collide with an application's own advisory locks ("tally" in ASCII).
pub const STORAGE_LOCK: i64 = 0x0074_616c_6c79;

const DAY_US: i64 = 86_400_000_000;

/// What one compaction call did, returned to SQL.
#[derive(Debug, Default, Clone, Copy)]
pub struct CompactStats {
    pub hot_rows: i64,
    pub segments_written: i64,
    pub segments_merged: i64,
}

/// Takes the storage lock, waiting for it.
pub fn lock_storage(client: &SpiClient) {
    client
        .select("SELECT pg_catalog.pg_advisory_xact_lock($1)", None, &[STORAGE_LOCK.into()])
        .unwrap_or_else(|e| error!("taking the storage lock: {e}"));
}

/// Drains hot partitions into segments, merges days that have too many segments, and
/// recomputes the rollup hours the drained events affect.
/// The partitions drained are the closed ones but the next in the ring; with
/// `include_current` every one (writers wait for the lock meanwhile). Call inside a
/// transaction with the storage lock held.
///
/// Why not the next one: writers move to it when the current slot ends, and a drained
/// partition stays locked until the pass commits. A pass that drained it and ran past
/// the slot's end (settling an hour's rollups, a late event's hours, retention) would
/// stall every writer until it committed. Its rows, the oldest hot ones, wait for the
/// pass after it has been written to, when it is closed again: hot rows live a few
/// slots longer, and a pass may take a whole slot before any writer waits for it.
pub fn compact(client: &mut SpiClient, include_current: bool) -> CompactStats {
    let mut stats = CompactStats::default();
    let mut touched = rollup::Touched::default();
    let current = hot::current_generation();
    let next = (current + 1) % hot::HOT_PARTITIONS as i16;
    for gen in 0..hot::HOT_PARTITIONS as i16 {
        if (gen == current || gen == next) && !include_current {
            continue;
        }
        drain_partition(client, gen, &mut stats, &mut touched);
    }
    stats.segments_merged = merge_days(client);
    rollup::refresh(client, &touched);
    stats
}

/// Moves every row of partition `gen` into segments and truncates it. A partition holds
/// one slot of a few seconds, so its rows fit in memory at once (as columns, see
/// [`hot_scan::scan`]). EXCLUSIVE mode waits for writers still committing into the
/// partition and keeps new ones out, while readers go on; TRUNCATE then drops the rows
/// at commit, atomically with the inserts.
fn drain_partition(client: &mut SpiClient, gen: i16, stats: &mut CompactStats, touched: &mut rollup::Touched) {
    let table = format!("tally.events_hot_{gen}");
    let fail = |e: pgrx::spi::SpiError| -> ! { error!("compacting {table}: {e}") };
    client.update(format!("LOCK TABLE {table} IN EXCLUSIVE MODE").as_str(), None, &[]).unwrap_or_else(|e| fail(e));
    let batch = hot_scan::scan(&table);
    stats.hot_rows += batch.ints("ts").len() as i64;
    write_batch(client, &batch, stats, touched);
    client.update(format!("TRUNCATE {table}").as_str(), None, &[]).unwrap_or_else(|e| fail(e));
}

/// Encodes the rows of `batch` as segments, one or more per site and UTC day, and
/// inserts them, noting their hours in `touched`.
pub fn write_batch(client: &mut SpiClient, batch: &Batch, stats: &mut CompactStats, touched: &mut rollup::Touched) {
    for (&site, &ts) in batch.ints("site_id").iter().zip(batch.ints("ts")) {
        touched.note_at(site as i32, ts);
    }
    let rows: Vec<u32> = (0..batch.len() as u32).collect();
    insert_encoded(client, encode_rows(batch, &rows, parallel::threads()), stats);
}

/// Segments of one site and UTC day (days since the epoch), encoded or not.
pub type Encoded = Vec<((i32, i64), Result<Segment, SegmentError>)>;

/// Encodes the rows `rows` of `batch` as segments, one or more per site and UTC day:
/// slices of at most `MAX_ROWS` rows, encoded on `threads` threads, in (site, day)
/// order. Pure Rust: any thread may call it.
pub fn encode_rows(batch: &Batch, rows: &[u32], threads: usize) -> Encoded {
    let (sites, ts) = (batch.ints("site_id"), batch.ints("ts"));
    let mut by_site_day: BTreeMap<(i32, i64), Vec<u32>> = BTreeMap::new();
    for &row in rows {
        let r = row as usize;
        by_site_day.entry((sites[r] as i32, ts[r].div_euclid(DAY_US))).or_default().push(row);
    }
    let slices: Vec<((i32, i64), &[u32])> =
        by_site_day.iter().flat_map(|(&key, rows)| rows.chunks(segment::MAX_ROWS).map(move |chunk| (key, chunk))).collect();
    let built = parallel::map_on(threads, &slices, |(_, rows)| rows.len(), |(_, rows)| segment::build_rows(batch, rows));
    slices.iter().map(|&(key, _)| key).zip(built).collect()
}

/// Inserts segments [`encode_rows`] encoded, in order. Returns the events inserted.
pub fn insert_encoded(client: &mut SpiClient, encoded: Encoded, stats: &mut CompactStats) -> usize {
    let mut events = 0;
    for ((site_id, day), seg) in encoded {
        let seg = seg.unwrap_or_else(|e| error!("encoding a segment of site {site_id}: {e}"));
        insert_segment(client, site_id, day, &seg);
        stats.segments_written += 1;
        events += seg.zone.rows;
    }
    events
}

/// Encodes `events` (one site, one UTC day) as segments of at most `MAX_ROWS` rows and
/// inserts them. Returns how many segments were written.
pub fn write_segments(client: &mut SpiClient, site_id: i32, day: i64, events: &[Event]) -> i64 {
    write_slices(client, &[((site_id, day), events)])
}

/// [`write_segments`] for many (site, UTC day) slices at once: they are encoded in
/// parallel ([`parallel::build_all`]), then inserted in order.
fn write_slices(client: &mut SpiClient, slices: &[((i32, i64), &[Event])]) -> i64 {
    let events: Vec<&[Event]> = slices.iter().map(|&(_, events)| events).collect();
    let mut written = 0;
    for (&((site_id, day), _), built) in slices.iter().zip(parallel::build_all(&events)) {
        for seg in built.unwrap_or_else(|e| error!("encoding a segment of site {site_id}: {e}")) {
            insert_segment(client, site_id, day, &seg);
            written += 1;
        }
    }
    written
}

/// Inserts one encoded segment of `site_id` and UTC `day` (days since the epoch),
/// with its string ranges where the catalog has their column.
fn insert_segment(client: &mut SpiClient, site_id: i32, day: i64, seg: &Segment) {
    let strings = crate::storage::layout::segments_have_string_ranges().then(|| seg.strings.encode());
    let args: [DatumWithOid; 7] = [
        site_id.into(),
        (day as i32).into(),
        from_unix_us(seg.zone.ts_min).into(),
        from_unix_us(seg.zone.ts_max).into(),
        (seg.zone.rows as i32).into(),
        seg.bytes.as_slice().into(),
        strings.as_deref().into(),
    ];
    let (column, value) = if strings.is_some() { (", string_ranges", ", $7") } else { ("", "") };
    client
        .update(
            &format!(
                "INSERT INTO tally.segments (site_id, day, min_ts, max_ts, row_count, data{column}) \
                 VALUES ($1, DATE '1970-01-01' + $2, $3, $4, $5, $6{value})"
            ),
            None,
            &args[..if strings.is_some() { 7 } else { 6 }],
        )
        .unwrap_or_else(|e| error!("inserting a segment of site {site_id}: {e}"));
}

/// Decodes a stored segment, naming it in the error if its bytes are damaged.
pub fn decode(segment_id: i64, bytes: &[u8]) -> Vec<Event> {
    SegmentReader::open(bytes)
        .and_then(|r| r.events())
        .unwrap_or_else(|e| error!("segment {segment_id} of tally.segments cannot be decoded: {e}"))
}

/// Merges small segments (under half of `MAX_ROWS`), in tiers like a log-structured
/// merge tree so that an event is rewritten a few times at most, however long the day:
///
/// - a day still being written (today, UTC) merges the segments of one size tier
///   (`floor(log_T(rows))`, T = `tally.merge_threshold`) once T of them are there. Each
///   pass adds one small segment per active site-day; merging only like sizes rewrites
///   an event about log_T(day rows / pass rows) times. Merging every small segment into
///   one instead rewrote the whole day every T passes: about a thousand rewrites of
///   each event of a site with a few events a second.
/// - a past day with more than one small segment is merged into one segment per
///   `MAX_ROWS` rows, once: reads of finished days then decode one segment.
///
/// Segments merge column by column (`segment::merge`, no event materialized), site-days
/// on `tally.compaction_threads` threads. Returns how many segments were merged away.
pub fn merge_days(client: &mut SpiClient) -> i64 {
    let small = (segment::MAX_ROWS / 2) as i32;
    let threshold = gucs::MERGE_THRESHOLD.get();
    let groups: Vec<(i32, i32, Vec<i64>)> = client
        .select(
            "WITH small AS ( \
                 SELECT site_id, day, segment_id, day < (now() AT TIME ZONE 'UTC')::date AS past, \
                        floor(ln(greatest(row_count, 1)) / ln($2::float8))::int AS tier \
                 FROM tally.segments WHERE row_count < $1) \
             SELECT site_id, (day - DATE '1970-01-01')::int, array_agg(segment_id ORDER BY segment_id) \
             FROM small GROUP BY site_id, day, past, CASE WHEN past THEN -1 ELSE tier END \
             HAVING CASE WHEN past THEN count(*) > 1 ELSE count(*) >= $2 END",
            None,
            &[small.into(), threshold.into()],
        )
        .unwrap_or_else(|e| error!("finding segments to merge: {e}"))
        .map(|row| {
            let site: i32 = row.value(1).unwrap_or_default();
            let day: i32 = row.value(2).unwrap_or_default();
            let ids: Vec<i64> = row.value(3).unwrap_or_default();
            (site, day, ids)
        })
        .collect();
    let mut merged = 0;
    let mut batch: Vec<Merge> = Vec::new();
    for (site_id, day, ids) in groups {
        let inputs: Vec<(i64, Vec<u8>)> = client
            .update("DELETE FROM tally.segments WHERE segment_id = ANY($1) RETURNING segment_id, data", None, &[ids.clone().into()])
            .unwrap_or_else(|e| error!("merging segments of site {site_id}: {e}"))
            .map(|row| (row.value(1).unwrap_or_default(), row.value(2).unwrap_or_default()))
            .collect();
        merged += ids.len() as i64;
        batch.push(Merge { site_id, day: i64::from(day), inputs });
        if batch.iter().map(Merge::bytes).sum::<usize>() >= MERGE_BATCH_BYTES {
            write_merged(client, &mut batch);
        }
    }
    write_merged(client, &mut batch);
    merged
}

/// Segment bytes held at once by merges before they are merged in parallel: enough
/// site-days to keep every thread busy, few enough to stay well inside a backend's
/// comfortable memory use (a merge decodes its inputs' columns, about 100 bytes an
/// event, some 10 times their encoded size).
const MERGE_BATCH_BYTES: usize = 32 << 20;

/// The segments of one site and day to merge: their ids and bytes.
struct Merge {
    site_id: i32,
    day: i64,
    inputs: Vec<(i64, Vec<u8>)>,
}

impl Merge {
    fn bytes(&self) -> usize {
        self.inputs.iter().map(|(_, bytes)| bytes.len()).sum()
    }

    /// The merged segments, column by column (`segment::merge`): the inputs in time
    /// order, as many to a segment as `MAX_ROWS` allows, so each covers a narrow range.
    /// `Err` names the input that cannot be decoded.
    fn run(&self) -> Result<Vec<Segment>, (i64, SegmentError)> {
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (id, bytes) in &self.inputs {
            inputs.push((*id, SegmentReader::open(bytes).map_err(|e| (*id, e))?));
        }
        inputs.sort_by_key(|(_, r)| r.zone().ts_min);
        let (ids, readers): (Vec<i64>, Vec<SegmentReader<'_>>) = inputs.into_iter().unzip();
        let mut runs = Vec::new();
        let (mut start, mut rows) = (0, 0);
        for (i, reader) in readers.iter().enumerate() {
            if rows + reader.zone().rows > segment::MAX_ROWS {
                runs.push(start..i);
                (start, rows) = (i, 0);
            }
            rows += reader.zone().rows;
        }
        runs.push(start..readers.len());
        runs.into_iter()
            .map(|run| {
                segment::merge(&readers[run.clone()]).map_err(|e| {
                    // Name the input whose rows do not decode.
                    let bad = run.clone().find(|&i| readers[i].events().is_err()).unwrap_or(run.start);
                    (ids[bad], e)
                })
            })
            .collect()
    }
}

/// Merges and writes a batch of site-days in parallel, then empties it.
fn write_merged(client: &mut SpiClient, batch: &mut Vec<Merge>) {
    let results = parallel::map(batch, Merge::bytes, Merge::run);
    for (job, result) in batch.iter().zip(results) {
        let segments = result.unwrap_or_else(|(id, e)| error!("segment {id} of tally.segments cannot be decoded: {e}"));
        for seg in &segments {
            insert_segment(client, job.site_id, job.day, seg);
        }
    }
    batch.clear();
}
