//! `GET /api/v1/audit?limit=<1..500>&before=<id>`: the audit log, newest first, for
//! administrators (Postgres grants SELECT on it to tally_admin only: others get 403).
//! Pages by id: pass the `next` of an answer as `before` for the following page.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

const MAX_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list_audit))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_audit))]
pub struct Api;

fn int_param(params: &HashMap<String, String>, name: &str, default: i64, range: std::ops::RangeInclusive<i64>) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| ApiError::bad_request(name, format!("{name} must be an integer from {} to {}", range.start(), range.end()))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "The audit log, newest first (administrators)",
    params(("limit" = Option<i64>, Query, description = "1 to 500"), ("before" = Option<i64>, Query, description = "The `next` of the previous page")),
    responses(
        (status = 200, description = "`{\"entries\": [...], \"next\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = int_param(&params, "limit", 100, 1..=MAX_LIMIT)?;
    let before = int_param(&params, "before", i64::MAX, 1..=i64::MAX)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let rows = tx
        .query(
            "SELECT audit_id, at, actor::text, user_id, action, site_id, detail, host(ip) FROM tally.audit_log \
             WHERE audit_id < $1 ORDER BY audit_id DESC LIMIT $2",
            &[&before, &limit],
        )
        .await?;
    tx.commit().await?;
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, i64>(0),
                "at": r.get::<_, DateTime<Utc>>(1).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "actor": r.get::<_, String>(2),
                "user_id": r.get::<_, Option<i32>>(3),
                "action": r.get::<_, String>(4),
                "site_id": r.get::<_, Option<i32>>(5),
                "detail": r.get::<_, Value>(6),
                "ip": r.get::<_, Option<String>>(7),
            })
        })
        .collect();
    let next = (entries.len() as i64 == limit).then(|| rows.last().map(|r| r.get::<_, i64>(0))).flatten();
    Ok(Json(json!({ "entries": entries, "next": next })))
}
