//! `GET /api/v1/realtime?site=<domain>`: server-sent events carrying the site's
//! visitors of the last five minutes (`event: visitors`, `data: {"visitors": n}`),
//! computed by `tally.query` with `date_range: "realtime"` when the stream opens and
//! then every [`INTERVAL`]. The dashboard's "current visitors" figure follows it.
//! A client that does not ask for `text/event-stream` (as `EventSource` does) gets
//! the count now as one JSON answer, `{"visitors": n}`, as Plausible's realtime
//! endpoint gives it: a script or a probe reads it without holding a stream open.
//!
//! Like every stats query it runs as the caller, so it needs a session (401 without)
//! and answers only for sites the caller may see. A bad, unknown or forbidden site is
//! refused before the stream starts (400 naming `site` or `site_id`). Every update
//! checks the credential again: a session signed out or ended by a password change, a
//! revoked key, or a site the caller may no longer see ends the stream with `event:
//! error`; a query that fails for another reason sends `event: error` and the stream
//! goes on.
//!
//! At most `--max-realtime-streams` streams are open at once (429 + Retry-After
//! beyond), and all of them end when the gateway begins to shut down, so a stop is
//! not held up by dashboards left open.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::query::answer;
use crate::state::AppState;
use crate::statement::Work;

/// How often the count is recomputed: often enough to look live, rarely enough that a
/// hundred open dashboards cost fifty small queries a second.
pub const INTERVAL: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/realtime", get(realtime))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(realtime))]
pub struct Api;

/// How long a client refused for too many streams waits before trying again.
const STREAMS_RETRY_AFTER_SECS: u64 = 10;

#[utoipa::path(
    get,
    path = "/api/v1/realtime",
    tag = "query",
    summary = "A stream of live stats (server-sent events)",
    params(("site" = String, Query, description = "The site's domain")),
    responses(
        (status = 200, description = "`text/event-stream` of `{\"visitors\": n}` updates when asked for (`Accept: text/event-stream`), else the count now as `{\"visitors\": n}`",
            content((String = "text/event-stream"), (serde_json::Value = "application/json"))),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn realtime(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let site = params
        .get("site")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("site", "site is required (the site's domain)"))?;
    let query = json!({ "site_id": site, "date_range": "realtime", "metrics": ["visitors"] });
    if !asks_for_stream(&headers) {
        let now = visitors(&state, &caller, &query, Some("realtime")).await?;
        return Ok(Json(json!({ "visitors": now })).into_response());
    }
    Ok(stream(state, caller, query).await?.into_response())
}

/// Whether the request's `Accept` names server-sent events.
fn asks_for_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/event-stream"))
}

/// The stream of `query`'s counts: now, then every [`INTERVAL`].
async fn stream(state: AppState, caller: Caller, query: Value) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = state
        .realtime_streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests { retry_after_secs: STREAMS_RETRY_AFTER_SECS })?;
    // The opening is audited; the updates repeat the same question.
    let first = visitors(&state, &caller, &query, Some("realtime")).await?;
    let mut ticks = tokio::time::interval(INTERVAL);
    // The first tick is immediate: the count just computed stands for it.
    ticks.tick().await;
    let closing = state.closing.clone();
    // The permit lives as long as the stream.
    let updates = stream::unfold(Some((state, caller, query, ticks, permit)), |open| async move {
        let (state, caller, query, mut ticks, permit) = open?;
        ticks.tick().await;
        let update = match caller.still_valid(&state).await {
            Ok(true) => visitors(&state, &caller, &query, None).await,
            Ok(false) => Err(ApiError::Unauthorized("signed out".into())),
            Err(e) => Err(e),
        };
        match update {
            Ok(n) => Some((Ok(count_event(n)), Some((state, caller, query, ticks, permit)))),
            Err(e @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_) | ApiError::NotFound(_) | ApiError::BadRequest { .. })) => {
                let end = Event::default().event("error").data(json!({ "error": e.to_string(), "final": true }).to_string());
                Some((Ok(end), None))
            }
            Err(e) => {
                tracing::warn!(error = %e, "realtime query failed");
                let retry = Event::default().event("error").data(json!({ "error": "could not count visitors, retrying" }).to_string());
                Some((Ok(retry), Some((state, caller, query, ticks, permit))))
            }
        }
    });
    let stream = stream::once(async move { Ok(count_event(first)) }).chain(updates).take_until(closing.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn visitors(state: &AppState, caller: &Caller, query: &Value, audit: Option<&str>) -> Result<u64, ApiError> {
    let answer = answer(state, caller, query, audit, Work::Query).await?;
    Ok(answer["results"][0]["metrics"][0].as_u64().unwrap_or(0))
}

fn count_event(visitors: u64) -> Event {
    Event::default().event("visitors").data(json!({ "visitors": visitors }).to_string())
}
