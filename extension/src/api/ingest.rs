//! SQL functions of ingestion.

use pgrx::prelude::*;

use crate::ingest;

/// Stores one gateway batch in one statement: claims `batch_id` and the client event
/// ids, leaves out rows whose id was stored before (or repeats an earlier row's), and
/// COPYs the rest into `tally.events_hot`. `rows` is a binary COPY stream of
/// tally.event's columns; `event_ids` is NULL or holds each row's id (NULL for none).
/// Returns the rows stored, or NULL when `batch_id` was stored before (a replay).
/// Runs as the caller (INSERT on the tables, and BYPASSRLS because it COPYs, as the
/// gateway's role has); only tally_gateway may execute it (sql/auth.sql).
#[pg_extern(volatile, parallel_unsafe, requires = ["ingest"])]
fn ingest_batch(
    batch_id: Option<pgrx::Uuid>,
    rows: Option<&[u8]>,
    event_ids: default!(Option<Vec<Option<String>>>, "NULL"),
) -> Option<i64> {
    let (Some(batch_id), Some(rows)) = (batch_id, rows) else {
        ingest::reject_null();
    };
    ingest::ingest_batch(batch_id, rows, event_ids)
}
