//! Raw-event history through the bulk path: a file's events ([`super::events_file`])
//! are read on a blocking thread in chunks, each chunk COPYed into a temporary staging
//! table while the next is read, and `tally.import_events` stores them all as segments
//! and rollups, in one transaction: a bad record anywhere stops the import and nothing
//! of the file is stored.

use std::path::PathBuf;

use bytes::Bytes;
use deadpool_postgres::Object;
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::events_file::{Events, Format};
use super::FileError;
use crate::error::ApiError;

/// Records per COPY: a few megabytes of CSV, and how often progress is reported.
pub const CHUNK_ROWS: usize = 50_000;

/// Where an import is, for a progress bar or the status endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Records staged so far, of the total when the file says it.
    Staged { done: u64, total: Option<u64> },
    /// Every record is staged: `tally.import_events` is storing them.
    Storing { total: u64 },
}

/// Imports the events of `path` (read as `format`) into site `site_id` on `client`
/// (whose role may call `tally.import_events`), calling `progress` after each chunk.
/// Returns the events imported.
pub async fn import(
    client: &mut Object,
    site_id: i32,
    path: PathBuf,
    format: Format,
    mut progress: impl FnMut(Step),
) -> Result<u64, ApiError> {
    let mut events = tokio::task::spawn_blocking(move || Events::open(&path, format)).await.map_err(|e| ApiError::Internal(e.into()))??;
    let total = events.total;
    let (sender, mut chunks) = mpsc::channel::<Result<(Bytes, usize), FileError>>(2);
    let reader = tokio::task::spawn_blocking(move || loop {
        let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(8 << 20));
        let mut rows = 0;
        let chunk = loop {
            match events.next_into(site_id, &mut out) {
                Ok(true) if rows + 1 == CHUNK_ROWS => break Ok(rows + 1),
                Ok(true) => rows += 1,
                Ok(false) => break Ok(rows),
                Err(e) => break Err(e),
            }
        };
        let chunk = chunk.and_then(|rows| {
            out.into_inner().map(|bytes| (Bytes::from(bytes), rows)).map_err(|e| FileError::file(events.file(), e.to_string()))
        });
        let last = !matches!(chunk, Ok((_, CHUNK_ROWS)));
        if sender.blocking_send(chunk).is_err() || last {
            return;
        }
    });

    let tx = client.transaction().await?;
    tx.batch_execute("CREATE TEMPORARY TABLE tally_import_staging (LIKE tally.event) ON COMMIT DROP").await?;
    let mut done = 0u64;
    while let Some(chunk) = chunks.recv().await {
        let (bytes, rows) = chunk?;
        if rows == 0 {
            break;
        }
        let sink = tx.copy_in("COPY pg_temp.tally_import_staging FROM STDIN (FORMAT csv)").await?;
        futures_util::pin_mut!(sink);
        sink.send(bytes).await?;
        sink.finish().await?;
        done += rows as u64;
        progress(Step::Staged { done, total });
    }
    reader.await.map_err(|e| ApiError::Internal(e.into()))?;
    progress(Step::Storing { total: done });
    let stored: i64 = tx.query_one("SELECT tally.import_events('pg_temp.tally_import_staging')", &[]).await.map_err(refused)?.get(0);
    tx.commit().await?;
    Ok(stored as u64)
}

/// What `tally.import_events` refused about the rows (a site that does not exist, a
/// value it cannot store) is the file's fault: a 400 with its message.
fn refused(e: tokio_postgres::Error) -> ApiError {
    match e.as_db_error() {
        Some(db) if ["22", "23", "P0"].iter().any(|class| db.code().code().starts_with(class)) => {
            ApiError::bad_request("file", format!("{}; nothing of the file was imported", db.message()))
        }
        _ => e.into(),
    }
}
