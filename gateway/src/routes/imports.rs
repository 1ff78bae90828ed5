//! Imports through the API, for files too long to import in a request (docs/import.md):
//! - `POST /api/v1/imports` `{"site_id": domain, "file": name}` starts importing the
//!   file `name` of `--import-dir` into the site and answers 202 with the job;
//! - `GET /api/v1/imports/{id}` reports it: `state` (running, done, failed),
//!   `rows_done`, `rows_total` (when known), `error` (file, row and field).
//!
//! The file is named, not uploaded: a long import is gigabytes, which an upload would
//! have to push through proxies and `--max-body-bytes`, and hold on disk anyway; copied
//! into the import directory (resumably, with rsync) it is read where it lies. A name
//! that leads outside that directory is refused. Administrators only: raw events go in
//! through `tally.import_events`, a maintenance function the gateway's role runs for
//! them; imported aggregates are stored as the administrator, under row-level security.

use std::path::{Path as FsPath, PathBuf};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::imports::bulk::{self, Step};
use crate::imports::{self, FileKind};
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/imports", post(start)).route("/api/v1/imports/{id}", get(status))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(start, status))]
pub struct Api;

#[derive(Deserialize, utoipa::ToSchema)]
struct NewImport {
    /// The site's domain.
    site_id: String,
    /// The file's name in the gateway's import directory (`--import-dir`).
    file: String,
}

fn admins_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.user.admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only administrators import data".into()))
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "imports",
    summary = "Import a file of the import directory into a site (administrators)",
    request_body = NewImport,
    responses(
        (status = 202, description = "The job: `{\"id\", \"state\": \"running\", ...}`; poll GET /api/v1/imports/{id}", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewImport>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admins_only(&caller)?;
    let dir = state
        .config
        .import_dir
        .clone()
        .ok_or_else(|| ApiError::bad_request("file", "this gateway imports no files: start it with --import-dir (TALLY_IMPORT_DIR)"))?;
    let path = inside(&dir, &body.file)?;
    let kind = FileKind::of(&body.file).ok_or_else(|| {
        ApiError::bad_request(
            "file",
            "unknown kind of file: Plausible's export is .zip, GA4 reports .json, raw events are .csv, .ndjson or .parquet",
        )
    })?;
    let domain = body.site_id.trim().to_ascii_lowercase();
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site_id: i32 = tx
        .query_opt("SELECT site_id FROM tally.sites WHERE domain = $1", &[&domain])
        .await?
        .ok_or_else(|| ApiError::bad_request("site_id", "no such site"))?
        .get(0);
    audit::record(&tx, "import", Some(site_id), json!({ "file": body.file }), caller.ip).await?;
    tx.commit().await?;
    drop(client);
    let id: i64 = state
        .pool
        .get()
        .await?
        .query_one(
            "INSERT INTO tally.import_jobs (site_id, file, created_by) VALUES ($1, $2, $3) RETURNING job_id",
            &[&site_id, &body.file, &caller.user.id],
        )
        .await?
        .get(0);
    tokio::spawn(run(state.clone(), caller, id, site_id, path, body.file.clone(), kind));
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id, "site_id": domain, "file": body.file, "state": "running", "rows_done": 0 }))))
}

/// `name` within `dir`, refused when it is not a file there (`..`, a link leading out).
fn inside(dir: &FsPath, name: &str) -> Result<PathBuf, ApiError> {
    let bad = |why: &str| ApiError::bad_request("file", format!("{name:?}: {why}"));
    let root = dir.canonicalize().map_err(|_| bad("the import directory cannot be read"))?;
    let path = root.join(name).canonicalize().map_err(|_| bad("no such file in the import directory"))?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(bad("no such file in the import directory"));
    }
    Ok(path)
}

/// Imports the file and records how it went in `tally.import_jobs`.
async fn run(state: AppState, caller: Caller, id: i64, site_id: i32, path: PathBuf, name: String, kind: FileKind) {
    let outcome = match kind {
        FileKind::Events(format) => events(&state, id, site_id, path, format).await,
        FileKind::Plausible | FileKind::Ga4 => aggregates(&state, &caller, site_id, &path, &name, kind).await,
    };
    let (done_state, rows, error) = match outcome {
        Ok(rows) => ("done", Some(rows as i64), None),
        Err(e) => ("failed", None, Some(e.to_string())),
    };
    let recorded = async {
        state
            .pool
            .get()
            .await?
            .execute(
                "UPDATE tally.import_jobs SET state = $2, rows_done = coalesce($3, rows_done), rows_total = coalesce($3, rows_total),
                        error = $4, finished_at = now() WHERE job_id = $1",
                &[&id, &done_state, &rows, &error],
            )
            .await?;
        Ok::<_, ApiError>(())
    };
    if let Err(e) = recorded.await {
        tracing::error!(job = id, error = %e, "the outcome of an import could not be recorded");
    }
}

async fn events(
    state: &AppState,
    id: i64,
    site_id: i32,
    path: PathBuf,
    format: crate::imports::events_file::Format,
) -> Result<u64, ApiError> {
    let mut client = state.pool.get().await?;
    // Progress goes to the job row on another connection, a chunk at a time.
    let (sender, mut steps) = tokio::sync::watch::channel(None::<(u64, Option<u64>)>);
    let pool = state.pool.clone();
    let reporter = tokio::spawn(async move {
        while steps.changed().await.is_ok() {
            let Some((done, total)) = *steps.borrow_and_update() else { continue };
            let (done, total) = (done as i64, total.map(|t| t as i64));
            if let Ok(db) = pool.get().await {
                let _ = db
                    .execute("UPDATE tally.import_jobs SET rows_done = $2, rows_total = $3 WHERE job_id = $1", &[&id, &done, &total])
                    .await;
            }
        }
    });
    let stored = bulk::import(&mut client, site_id, path, format, |step| {
        let _ = sender.send(Some(match step {
            Step::Staged { done, total } => (done, total),
            Step::Storing { total } => (total, Some(total)),
        }));
    })
    .await;
    drop(sender);
    let _ = reporter.await;
    stored
}

async fn aggregates(state: &AppState, caller: &Caller, site_id: i32, path: &FsPath, name: &str, kind: FileKind) -> Result<u64, ApiError> {
    let bytes = tokio::fs::read(path).await.map_err(|e| ApiError::bad_request("file", format!("{name}: cannot be read: {e}")))?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let (_, rows) = imports::load_aggregates(&tx, site_id, name, bytes, kind).await?;
    tx.commit().await?;
    Ok(rows as u64)
}

#[utoipa::path(
    get,
    path = "/api/v1/imports/{id}",
    tag = "imports",
    summary = "How an import is going (administrators)",
    params(("id" = i64, Path, description = "The import job's id")),
    responses(
        (status = 200, description = "`{\"id\", \"site_id\", \"file\", \"state\", \"rows_done\", \"rows_total\", \"error\", \"started_at\", \"finished_at\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn status(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    admins_only(&caller)?;
    let row = state
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT s.domain, j.file, j.state, j.rows_done, j.rows_total, j.error, j.started_at::text, j.finished_at::text
             FROM tally.import_jobs j JOIN tally.sites s USING (site_id) WHERE j.job_id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::NotFound("no such import".into()))?;
    Ok(Json(json!({
        "id": id,
        "site_id": row.get::<_, String>(0),
        "file": row.get::<_, String>(1),
        "state": row.get::<_, String>(2),
        "rows_done": row.get::<_, i64>(3),
        "rows_total": row.get::<_, Option<i64>>(4),
        "error": row.get::<_, Option<String>>(5),
        "started_at": row.get::<_, String>(6),
        "finished_at": row.get::<_, Option<String>>(7),
    })))
}
