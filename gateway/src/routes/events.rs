//! `GET /api/v1/events`: the latest raw events of a site, newest first, read through
//! the extension's `tally.events` relation (hot and compacted alike).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// Enough for a "latest events" view; larger exports have their own endpoint.
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(list_events))
}

async fn list_events(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    let domain = params.get("site").ok_or_else(|| ApiError::bad_request("site", "site is required (the site's domain)"))?;
    let limit = match params.get("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}")))?,
    };
    let site = state.sites.by_domain(&domain.to_ascii_lowercase()).await?.ok_or_else(|| ApiError::NotFound("no such site".into()))?;
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT ts, name, visitor_id, session_id, hostname, pathname, referrer, referrer_source, \
                    utm_source, utm_medium, utm_campaign, country, browser, os, device, props \
             FROM tally.events WHERE site_id = $1 ORDER BY ts DESC LIMIT $2",
            &[&site.site_id, &limit],
        )
        .await?;
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
    Ok(Json(json!({ "site": site.domain, "events": events })))
}
