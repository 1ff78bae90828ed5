//! Writes a batch into `tally.events_hot` with one statement, `tally.ingest_batch`
//! (extension/src/ingest/), in autocommit: one database round trip per batch. The
//! function claims the batch id and the client event ids and COPYs the rows whose ids
//! were free, all in the statement's own transaction; tokio-postgres answers a query only
//! at ReadyForQuery, which Postgres sends after that transaction's COMMIT. So a batch is
//! either committed (and acknowledged) or not there at all, and writing the same batch
//! twice stores it once.

use deadpool_postgres::Pool;
use tally_core::event::Event;

use super::encoded::EncodedBatch;
use crate::error::DbError;

/// The one statement of a batch. Prepared once per connection (`prepare_cached`), then
/// each batch is one Bind/Execute/Sync exchange.
const INGEST: &str = "SELECT tally.ingest_batch($1, $2, $3)";

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
    let client = pool.get().await?;
    let ingest = client.prepare_cached(INGEST).await?;
    let row = client.query_one(&ingest, &[&batch.id, &batch.copy_data(), &batch.event_ids()]).await?;
    Ok(match row.get::<_, Option<i64>>(0) {
        None => Written::AlreadyStored,
        Some(rows) => {
            let rows = usize::try_from(rows).unwrap_or_default();
            Written::Stored { rows, duplicates: batch.len().saturating_sub(rows) }
        }
    })
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
