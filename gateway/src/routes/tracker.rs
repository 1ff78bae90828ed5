//! `GET /tally.js`: the tracker script (`gateway/tracker/tally.js`), compiled into the
//! binary so the gateway serves the script that matches its API.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The tracker's source.
pub const TRACKER_JS: &str = include_str!("../../tracker/tally.js");

pub fn router() -> Router<AppState> {
    Router::new().route("/tally.js", get(tracker))
}

async fn tracker() -> impl IntoResponse {
    // An hour of caching: sites pick up a new tracker the same day without hammering us.
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], TRACKER_JS)
}
