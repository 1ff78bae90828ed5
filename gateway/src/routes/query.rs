//! `POST /api/v1/query`: a stats query (Plausible Stats API v2 shape) passed through to
//! `tally.query(jsonb)`. The extension validates it; a bad field comes back as SQLSTATE
//! 22023 with `field: <path>` in DETAIL and becomes a 400 naming that field.
//!
//! The query runs under the caller's role, so row-level security decides which sites it
//! reads: a site the caller may not see answers exactly like one that does not exist
//! (400, `site_id`, "no such site"). Each query is written to the audit log.
//!
//! [`answer`] is the one way the gateway runs a stats query: the CSV export and the
//! realtime stream use it too, so they answer exactly what the dashboard shows.
//!
//! `POST /api/v1/query/batch` (`{"queries": [...]}` → `{"results": [...]}`) answers
//! several queries in one call through `tally.query_batch`, which shares one scan
//! among those of the same site and range: the dashboard's panels go this way. A bad
//! query takes its place in `results` as `{"error": {"field", "message"}}` and the
//! others are still answered; a body that is not a list of at most 50 queries is a 400.
//! `include.imports` adds imported data to a query's answer here as in a single query
//! (the dashboard's imports toggle).
//! The batch is answered in `--query-parts` shares side by side, each on a connection
//! of its own (a backend answers from rollups on one core): each share runs in its own
//! transaction, so the shares of one call may see commits a few milliseconds apart.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::future::try_join_all;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;
use crate::statement::{self, Cancellable, Work};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/query", post(run_query)).route("/api/v1/query/batch", post(run_batch))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(run_query, run_batch))]
pub struct Api;

#[utoipa::path(
    post,
    path = "/api/v1/query",
    tag = "query",
    summary = "Run a stats query",
    request_body = crate::openapi::schemas::StatsQuery,
    params(("with_imported" = Option<bool>, Query, description = "Add imported data (Plausible's v1 `with_imported`), as `include.imports` does")),
    responses(
        (status = 200, description = "`{\"results\", \"meta\", \"query\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn run_query(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    JsonBody(mut query): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let with_imported = match params.get("with_imported").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("with_imported", "with_imported is true or false")),
    };
    if with_imported {
        take_imports(&mut query)?;
        return Ok(Json(crate::imports::merge::answer(&state, &caller, &query, Some("query"), Work::Query).await?));
    }
    Ok(Json(answer_with_imports(&state, &caller, &query, Some("query"), Work::Query).await?))
}

/// [`answer`], with imported data added when the query's `include.imports` asks for it
/// (`crate::imports::merge`): what a client's query gets, from the API, a shared link
/// or a CSV export alike.
pub async fn answer_with_imports(
    state: &AppState,
    caller: &Caller,
    query: &Value,
    audit: Option<&str>,
    work: Work,
) -> Result<Value, ApiError> {
    let mut query = query.clone();
    if take_imports(&mut query)? {
        return crate::imports::merge::answer(state, caller, &query, audit, work).await;
    }
    answer(state, caller, &query, audit, work).await
}

/// Takes `include.imports` out of `query` (the engine answers native data only):
/// whether it asked for imported data.
fn take_imports(query: &mut Value) -> Result<bool, ApiError> {
    let Some(include) = query.get_mut("include").and_then(Value::as_object_mut) else { return Ok(false) };
    let asked = match include.remove("imports") {
        None => false,
        Some(Value::Bool(flag)) => flag,
        Some(_) => return Err(ApiError::bad_request("include.imports", "imports is true or false")),
    };
    if include.is_empty() {
        query.as_object_mut().expect("a query with include is an object").remove("include");
    }
    Ok(asked)
}

/// Runs one stats query through `tally.query` as `caller` within the statement timeout
/// of `work` and returns its JSON answer, recording `audit` (the action's name: `query`,
/// `export`, ...) in the audit log, in the same transaction. `None` for the repeats of
/// an audited request (the realtime stream's updates), which would only flood the log.
/// Dropped midway (the client left), it cancels the query.
pub async fn answer(state: &AppState, caller: &Caller, query: &Value, audit: Option<&str>, work: Work) -> Result<Value, ApiError> {
    let mut client = Cancellable::new(state.pool.get().await?);
    let answer = answer_on(&mut client, state, caller, query, audit, work).await;
    client.disarm();
    answer
}

async fn answer_on(
    client: &mut Cancellable,
    state: &AppState,
    caller: &Caller,
    query: &Value,
    audit: Option<&str>,
    work: Work,
) -> Result<Value, ApiError> {
    let tx = caller.transaction(client).await?;
    statement::limit(&tx, &state.config.timeouts, work).await?;
    let started = std::time::Instant::now();
    let row = tx.query_one("SELECT tally.query($1)", &[query]).await.map_err(bad_query)?;
    let answer: Value = row.get(0);
    crate::metrics::query(answer_path(&answer), started.elapsed());
    if let Some(action) = audit {
        // An export's whole query is kept: what left the building, and how to redo it.
        let detail = if action == "export" {
            json!({ "site": query.get("site_id"), "query": query })
        } else {
            json!({ "site": query.get("site_id") })
        };
        audit::record(&tx, action, None, detail, caller.ip).await?;
    }
    tx.commit().await?;
    Ok(answer)
}

#[utoipa::path(
    post,
    path = "/api/v1/query/batch",
    tag = "query",
    summary = "Run several stats queries in one call",
    request_body = crate::openapi::schemas::QueryBatch,
    responses(
        (status = 200, description = "`{\"results\": [answer or {\"error\"}]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn run_batch(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody<Value>) -> Result<Json<Value>, ApiError> {
    Ok(Json(batch(&state, &caller, &body).await?))
}

/// Answers a batch body (`{"queries": [...]}`) as `caller`: `{"results": [...]}`. The
/// shared-link routes answer theirs this way too.
pub async fn batch(state: &AppState, caller: &Caller, body: &Value) -> Result<Value, ApiError> {
    // How many queries one batch may hold is the extension's to say (a 400 too).
    let queries = match body.get("queries") {
        Some(Value::Array(queries)) if !queries.is_empty() => queries,
        _ => return Err(ApiError::bad_request("queries", "expected a non-empty array of stats queries")),
    };
    // A query with `include.imports` is readied for the engine (crate::imports::merge),
    // which answers native data in the batch; the imported figures are added after. A
    // bad `include.imports` stays for the engine to name in that query's place.
    let mut engine_queries = queries.clone();
    let imports: Vec<bool> = engine_queries
        .iter_mut()
        .map(|query| {
            let mut taken = query.clone();
            let asked = take_imports(&mut taken);
            if asked.is_ok() {
                *query = taken;
            }
            asked.unwrap_or(false)
        })
        .collect();
    let prepared = try_join_all(engine_queries.iter().zip(&imports).map(|(query, &asked)| async move {
        match asked {
            true => crate::imports::merge::prepare(state, caller, query).await.map(Some),
            false => Ok(None),
        }
    }))
    .await?;
    for (query, prepared) in engine_queries.iter_mut().zip(&prepared) {
        if let Some(prepared) = prepared {
            query.clone_from(&prepared.engine);
        }
    }
    let parts = usize::from(state.config.query_parts).clamp(1, queries.len());
    let list = Value::Array(engine_queries);
    // Share 1 holds the heaviest unit (a site's scan, `tally_core::query::divide`); it
    // goes to the oldest connection taken, so scans keep landing on the few backends
    // whose memory is already mapped and whose segment caches hold the site. Spread by
    // the pool's order, a first scan on another backend zeroed up to 200 MB and took a
    // dashboard call from 180 to 390-440 ms (benches/RESULTS.md, eighth session).
    let mut clients = try_join_all((0..parts).map(|_| state.pool.get())).await?;
    clients.sort_by_key(deadpool_postgres::Object::id);
    let shares = try_join_all(clients.into_iter().enumerate().map(|(i, client)| {
        let part = i + 1;
        answer_share(Cancellable::new(client), state, caller, &list, (part, parts), (part == 1).then_some(queries.as_slice()))
    }))
    .await?;
    // Each answer is in the one share that holds it; the others have null there.
    let answers =
        (0..queries.len()).map(|i| shares.iter().map(|share| &share[i]).find(|answer| !answer.is_null()).cloned().unwrap_or(Value::Null));
    let results = try_join_all(answers.zip(prepared).map(|(answer, prepared)| async move {
        match prepared {
            Some(prepared) if answer.get("error").is_none() => prepared.finish(state, caller, answer).await,
            _ => Ok(answer),
        }
    }))
    .await?;
    Ok(json!({ "results": results }))
}

/// Answers share `part` of `parts` of the batch `list` in a transaction of its own on
/// `client` (a connection of its own, beside the other shares'), recording the audit of
/// `audit`'s queries there when given. Dropped midway (the client left, or another
/// share failed), it cancels its statement.
async fn answer_share(
    mut client: Cancellable,
    state: &AppState,
    caller: &Caller,
    list: &Value,
    share: (usize, usize),
    audit: Option<&[Value]>,
) -> Result<Vec<Value>, ApiError> {
    let answers = share_on(&mut client, state, caller, list, share, audit).await;
    client.disarm();
    answers
}

async fn share_on(
    client: &mut Cancellable,
    state: &AppState,
    caller: &Caller,
    list: &Value,
    (part, parts): (usize, usize),
    audit: Option<&[Value]>,
) -> Result<Vec<Value>, ApiError> {
    let tx = caller.transaction(client).await?;
    statement::limit(&tx, &state.config.timeouts, Work::Batch).await?;
    let (part, parts) = (part as i32, parts as i32);
    let started = std::time::Instant::now();
    let row = tx.query_one("SELECT tally.query_batch($1, $2, $3)", &[list, &part, &parts]).await.map_err(bad_query)?;
    let elapsed = started.elapsed();
    if let Some(queries) = audit {
        audit_sites(&tx, queries, caller).await?;
    }
    tx.commit().await?;
    match row.get::<_, Value>(0) {
        Value::Array(answers) => {
            // The other shares' answers are null here.
            crate::metrics::batch_share(answers.iter().filter(|a| !a.is_null()).map(answer_path), elapsed);
            Ok(answers)
        }
        other => Err(ApiError::Internal(anyhow::anyhow!("tally.query_batch answered {other} instead of an array"))),
    }
}

/// The path an answer took (`meta.path`: scan, rollups), for the query metrics.
fn answer_path(answer: &Value) -> &str {
    answer["meta"]["path"].as_str().unwrap_or("unknown")
}

/// One audit record per site the batch asked about, as for that many single queries.
async fn audit_sites(tx: &deadpool_postgres::Transaction<'_>, queries: &[Value], caller: &Caller) -> Result<(), ApiError> {
    let mut sites: Vec<&Value> = Vec::new();
    for site in queries.iter().filter_map(|q| q.get("site_id")) {
        if !sites.contains(&site) {
            sites.push(site);
        }
    }
    for site in sites {
        audit::record(tx, "query", None, json!({ "site": site }), caller.ip).await?;
    }
    Ok(())
}

/// A query the extension rejected becomes a 400 naming the field, one that asked for
/// more memory than `tally.query_memory_mb` a 400 on the whole `query` saying what to
/// ask for instead; anything else stays a database error.
pub(crate) fn bad_query(error: tokio_postgres::Error) -> ApiError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::INVALID_PARAMETER_VALUE {
            if let Some(field) = db.detail().and_then(|d| d.strip_prefix("field: ")) {
                return ApiError::bad_request(field, db.message());
            }
        }
        if *db.code() == SqlState::PROGRAM_LIMIT_EXCEEDED {
            return ApiError::bad_request("query", format!("{}. {}", db.message(), db.hint().unwrap_or_default()));
        }
    }
    error.into()
}
