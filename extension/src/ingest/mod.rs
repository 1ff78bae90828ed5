//! `tally.ingest_batch`: one gateway batch stored by one statement, so the gateway needs
//! one database round trip per batch and can run it in autocommit (its answer arrives
//! after COMMIT).
//!
//! The statement claims the batch id and the client event ids (the idempotency records
//! of sql/ingest.sql), leaves out rows whose event id was stored before or repeats an
//! earlier row of the batch, and COPYs the rest into `tally.events_hot` (see
//! [`copy_in`]). It is one transaction: all of it or none.

pub mod copy_in;
pub mod multi_insert;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashSet;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use tally_core::copy_frames::{self, Frame, COPY_HEADER, COPY_TRAILER};

/// What to do about a malformed call: every error of `tally.ingest_batch` carries it.
pub const HINT: &str = "tally.ingest_batch takes the rows for tally.events_hot as one binary COPY stream (header, one row per \
event with the columns of tally.event in order, trailer), as the gateway writes it, and event_ids NULL or with one element \
(NULL for none) per row.";

/// Claims the batch id and, only if it was free, the event ids; answers whether the
/// batch was new and which (site, id) pairs this transaction claimed. Two rows of one
/// batch with the same id: ON CONFLICT DO NOTHING keeps the first claim only.
const CLAIM: &str = "\
WITH batch AS (
    INSERT INTO tally.ingest_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1
), ids AS (
    INSERT INTO tally.ingest_event_ids (site_id, event_id)
    SELECT s, i FROM unnest($2::int[], $3::text[]) AS u(s, i) WHERE EXISTS (SELECT 1 FROM batch)
    ON CONFLICT DO NOTHING
    RETURNING site_id, event_id
)
SELECT EXISTS (SELECT 1 FROM batch), array_agg(site_id), array_agg(event_id) FROM ids";

thread_local! {
    /// [`CLAIM`], parsed and planned once per backend (the plan cache replans it when
    /// the tables change): a gateway connection calls it for every batch.
    static CLAIM_PLAN: OnceCell<OwnedPreparedStatement> = const { OnceCell::new() };
}

/// Raises a malformed call as SQLSTATE 22P04 (bad_copy_file_format) with [`HINT`].
fn reject(message: String) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_BAD_COPY_FILE_FORMAT, message, "tally.ingest_batch").set_hint(HINT).report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Raises a call without a batch id or rows.
pub fn reject_null() -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, "batch_id and rows must not be NULL", "tally.ingest_batch")
        .set_hint(HINT)
        .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Stores batch `batch_id`: `stream` is the binary COPY of its rows, `event_ids` the
/// client id of each row (or none at all). Returns the rows stored, or `None` when the
/// batch id was stored before (nothing is written again).
pub fn ingest_batch(batch_id: pgrx::Uuid, stream: &[u8], event_ids: Option<Vec<Option<String>>>) -> Option<i64> {
    let frames = copy_frames::frames(stream).unwrap_or_else(|e| reject(e.to_string()));
    let event_ids = event_ids.unwrap_or_else(|| vec![None; frames.len()]);
    if event_ids.len() != frames.len() {
        reject(format!("event_ids has {} elements for {} rows", event_ids.len(), frames.len()));
    }
    let mut claimed = claim(batch_id, &frames, &event_ids)?;
    // A row with an id is kept only if this call claimed the id, and only the first row
    // with that id.
    let kept: Vec<&Frame> = frames
        .iter()
        .zip(&event_ids)
        .filter(|(f, id)| id.as_ref().is_none_or(|id| claimed.remove(&(f.site_id, id.clone()))))
        .map(|(f, _)| f)
        .collect();
    if kept.is_empty() {
        return Some(0);
    }
    let fields = crate::storage::layout::present(crate::storage::layout::events_hot());
    let chunks = chunks(stream, &kept, fields);
    Some(copy_in::copy_into_events_hot(&chunks.iter().map(|c| c.as_ref()).collect::<Vec<_>>(), fields) as i64)
}

/// Claims the ids; `None` when the batch id was taken before.
fn claim(batch_id: pgrx::Uuid, frames: &[Frame], event_ids: &[Option<String>]) -> Option<HashSet<(i32, String)>> {
    let (sites, ids): (Vec<i32>, Vec<String>) =
        frames.iter().zip(event_ids).filter_map(|(f, id)| id.clone().map(|id| (f.site_id, id))).unzip();
    Spi::connect_mut(|client| {
        let args = [batch_id.into(), sites.into(), ids.into()];
        let table = CLAIM_PLAN
            .with(|plan| {
                let plan = plan.get_or_init(|| prepare_claim(client));
                client.update(plan, Some(1), &args)
            })
            .unwrap_or_else(|e| error!("tally.ingest_batch: claiming ids: {e}"));
        let row = table.first();
        let new = row.get::<bool>(1).ok().flatten().unwrap_or(false);
        if !new {
            return None;
        }
        let sites = row.get::<Vec<i32>>(2).ok().flatten().unwrap_or_default();
        let ids = row.get::<Vec<String>>(3).ok().flatten().unwrap_or_default();
        Some(sites.into_iter().zip(ids).collect())
    })
}

fn prepare_claim(client: &SpiClient<'_>) -> OwnedPreparedStatement {
    let types = [pg_sys::UUIDOID, pg_sys::INT4ARRAYOID, pg_sys::TEXTARRAYOID].map(PgOid::from);
    client.prepare_mut(CLAIM, &types).unwrap_or_else(|e| error!("tally.ingest_batch: preparing the claim: {e}")).keep()
}

/// The COPY stream of the `kept` rows of `stream` with `fields` fields each (the
/// columns `tally.events_hot` has): its header, the rows (adjacent ones as one slice,
/// a row of another release's columns reshaped), its trailer.
fn chunks<'a>(stream: &'a [u8], kept: &[&Frame], fields: usize) -> Vec<Cow<'a, [u8]>> {
    let mut out: Vec<Cow<'a, [u8]>> = vec![Cow::Borrowed(COPY_HEADER)];
    let mut run: Option<(usize, usize)> = None;
    for f in kept {
        match run.as_mut() {
            Some(last) if last.1 == f.start && f.fields == fields => last.1 = f.end,
            _ => {
                out.extend(run.take().map(|(s, e)| Cow::Borrowed(&stream[s..e])));
                if f.fields == fields {
                    run = Some((f.start, f.end));
                } else {
                    out.push(Cow::Owned(copy_frames::with_fields(&stream[f.start..f.end], f.fields, fields)));
                }
            }
        }
    }
    out.extend(run.map(|(s, e)| Cow::Borrowed(&stream[s..e])));
    out.push(Cow::Borrowed(COPY_TRAILER));
    out
}
