//! `GET /api/v1/realtime?site=<domain>`: server-sent events carrying the site's
//! visitors of the last five minutes (`event: visitors`, `data: {"visitors": n}`),
//! computed by `tally.query` with `date_range: "realtime"` when the stream opens and
//! then every [`INTERVAL`]. The dashboard's "current visitors" figure follows it.
//!
//! Like every stats query it runs as the caller, so it needs a session (401 without)
//! and answers only for sites the caller may see. A bad, unknown or forbidden site is
//! refused before the stream starts (400 naming `site` or `site_id`); a query that
//! fails later sends `event: error` and the stream goes on (a revoked session stops
//! nothing already open until the page closes the stream).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
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

async fn realtime(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let site = params
        .get("site")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("site", "site is required (the site's domain)"))?;
    let query = json!({ "site_id": site, "date_range": "realtime", "metrics": ["visitors"] });
    // The opening is audited; the updates repeat the same question.
    let first = visitors(&state, &caller, &query, Some("realtime")).await?;
    let mut ticks = tokio::time::interval(INTERVAL);
    // The first tick is immediate: the count just computed stands for it.
    ticks.tick().await;
    let updates = stream::unfold((state, caller, query, ticks), |(state, caller, query, mut ticks)| async move {
        ticks.tick().await;
        let event = match visitors(&state, &caller, &query, None).await {
            Ok(n) => count_event(n),
            Err(e) => {
                tracing::warn!(error = %e, "realtime query failed");
                Event::default().event("error").data(json!({ "error": "could not count visitors, retrying" }).to_string())
            }
        };
        Some((Ok(event), (state, caller, query, ticks)))
    });
    let stream = stream::once(async move { Ok(count_event(first)) }).chain(updates);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn visitors(state: &AppState, caller: &Caller, query: &Value, audit: Option<&str>) -> Result<u64, ApiError> {
    let answer = answer(state, caller, query, audit, Work::Query).await?;
    Ok(answer["results"][0]["metrics"][0].as_u64().unwrap_or(0))
}

fn count_event(visitors: u64) -> Event {
    Event::default().event("visitors").data(json!({ "visitors": visitors }).to_string())
}
