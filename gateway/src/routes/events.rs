//! `GET /api/v1/events`: the latest raw events of a site, newest first, hot and
//! compacted alike, under the caller's role: a site they may not see is a 404 like a
//! site that does not exist.
//!
//! The work is proportional to what is asked, not to the site's history: the hot rows
//! first, then segments newest first (by `max_ts`), each decoded only while it may
//! still hold one of the latest events. `tally.events ORDER BY ts DESC LIMIT n` would
//! decode every segment of the site to sort them.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_postgres::Row;

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::statement::{self, Cancellable, Work};

/// Enough for a "latest events" view; larger exports have their own endpoint.
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(list_events))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_events))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    summary = "The latest raw events of a site",
    params(("site" = String, Query, description = "The site's domain"), ("limit" = Option<i64>, Query, description = "How many events")),
    responses(
        (status = 200, description = "`{\"site\", \"events\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let domain = params.get("site").ok_or_else(|| ApiError::bad_request("site", "site is required (the site's domain)"))?;
    let limit = match params.get("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}")))?,
    };
    let mut client = Cancellable::new(state.pool.get().await?);
    let read = read_latest(&mut client, &state, &caller, domain, limit).await;
    client.disarm();
    let (domain, rows) = read?;
    let events: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "ts": r.get::<_, DateTime<Utc>>(0).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "name": r.get::<_, String>(1),
                "visitor_id": r.get::<_, i64>(2).to_string(),
                "session_id": r.get::<_, i64>(3).to_string(),
                "hostname": r.get::<_, String>(4),
                "pathname": r.get::<_, String>(5),
                "referrer": r.get::<_, Option<String>>(6),
                "referrer_source": r.get::<_, Option<String>>(7),
                "utm_source": r.get::<_, Option<String>>(8),
                "utm_medium": r.get::<_, Option<String>>(9),
                "utm_campaign": r.get::<_, Option<String>>(10),
                "country": r.get::<_, Option<String>>(11),
                "browser": r.get::<_, Option<String>>(12),
                "os": r.get::<_, Option<String>>(13),
                "device": r.get::<_, Option<String>>(14),
                "props": r.get::<_, Value>(15),
            })
        })
        .collect();
    Ok(Json(json!({ "site": domain, "events": events })))
}

/// The columns an event is shown with, as both the hot table and `tally.segment_rows` name them.
const COLUMNS: &str = "ts, name, visitor_id, session_id, hostname, pathname, referrer, referrer_source, \
                       utm_source, utm_medium, utm_campaign, country, browser, os, device, props";

/// The site's domain and its latest `limit` events (rows of [`COLUMNS`]), newest first,
/// read and audited in one transaction.
async fn read_latest(
    client: &mut Cancellable,
    state: &AppState,
    caller: &Caller,
    domain: &str,
    limit: i64,
) -> Result<(String, Vec<Row>), ApiError> {
    let tx = caller.transaction(client).await?;
    statement::limit(&tx, &state.config.timeouts, Work::Events).await?;
    let (site_id, domain): (i32, String) = tx
        .query_opt("SELECT site_id, domain FROM tally.sites WHERE domain = $1", &[&domain.to_ascii_lowercase()])
        .await?
        .map(|r| (r.get(0), r.get(1)))
        .ok_or_else(|| ApiError::NotFound("no such site".into()))?;
    let mut latest = tx
        .query(&format!("SELECT {COLUMNS} FROM tally.events_hot WHERE site_id = $1 ORDER BY ts DESC LIMIT $2"), &[&site_id, &limit])
        .await?;
    let segments = tx
        .query("SELECT segment_id, max_ts FROM tally.segments WHERE site_id = $1 ORDER BY max_ts DESC, segment_id DESC", &[&site_id])
        .await?;
    let newest_first = |rows: &mut Vec<Row>| rows.sort_by_key(|r| std::cmp::Reverse(r.get::<_, DateTime<Utc>>(0)));
    for segment in segments {
        let (segment_id, max_ts): (i64, DateTime<Utc>) = (segment.get(0), segment.get(1));
        // Every later segment ends before the oldest event kept: none of theirs is newer.
        if latest.len() >= limit as usize && latest.last().is_some_and(|r| r.get::<_, DateTime<Utc>>(0) >= max_ts) {
            break;
        }
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM (SELECT r.* FROM tally.segments s, tally.segment_rows(s.segment_id, s.data) r \
                     WHERE s.segment_id = $1) e ORDER BY ts DESC LIMIT $2"
                ),
                &[&segment_id, &limit],
            )
            .await?;
        latest.extend(rows);
        newest_first(&mut latest);
        latest.truncate(limit as usize);
    }
    newest_first(&mut latest);
    audit::record(&tx, "events.read", Some(site_id), json!({ "limit": limit }), caller.ip).await?;
    tx.commit().await?;
    Ok((domain, latest))
}
