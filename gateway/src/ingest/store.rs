//! Writes a batch into `tally.events_hot` in one transaction: claim the batch id and
//! the client event ids, then one binary COPY of the rows whose ids were free, then
//! COMMIT. All-or-nothing, so a batch is either committed (and acknowledged) or not
//! there at all; and idempotent, so writing the same batch twice stores it once.

use deadpool_postgres::Pool;
use futures_util::SinkExt;
use tally_core::event::{Event, COLUMNS};

use super::encoded::EncodedBatch;
use crate::error::DbError;

/// Claims the batch id and, only if it was free, the event ids; answers whether the
/// batch was new and which (site, id) pairs this transaction claimed. One statement, so
/// one round trip, whatever the number of ids.
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

/// What writing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Committed now; `rows` events stored, `duplicates` skipped for an event id
    /// stored before.
    Stored { rows: usize, duplicates: usize },
    /// This batch id was committed before (a replay after a lost answer or a crash).
    AlreadyStored,
}

/// Commits `batch`. Returns once the transaction has committed.
pub async fn write_batch(pool: &Pool, batch: &EncodedBatch) -> Result<Written, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let (sites, ids): (Vec<i32>, Vec<&str>) = batch.event_ids().map(|(_, site, id)| (site, id)).unzip();
    let claim = tx.prepare_cached(CLAIM).await?;
    let row = tx.query_one(&claim, &[&batch.id, &sites, &ids]).await?;
    if !row.get::<_, bool>(0) {
        return Ok(Written::AlreadyStored);
    }
    let claimed_sites: Option<Vec<i32>> = row.get(1);
    let claimed_ids: Option<Vec<String>> = row.get(2);
    let mut claimed: std::collections::HashSet<(i32, String)> =
        claimed_sites.unwrap_or_default().into_iter().zip(claimed_ids.unwrap_or_default()).collect();
    // A row with an id is kept only if this transaction claimed the id, and only the
    // first row with that id (a batch may repeat one).
    let mut keep = vec![true; batch.len()];
    for (i, site, id) in batch.event_ids() {
        keep[i] = claimed.remove(&(site, id.to_string()));
    }
    let (data, rows) = batch.copy_data(|i| keep[i]);
    if rows > 0 {
        let copy = format!("COPY tally.events_hot ({}) FROM STDIN (FORMAT binary)", COLUMNS.join(", "));
        let sink = tx.copy_in::<_, bytes::Bytes>(&copy).await?;
        futures_util::pin_mut!(sink);
        sink.send(data).await?;
        sink.finish().await?;
    }
    tx.commit().await?;
    Ok(Written::Stored { rows, duplicates: batch.len() - rows })
}

/// Commits `events` without event ids under a fresh batch id: for loaders and tests
/// that write generated traffic directly.
pub async fn write_events(pool: &Pool, events: &[Event]) -> Result<Written, DbError> {
    write_batch(pool, &EncodedBatch::encode(events.iter().map(|e| (e, None)))).await
}

/// Forgets idempotency records older than `keep` (`tally.prune_ingest_ids`); returns
/// how many were deleted.
pub async fn prune_ids(pool: &Pool, keep: std::time::Duration) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let keep = format!("{} seconds", keep.as_secs());
    let row = client.query_one("SELECT tally.prune_ingest_ids($1::text::interval)", &[&keep]).await?;
    Ok(row.get(0))
}
