//! Alert rules, their history and deliveries:
//!
//! - `GET/POST /api/v1/alerts/rules?site=<domain>`: list, create (201)
//! - `GET/PUT/DELETE /api/v1/alerts/rules/{id}`: read, replace, delete (204)
//! - `POST /api/v1/alerts/rules/{id}/mute` `{"until": RFC 3339 | null}`
//! - `POST /api/v1/alerts/rules/{id}/test`: a test notification to every channel now,
//!   answered per channel with `{"channel", "ok", "error"}`
//! - `GET /api/v1/alerts/history?site=<domain>[&rule=<id>][&limit=]`
//! - `GET /api/v1/alerts/deliveries?rule=<id>[&limit=]`, each with its attempt log
//!
//! Rules are checked by the extension (`tally.alert_rule_normalize`): a bad field is
//! SQLSTATE 22023 naming it, answered 400 `{"error", "field"}`. Every statement runs
//! under the caller's role (sql/alerts.sql): analysts and admins of a site manage its
//! alerts, others get 403, and a site or rule they cannot see does not exist (404).
//! Rule changes are written to the audit log.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use tally_core::alerts::Channel;

use super::json_body::JsonBody;
use super::query::bad_query;
use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// Most rows one history or delivery listing returns.
const MAX_LIMIT: i64 = 1000;

/// A rule as the API shows it: its JSON (tally.alert_rule_json) with id, site, mute,
/// creation time and the last evaluation's state.
const RULE: &str = "\
SELECT tally.alert_rule_json(r) || jsonb_build_object(
    'id', r.rule_id, 'site', s.domain, 'muted_until', r.muted_until, 'created_at', r.created_at,
    'state', (SELECT to_jsonb(st) - 'rule_id' - 'site_id' FROM tally.alert_state st WHERE st.rule_id = r.rule_id))
FROM tally.alert_rules r JOIN tally.sites s USING (site_id)";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts/rules", get(list_rules).post(create_rule))
        .route("/api/v1/alerts/rules/{id}", get(read_rule).put(replace_rule).delete(delete_rule))
        .route("/api/v1/alerts/rules/{id}/mute", post(mute_rule))
        .route("/api/v1/alerts/rules/{id}/test", post(test_rule))
        .route("/api/v1/alerts/history", get(history))
        .route("/api/v1/alerts/deliveries", get(deliveries))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_rules, create_rule, read_rule, replace_rule, delete_rule, mute_rule, test_rule, history, deliveries))]
pub struct Api;

type Params = Query<HashMap<String, String>>;

/// The site named by `?site=<domain>`, as the caller sees it.
async fn site_id(tx: &Transaction<'_>, params: &HashMap<String, String>) -> Result<i32, ApiError> {
    let domain = params.get("site").ok_or_else(|| ApiError::bad_request("site", "site is required (the site's domain)"))?;
    let row = tx.query_opt("SELECT site_id FROM tally.sites WHERE domain = $1", &[&domain.to_ascii_lowercase()]).await?;
    row.map(|r| r.get(0)).ok_or_else(|| ApiError::NotFound("no such site".into()))
}

/// Why a rule could not be changed: the caller sees it but may not change it (403), or
/// it does not exist for them (404).
async fn unchangeable(tx: &Transaction<'_>, id: i64) -> ApiError {
    match tx.query_opt("SELECT 1 FROM tally.alert_rules WHERE rule_id = $1", &[&id]).await {
        Ok(Some(_)) => ApiError::Forbidden("not allowed".into()),
        Ok(None) => no_rule(),
        Err(e) => e.into(),
    }
}

fn rule_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::bad_request("id", "a rule id is an integer"))
}

/// An integer query parameter `name` from 1 to [`MAX_LIMIT`], `default` when absent.
fn number(params: &HashMap<String, String>, name: &str, default: Option<i64>) -> Result<Option<i64>, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(name, format!("{name} is a positive integer"))),
    }
}

fn limit(params: &HashMap<String, String>) -> Result<i64, ApiError> {
    Ok(number(params, "limit", Some(100))?.unwrap_or(100).min(MAX_LIMIT))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    summary = "The alert rules of a site",
    params(("site" = String, Query, description = "The site's domain")),
    responses(
        (status = 200, description = "`{\"rules\": [rule]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list_rules(State(state): State<AppState>, caller: Caller, Query(params): Params) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site = site_id(&tx, &params).await?;
    let rows = tx.query(&format!("{RULE} WHERE r.site_id = $1 ORDER BY r.rule_id"), &[&site]).await?;
    tx.commit().await?;
    Ok(Json(json!({ "rules": rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>() })))
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    summary = "Create an alert rule",
    request_body = crate::openapi::schemas::AlertRule,
    params(("site" = String, Query, description = "The site's domain")),
    responses(
        (status = 201, description = "The rule as stored", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Params,
    JsonBody(rule): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site = site_id(&tx, &params).await?;
    let id: i64 = tx.query_one("SELECT tally.create_alert_rule($1, $2)", &[&site, &rule]).await.map_err(bad_query)?.get(0);
    let created: Value = tx.query_one(&format!("{RULE} WHERE r.rule_id = $1"), &[&id]).await?.get(0);
    audit::record(&tx, "alert_rule.create", Some(site), json!({ "rule_id": id }), caller.ip).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "One alert rule",
    params(("id" = i64, Path, description = "The rule id")),
    responses(
        (status = 200, description = "The rule, its mute and its last evaluation", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn read_rule(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = rule_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx.query_opt(&format!("{RULE} WHERE r.rule_id = $1"), &[&id]).await?;
    tx.commit().await?;
    row.map(|r| Json(r.get(0))).ok_or_else(no_rule)
}

fn no_rule() -> ApiError {
    ApiError::NotFound("no such alert rule".into())
}

#[utoipa::path(
    put,
    path = "/api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "Replace an alert rule",
    request_body = crate::openapi::schemas::AlertRule,
    params(("id" = i64, Path, description = "The rule id")),
    responses(
        (status = 200, description = "The rule as stored", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn replace_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(rule): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = rule_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let found: bool = tx.query_one("SELECT tally.update_alert_rule($1, $2)", &[&id, &rule]).await.map_err(bad_query)?.get(0);
    if !found {
        return Err(unchangeable(&tx, id).await);
    }
    let updated: Value = tx.query_one(&format!("{RULE} WHERE r.rule_id = $1"), &[&id]).await?.get(0);
    audit::record(&tx, "alert_rule.update", None, json!({ "rule_id": id }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

#[utoipa::path(
    delete,
    path = "/api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "Delete an alert rule",
    params(("id" = i64, Path, description = "The rule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn delete_rule(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = rule_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let deleted = tx.execute("DELETE FROM tally.alert_rules WHERE rule_id = $1", &[&id]).await?;
    if deleted == 0 {
        return Err(unchangeable(&tx, id).await);
    }
    audit::record(&tx, "alert_rule.delete", None, json!({ "rule_id": id }), caller.ip).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules/{id}/mute",
    tag = "alerts",
    summary = "Mute or unmute an alert rule",
    request_body = crate::openapi::schemas::Mute,
    params(("id" = i64, Path, description = "The rule id")),
    responses(
        (status = 200, description = "The rule as stored", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn mute_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = rule_id(&id)?;
    let until: Option<DateTime<Utc>> = match body.get("until") {
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|e| ApiError::bad_request("until", format!("until is an RFC 3339 time or null: {e}")))?
                .with_timezone(&Utc),
        ),
        _ => return Err(ApiError::bad_request("until", "until is required: an RFC 3339 time, or null to unmute")),
    };
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let found: bool = tx.query_one("SELECT tally.mute_alert_rule($1, $2)", &[&id, &until]).await?.get(0);
    if !found {
        return Err(unchangeable(&tx, id).await);
    }
    let muted: Value = tx.query_one(&format!("{RULE} WHERE r.rule_id = $1"), &[&id]).await?.get(0);
    audit::record(&tx, "alert_rule.mute", None, json!({ "rule_id": id, "until": until.map(|u| u.to_rfc3339()) }), caller.ip).await?;
    tx.commit().await?;
    Ok(Json(muted))
}

/// Sends a test notification to each channel of the rule, all at once, and reports
/// each channel's outcome: whether it is reachable and accepts what Tally sends.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules/{id}/test",
    tag = "alerts",
    summary = "Send a test notification to every channel",
    params(("id" = i64, Path, description = "The rule id")),
    responses(
        (status = 200, description = "Per channel `{\"channel\", \"ok\", \"error\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn test_rule(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = rule_id(&id)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let row = tx
        .query_opt(
            "SELECT jsonb_build_object('event', 'alert.test', 'status', 'test', 'at', now(), 'rule_id', r.rule_id, 'rule', r.name, \
                    'site_id', r.site_id, 'site', s.domain, 'metric', r.metric, 'window_minutes', r.window_minutes), r.channels \
             FROM tally.alert_rules r JOIN tally.sites s USING (site_id) WHERE r.rule_id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(no_rule)?;
    tx.commit().await?;
    drop(client);
    let payload: Value = row.get(0);
    let channels: Value = row.get(1);
    let sends = channels.as_array().into_iter().flatten().enumerate().map(|(i, raw)| {
        let (payload, notifier) = (&payload, &state.notifier);
        async move {
            let channel = Channel::parse(raw, &format!("channels[{i}]"), &mut String::new).map_err(|e| e.to_string());
            let (public, outcome) = match channel {
                Ok(channel) => (channel.public_json(), notifier.send(&channel, &uuid::Uuid::new_v4().to_string(), payload).await),
                Err(e) => (raw.clone(), Err(e)),
            };
            json!({ "channel": public, "ok": outcome.is_ok(), "error": outcome.err() })
        }
    });
    let results = futures_util::future::join_all(sends).await;
    Ok(Json(json!({ "results": results })))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/history",
    tag = "alerts",
    summary = "Firings and recoveries of a site",
    params(("site" = String, Query, description = "The site's domain"), ("rule" = Option<i64>, Query, description = "Only this rule"), ("limit" = Option<i64>, Query, description = "At most this many rows (1 to 1000, default 100)")),
    responses(
        (status = 200, description = "`{\"history\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn history(State(state): State<AppState>, caller: Caller, Query(params): Params) -> Result<Json<Value>, ApiError> {
    let rule = number(&params, "rule", None)?;
    let limit = limit(&params)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site = site_id(&tx, &params).await?;
    let rows = tx
        .query(
            "SELECT jsonb_build_object('history_id', h.history_id, 'rule_id', h.rule_id, 'status', h.status, 'at', h.at, \
                    'value', h.value, 'baseline', h.baseline, 'score', h.score, 'payload', h.payload) \
             FROM tally.alert_history h WHERE h.site_id = $1 AND ($2::bigint IS NULL OR h.rule_id = $2) \
             ORDER BY h.at DESC, h.history_id DESC LIMIT $3",
            &[&site, &rule, &limit],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({ "history": rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>() })))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/deliveries",
    tag = "alerts",
    summary = "Deliveries of a rule, each with its attempt log",
    params(("rule" = i64, Query, description = "The rule id"), ("limit" = Option<i64>, Query, description = "At most this many rows (1 to 1000, default 100)")),
    responses(
        (status = 200, description = "`{\"deliveries\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn deliveries(State(state): State<AppState>, caller: Caller, Query(params): Params) -> Result<Json<Value>, ApiError> {
    let rule = number(&params, "rule", None)?.ok_or_else(|| ApiError::bad_request("rule", "rule is required (a rule id)"))?;
    let limit = limit(&params)?;
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let rows = tx
        .query(
            "SELECT jsonb_build_object('delivery_id', d.delivery_id, 'history_id', d.history_id, 'channel', d.channel - 'secret', \
                    'status', d.status, 'attempts', d.attempts, 'next_attempt_at', d.next_attempt_at, 'last_error', d.last_error, \
                    'created_at', d.created_at, 'delivered_at', d.delivered_at, \
                    'log', (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, 'ok', a.ok, 'error', a.error) \
                                                      ORDER BY a.attempt), '[]') \
                            FROM tally.alert_delivery_attempts a WHERE a.delivery_id = d.delivery_id)) \
             FROM tally.alert_deliveries d WHERE d.rule_id = $1 ORDER BY d.created_at DESC, d.channel_index LIMIT $2",
            &[&rule, &limit],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({ "deliveries": rows.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>() })))
}
