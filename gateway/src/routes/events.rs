//! `GET /api/v1/events`: the latest raw events of a site, newest first, read through
//! the extension's `tally.events` relation (hot and compacted alike), under the
//! caller's role: a site they may not see is a 404 like a site that does not exist.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// Enough for a "latest events" view; larger exports have their own endpoint.
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(list_events))
}

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
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let (site_id, domain): (i32, String) = tx
        .query_opt("SELECT site_id, domain FROM tally.sites WHERE domain = $1", &[&domain.to_ascii_lowercase()])
        .await?
        .map(|r| (r.get(0), r.get(1)))
        .ok_or_else(|| ApiError::NotFound("no such site".into()))?;
    let rows = tx
        .query(
            "SELECT ts, name, visitor_id, session_id, hostname, pathname, referrer, referrer_source, \
                    utm_source, utm_medium, utm_campaign, country, browser, os, device, props \
             FROM tally.events WHERE site_id = $1 ORDER BY ts DESC LIMIT $2",
            &[&site_id, &limit],
        )
        .await?;
    audit::record(&tx, "events.read", Some(site_id), json!({ "limit": limit }), caller.ip).await?;
    tx.commit().await?;
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
