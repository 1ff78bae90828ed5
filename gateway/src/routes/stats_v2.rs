//! `POST /api/v2/query`: Plausible's Stats API v2, so scripts written for Plausible
//! work against Tally by changing the host. [`crate::stats_v2`] translates the request
//! onto `tally.query` (one engine behind both APIs) and the answer back; this handler
//! reads what the translation needs of the site's calendar from Postgres (its zone
//! decides "today" and day boundaries, as in the engine) and runs the queries through
//! [`super::query::answer`], under the caller's role and audited like any query.
//! Authentication is the API's: a session or an `Authorization: Bearer` API key.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::json_body::JsonBody;
use crate::routes::query::{answer, bad_query};
use crate::state::AppState;
use crate::statement::{self, Cancellable, Work};
use crate::stats_v2::{self, Labels, SiteDays};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2/query", post(run_query))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(run_query))]
pub struct Api;

#[utoipa::path(
    post,
    path = "/api/v2/query",
    tag = "query",
    summary = "Run a query of Plausible's Stats API v2",
    request_body = crate::openapi::schemas::StatsV2Query,
    responses(
        (status = 200, description = "`{\"results\", \"meta\", \"query\"}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn run_query(State(state): State<AppState>, caller: Caller, JsonBody(request): JsonBody<Value>) -> Result<Json<Value>, ApiError> {
    let domain = stats_v2::site_id(&request)?;
    let (timezone, days) = site_days(&state, &caller, &domain).await?;
    let translated = stats_v2::translate(&request, days)?;
    let engine = if translated.includes_imports() {
        crate::imports::merge::answer(&state, &caller, &translated.query, Some("query"), Work::Query).await?
    } else {
        answer(&state, &caller, &translated.query, Some("query"), Work::Query).await?
    };
    let base = match &translated.conversion_base {
        Some(query) => Some(answer(&state, &caller, query, None, Work::Query).await?),
        None => None,
    };
    let labels = labels(&state, &caller, &timezone, &engine["query"]["date_range"], translated.time_labels_unit()).await?;
    Ok(Json(translated.answer(&engine, base.as_ref(), labels)))
}

/// The site's time zone and calendar; a site the caller may not see is "no such
/// site", as in `tally.query`.
async fn site_days(state: &AppState, caller: &Caller, domain: &str) -> Result<(String, SiteDays), ApiError> {
    let mut client = Cancellable::new(state.pool.get().await?);
    let tx = caller.transaction(&mut client).await?;
    statement::limit(&tx, &state.config.timeouts, Work::Query).await?;
    let row = tx
        .query_opt(
            "SELECT s.timezone, (now() AT TIME ZONE s.timezone)::date,
                    (LEAST((SELECT min(min_ts) FROM tally.segments g WHERE g.site_id = s.site_id),
                           (SELECT min(ts) FROM tally.events_hot h WHERE h.site_id = s.site_id),
                           now()) AT TIME ZONE s.timezone)::date
             FROM tally.sites s WHERE s.domain = $1",
            &[&domain],
        )
        .await
        .map_err(bad_query)?;
    tx.commit().await?;
    client.disarm();
    let row = row.ok_or_else(|| ApiError::bad_request("site_id", "no such site"))?;
    Ok((row.get(0), SiteDays { today: row.get(1), first: row.get(2) }))
}

/// The answered range's ends as ISO 8601 date-times in the site's zone (Plausible's
/// `query.date_range`) and, for `unit`, the label of every time bucket in it. The
/// engine labels whole-day ranges with their dates and a range of instants with
/// ISO 8601 date-times in the site's zone (its first and last second); a realtime
/// range's labels are already date-times and stay as they are.
async fn labels(state: &AppState, caller: &Caller, timezone: &str, range: &Value, unit: Option<&str>) -> Result<Labels, ApiError> {
    let ends = (range[0].as_str().unwrap_or_default(), range[1].as_str().unwrap_or_default());
    let instant = |s: &str| DateTime::parse_from_rfc3339(s).ok();
    if let (Some(first), Some(last), Some(unit)) = (instant(ends.0), instant(ends.1), unit) {
        let mut client = Cancellable::new(state.pool.get().await?);
        let tx = caller.transaction(&mut client).await?;
        let row = tx
            .query_one(
                "SELECT ARRAY(SELECT label FROM tally.query_buckets($1, $2, $3::timestamptz, $4::timestamptz + interval '1 second'))",
                &[&timezone, &unit, &first, &last],
            )
            .await?;
        tx.commit().await?;
        client.disarm();
        return Ok(Labels { from: ends.0.to_owned(), to: ends.1.to_owned(), time_labels: row.get(0) });
    }
    let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let (Some(first), Some(last)) = (parse(ends.0), parse(ends.1)) else {
        return Ok(Labels { from: ends.0.to_owned(), to: ends.1.to_owned(), time_labels: None });
    };
    let mut client = Cancellable::new(state.pool.get().await?);
    let tx = caller.transaction(&mut client).await?;
    // Offsets east of UTC: local wall time minus the UTC wall time of the same instant.
    let row = tx
        .query_one(
            "WITH r AS (SELECT $2::date::timestamp AS f, ($3::date + 1)::timestamp - interval '1 second' AS l)
             SELECT to_char(f, 'YYYY-MM-DD\"T\"HH24:MI:SS'),
                    extract(epoch FROM f - ((f AT TIME ZONE $1) AT TIME ZONE 'UTC'))::int,
                    to_char(l, 'YYYY-MM-DD\"T\"HH24:MI:SS'),
                    extract(epoch FROM l - ((l AT TIME ZONE $1) AT TIME ZONE 'UTC'))::int,
                    CASE WHEN $4::text IS NOT NULL THEN
                        ARRAY(SELECT label FROM tally.query_buckets($1, $4, f AT TIME ZONE $1, (l + interval '1 second') AT TIME ZONE $1))
                    END
             FROM r",
            &[&timezone, &first, &last, &unit],
        )
        .await?;
    tx.commit().await?;
    client.disarm();
    Ok(Labels { from: stats_v2::iso(row.get(0), row.get(1)), to: stats_v2::iso(row.get(2), row.get(3)), time_labels: row.get(4) })
}
