//! Imports (docs/import.md): what other analytics tools exported, loaded beside Tally's
//! own data.
//! - [`aggregate`]: Plausible's imported tables (per site and day: visitors, sources,
//!   pages, ...), loaded all or nothing from [`plausible_csv`] (Plausible's CSV export)
//!   or [`ga4`] (Google Analytics 4 Data API reports), and [`merge`]d into the answers
//!   of queries that ask for `include.imports`.
//! - [`events_file`] and [`bulk`]: raw-event history (CSV, NDJSON, Parquet) streamed
//!   into a staging table and stored by `tally.import_events`, from the CLI
//!   (`tally-gateway import`) or the HTTP API (`routes::imports`).
//!
//! A file that cannot be loaded is a [`FileError`] naming the file, the row and the
//! field, and nothing of it is stored.

pub mod aggregate;
pub mod bulk;
pub mod cli;
pub mod events_file;
pub mod ga4;
pub mod merge;
pub mod plausible_csv;

use deadpool_postgres::Transaction;

use crate::error::ApiError;
use events_file::Format;

/// Why a file cannot be imported: where (file, row from 1, field) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}{}: {message}", row.map(|r| format!(", row {r}")).unwrap_or_default(), field.as_deref().map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct FileError {
    pub file: String,
    /// The data row (1 = the first after a header), when one is at fault.
    pub row: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl FileError {
    /// An error of the whole file.
    pub fn file(file: &str, message: impl Into<String>) -> FileError {
        FileError { file: file.to_owned(), row: None, field: None, message: message.into() }
    }

    /// An error of a column of the whole file (its header or schema).
    pub fn column(file: &str, field: &str, message: impl Into<String>) -> FileError {
        FileError { file: file.to_owned(), row: None, field: Some(field.to_owned()), message: message.into() }
    }

    /// An error of one field of one row.
    pub fn at(file: &str, row: u64, field: &str, message: impl Into<String>) -> FileError {
        FileError { file: file.to_owned(), row: Some(row), field: Some(field.to_owned()), message: message.into() }
    }
}

impl From<FileError> for ApiError {
    /// A 400 whose field is the file's field at fault (or `file`), and whose message
    /// names the file and row too.
    fn from(e: FileError) -> ApiError {
        ApiError::bad_request(e.field.clone().unwrap_or_else(|| "file".into()), format!("{e}; nothing of the file was imported"))
    }
}

/// What a file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FileKind {
    /// Plausible's CSV export: a `.zip`, or one `imported_<table>_<dates>.csv`.
    Plausible,
    /// Google Analytics 4 reports: `.json`.
    Ga4,
    /// Raw events.
    Events(Format),
}

impl FileKind {
    /// The kind of the file named `name`; `None` when the name says nothing known.
    pub fn of(name: &str) -> Option<FileKind> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") || plausible_csv::is_table_file(name) {
            return Some(FileKind::Plausible);
        }
        if ga4::is_export(name) {
            return Some(FileKind::Ga4);
        }
        Format::of(&lower).map(FileKind::Events)
    }
}

/// Loads the imported aggregates of the file `name` (its `bytes`, of `kind`) into site
/// `site_id` in `tx`: the new import's id and the rows stored.
pub async fn load_aggregates(
    tx: &Transaction<'_>,
    site_id: i32,
    name: &str,
    bytes: Vec<u8>,
    kind: FileKind,
) -> Result<(i64, usize), ApiError> {
    let name = name.to_owned();
    let import = tokio::task::spawn_blocking(move || match kind {
        FileKind::Plausible => plausible_csv::read(&name, &bytes),
        FileKind::Ga4 => ga4::read(&name, &bytes),
        FileKind::Events(_) => Err(FileError::file(&name, "raw events are imported with tally.import_events, not as aggregates")),
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))??;
    let id = aggregate::store(tx, site_id, &import).await?;
    Ok((id, import.tables.iter().map(|t| t.rows.len()).sum()))
}
