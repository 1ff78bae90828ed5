//! `GET /tally.js`: the tracker script (`gateway/tracker/tally.js`), compiled into the
//! binary so the gateway serves the script that matches its API. The same script
//! answers at Plausible's paths, `/js/script.js` and its `script.<ext>.<ext>.js`
//! variants, so a Plausible snippet switches by changing its host: each name gets the
//! build of its extensions ([`crate::tracker_script`]), and the script reads the rest
//! of its variant from its own file name.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;
use crate::tracker_script;

pub fn router() -> Router<AppState> {
    Router::new().route("/tally.js", get(tracker)).route("/js/{file}", get(plausible_script))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(plausible_script, tracker))]
pub struct Api;

/// `script.js`, or `script.` followed by Plausible's dot-separated extensions
/// (`hash`, `outbound-links`, `file-downloads`, `manual`, `exclusions`, `local`,
/// `compat`, ...) and `.js`.
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
    match variant {
        Some("") => script(tracker_script::build([])),
        Some(v) if v.starts_with('.') && v[1..].split('.').all(is_extension) => script(tracker_script::build(v[1..].split('.'))),
        _ => StatusCode::NOT_FOUND.into_response(),
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
async fn tracker() -> Response {
    script(tracker_script::build([]))
}

fn script(source: &'static str) -> Response {
    // An hour of caching: sites pick up a new tracker the same day without hammering us.
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], source)
        .into_response()
}
