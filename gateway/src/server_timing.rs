//! `Server-Timing: app;dur=<ms>` on every response: how long the gateway took to
//! produce it, request in to response headers out (queries included). Browsers show it
//! in their network panel and expose it to the page (`PerformanceResourceTiming`), so
//! a call that looks slow from the page can be told apart: the server's time, or time
//! the browser itself spent before sending or after receiving. (On the bench's two
//! cores it showed the server's own time was the slow part while Chromium started a
//! page; see benches/RESULTS.md, issue 9.) For a stream, the time to its first bytes.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The layer's function: times the rest of the stack and adds the header.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.1}")) {
        response.headers_mut().append("server-timing", value);
    }
    response
}
