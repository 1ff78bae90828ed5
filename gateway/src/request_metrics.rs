//! Records every request's latency by route (the router's pattern: `/api/v1/query`,
//! `/api/v1/sites/{id}`), method and status, for `tally_http_request_duration_seconds`.
//! Requests no route matches (the dashboard's files, unknown paths) share one label.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The route label of requests served by the fallback (the dashboard's static files).
const UNMATCHED: &str = "(static)";

pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    crate::metrics::http_request(route, method, response.status().as_u16(), started.elapsed());
    response
}
