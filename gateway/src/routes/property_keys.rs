//! `GET /api/v1/sites/{id}/property-keys`: the custom property keys the site's events
//! sent in the last [`DAYS`] days, most used first (`{"keys": [...]}`), for the
//! dashboard's property breakdown picker. Read as the caller, like every stats query.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::site_items::require_site;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::statement::{self, Work};

/// How far back keys are looked for: the dashboard's default range.
const DAYS: i32 = 30;
/// Most keys listed: more than a picker can show.
const MAX_KEYS: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sites/{id}/property-keys", get(list))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct Api;

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/property-keys",
    tag = "sites",
    summary = "The custom property keys a site has seen",
    params(("id" = i32, Path, description = "The site id")),
    responses(
        (status = 200, description = "`{\"keys\": [...]}`", body = serde_json::Value),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn list(State(state): State<AppState>, caller: Caller, Path(site_id): Path<i32>) -> Result<Json<Value>, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = caller.transaction(&mut client).await?;
    statement::limit(&tx, &state.config.timeouts, Work::Query).await?;
    require_site(&tx, site_id).await?;
    let rows = tx
        .query(
            "SELECT k FROM tally.events e CROSS JOIN LATERAL jsonb_object_keys(e.props) k \
             WHERE e.site_id = $1 AND e.ts >= now() - make_interval(days => $2) AND e.props IS NOT NULL AND e.props <> '{}' \
             GROUP BY k ORDER BY count(*) DESC, k LIMIT $3",
            &[&site_id, &DAYS, &MAX_KEYS],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({ "keys": rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>() })))
}
