//! Scheduled email reports of the signed-in user:
//! - `GET /api/v1/reports/schedules`: theirs;
//! - `POST /api/v1/reports/schedules` `{"site_id", "frequency": "weekly"|"monthly",
//!   "timezone"?, "hour"?}` → 201: the site's report mailed to them after each period
//!   (the site's time zone unless given; an unknown zone is a 400 naming `timezone`);
//! - `DELETE /api/v1/reports/schedules/{id}`.
//!
//! And for the emails' recipients, without signing in (outside the CSRF check: mail
//! providers POST the one-click unsubscribe from their servers, form-encoded, and the
//! secret token in the path is what authorizes it):
//! - `GET /api/v1/reports/unsubscribe/{token}`: a page with one button (a GET never
//!   unsubscribes: link scanners follow links);
//! - `POST /api/v1/reports/unsubscribe/{token}`: deletes the schedule (RFC 8058).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;

use crate::auth::{audit, Caller};
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/schedules", get(list).post(create)).route("/api/v1/reports/schedules/{id}", delete(remove))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, remove, unsubscribe_page, unsubscribe))]
pub struct Api;

/// The unsubscribe routes, merged outside the CSRF layer.
pub fn unsubscribe_router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    summary = "The caller's scheduled email reports",
    responses(
        (status = 200, description = "`{\"schedules\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let rows = tx
        .query(
            "SELECT schedule_id, site_id, frequency, timezone, send_hour, period_start::text, \
                    to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), attempts, last_error \
             FROM tally.report_schedules ORDER BY schedule_id",
            &[],
        )
        .await?;
    tx.commit().await?;
    let schedules: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, i32>(0), "site_id": r.get::<_, i32>(1), "frequency": r.get::<_, String>(2),
                "timezone": r.get::<_, String>(3), "hour": r.get::<_, i32>(4), "next_period_start": r.get::<_, String>(5),
                "next_due_at": r.get::<_, String>(6), "failed_attempts": r.get::<_, i32>(7), "last_error": r.get::<_, Option<String>>(8),
            })
        })
        .collect();
    Ok(Json(json!({ "schedules": schedules })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSchedule {
    site_id: i32,
    frequency: String,
    timezone: Option<String>,
    #[serde(default = "eight")]
    hour: i32,
}

fn eight() -> i32 {
    8
}

#[utoipa::path(
    post,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    summary = "Schedule an email report",
    request_body = NewSchedule,
    responses(
        (status = 201, description = "The schedule", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewSchedule>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !["weekly", "monthly"].contains(&body.frequency.as_str()) {
        return Err(ApiError::bad_request("frequency", "frequency must be weekly or monthly"));
    }
    if !(0..24).contains(&body.hour) {
        return Err(ApiError::bad_request("hour", "hour must be 0 to 23 (local time)"));
    }
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let site = tx.query_opt("SELECT timezone FROM tally.sites WHERE site_id = $1", &[&body.site_id]).await?;
    let Some(site) = site else {
        return Err(ApiError::bad_request("site_id", "no such site"));
    };
    let timezone = body.timezone.unwrap_or_else(|| site.get(0));
    let row = tx
        .query_one(
            "INSERT INTO tally.report_schedules (user_id, site_id, frequency, timezone, send_hour) \
             VALUES ((SELECT user_id FROM tally.me), $1, $2, $3, $4) \
             RETURNING schedule_id, period_start::text, to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[&body.site_id, &body.frequency, &timezone, &body.hour],
        )
        .await
        .map_err(|e| match e.code() {
            Some(c) if *c == SqlState::INVALID_PARAMETER_VALUE => {
                ApiError::bad_request("timezone", format!("unknown time zone {timezone:?}; use an IANA name such as Europe/Berlin"))
            }
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                ApiError::Conflict(format!("you already get a {} report of this site", body.frequency))
            }
            _ => e.into(),
        })?;
    let id: i32 = row.get(0);
    audit::record(&tx, "report.schedule", Some(body.site_id), json!({ "schedule_id": id, "frequency": body.frequency }), caller.ip).await?;
    tx.commit().await?;
    let schedule = json!({
        "id": id, "site_id": body.site_id, "frequency": body.frequency, "timezone": timezone, "hour": body.hour,
        "next_period_start": row.get::<_, String>(1), "next_due_at": row.get::<_, String>(2),
    });
    Ok((StatusCode::CREATED, Json(schedule)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/reports/schedules/{id}",
    tag = "reports",
    summary = "Delete a report schedule",
    params(("id" = i32, Path, description = "The schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<i32>) -> Result<StatusCode, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    let n = tx.execute("DELETE FROM tally.report_schedules WHERE schedule_id = $1", &[&id]).await?;
    if n == 0 {
        return Err(ApiError::NotFound("no such report schedule".into()));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of plain text and at most one form, styled by nothing (the policy allows no
/// inline style).
fn page(body: maud::Markup) -> Html<String> {
    Html(
        maud::html! { (maud::DOCTYPE) html lang="en" { head { meta charset="utf-8"; title { "Tally reports" } } body { (body) } } }
            .into_string(),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/unsubscribe/{token}",
    tag = "reports",
    summary = "The unsubscribe page of a report email",
    params(("token" = String, Path, description = "The unsubscribe token from the report email")),
    responses((status = 200, description = "An HTML page with the unsubscribe button", body = String, content_type = "text/html")),
    security(())
)]
async fn unsubscribe_page(Path(token): Path<String>) -> Html<String> {
    page(maud::html! {
        h1 { "Unsubscribe from this Tally report?" }
        form method="post" action=(format!("../unsubscribe/{token}")) { button type="submit" { "Unsubscribe" } }
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/reports/unsubscribe/{token}",
    tag = "reports",
    summary = "Unsubscribe from a report",
    params(("token" = String, Path, description = "The unsubscribe token from the report email")),
    responses(
        (status = 200, description = "An HTML page saying so", body = String, content_type = "text/html"),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<(StatusCode, Html<String>), ApiError> {
    let client = state.pool.get().await?;
    let n = client.execute("DELETE FROM tally.report_schedules WHERE unsubscribe_token = $1", &[&token]).await?;
    // Twice, or a token that never was: the same answer, so nothing can be learnt.
    tracing::info!(removed = n, "report unsubscribe");
    Ok((StatusCode::OK, page(maud::html! { h1 { "Unsubscribed" } p { "You will not get this report any more." } })))
}
