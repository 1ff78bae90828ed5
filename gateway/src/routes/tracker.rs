//! `GET /tally.js`: the tracker script (`gateway/tracker/tally.js`), compiled into the
//! binary so the gateway serves the script that matches its API. The same script
//! answers at Plausible's paths, `/js/script.js` and its `script.<ext>.<ext>.js`
//! variants, so a Plausible snippet switches by changing its host: the script reads the
//! variant from its own file name.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The tracker's source.
pub const TRACKER_JS: &str = include_str!("../../tracker/tally.js");

pub fn router() -> Router<AppState> {
    Router::new().route("/tally.js", get(tracker)).route("/js/{file}", get(plausible_script))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(plausible_script, tracker))]
pub struct Api;

/// `script.js`, or `script.` followed by Plausible's dot-separated extensions
/// (`hash`, `outbound-links`, `file-downloads`, `manual`, ...) and `.js`.
#[utoipa::path(
    get,
    path = "/js/{file}",
    tag = "tracker",
    summary = "The tracker at Plausible's script paths",
    params(("file" = String, Path, description = "`script.js` or a `script.<variant>.js` file name")),
    responses((status = 200, description = "The tracker script", body = String, content_type = "application/javascript")),
    security(())
)]
async fn plausible_script(Path(file): Path<String>) -> Response {
    let variant = file.strip_prefix("script").and_then(|rest| rest.strip_suffix(".js"));
    let valid = variant.is_some_and(|v| v.is_empty() || (v.starts_with('.') && v[1..].split('.').all(is_extension)));
    if valid {
        tracker().await.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

fn is_extension(ext: &str) -> bool {
    !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

#[utoipa::path(
    get,
    path = "/tally.js",
    tag = "tracker",
    summary = "The tracker script",
    responses((status = 200, description = "The tracker script", body = String, content_type = "application/javascript")),
    security(())
)]
async fn tracker() -> impl IntoResponse {
    // An hour of caching: sites pick up a new tracker the same day without hammering us.
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], TRACKER_JS)
}
