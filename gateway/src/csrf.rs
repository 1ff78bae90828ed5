//! Cross-site request forgery: a page on another origin must not be able to make a
//! signed-in user's browser change anything here. SameSite=Strict cookies are not
//! enough on their own: a sibling subdomain of the tracked site (or any page on the
//! same registrable domain) is "same-site" and gets the cookie attached.
//!
//! Every state-changing request (any method but GET, HEAD and OPTIONS) to the API
//! that does not carry an `Authorization: Bearer` key must
//!
//! 1. come from this origin: `Sec-Fetch-Site: same-origin` or `none` (a user typing
//!    the URL), or, from a browser too old to send `Sec-Fetch-Site`, an `Origin`
//!    whose host and port are the request's `Host`. A request with neither header
//!    did not come from a browser page (curl, scripts, the test harness) and passes
//!    this step: every browser that runs cross-origin scripts sends one of them on
//!    a cross-origin POST, PUT, PATCH or DELETE. This is the algorithm of Go's
//!    `net/http.CrossOriginProtection`; no Rust crate implements it.
//! 2. say `Content-Type: application/json`, with a body or not. A cross-origin page
//!    can send that type only after a CORS preflight, which this gateway never
//!    grants, so step 2 alone stops forgery from browsers that send no Origin at all.
//!
//! Bearer keys are exempt: a browser never attaches them by itself. Sign-in is
//! covered too (a forged sign-in would put the victim in the attacker's account).
//! Ingest (`POST /api/event`, sent cross-origin by the tracker as text/plain by
//! design) is routed outside this layer.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The layer's function: refuses forged requests (403, or 415 for the content type)
/// before any handler or extractor runs.
pub async fn protect(request: Request, next: Next) -> Response {
    match check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

fn check(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || crate::auth::caller::bearer(headers).is_some() {
        return Ok(());
    }
    if !same_origin(headers) {
        return Err(ApiError::Forbidden("cross-origin request refused: state-changing requests must come from this origin".into()));
    }
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// Step 1 of the module's rule.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or_default());
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return true;
    };
    let Some(host) = text(header::HOST.as_str()) else {
        return false;
    };
    // "null" (a sandboxed frame, a privacy redirect) has no host and never matches.
    url::Url::parse(origin).ok().is_some_and(|o| match (o.host_str(), o.port()) {
        (Some(h), Some(p)) => host.eq_ignore_ascii_case(&format!("{h}:{p}")),
        (Some(h), None) => host.eq_ignore_ascii_case(h),
        _ => false,
    })
}

/// Whether the body is declared as JSON: `application/json` or `application/*+json`,
/// parameters (`; charset=utf-8`) allowed.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[test]
    fn origin_must_match_the_host() {
        let json = ("content-type", "application/json");
        let ok = |pairs: &[(&'static str, &str)]| check(&Method::POST, &headers(pairs)).is_ok();
        assert!(ok(&[json, ("host", "tally.example:8710"), ("origin", "https://tally.example:8710")]));
        assert!(ok(&[json, ("host", "tally.example"), ("origin", "https://TALLY.example")]));
        assert!(!ok(&[json, ("host", "tally.example"), ("origin", "https://evil.example")]));
        assert!(!ok(&[json, ("host", "tally.example"), ("origin", "https://tally.example:444")]));
        assert!(!ok(&[json, ("host", "tally.example"), ("origin", "null")]));
        assert!(ok(&[json, ("host", "tally.example")]));
        // Sec-Fetch-Site decides when present, whatever Origin says.
        assert!(ok(&[json, ("sec-fetch-site", "same-origin"), ("origin", "https://proxy.internal")]));
        assert!(!ok(&[json, ("sec-fetch-site", "same-site"), ("host", "tally.example"), ("origin", "https://tally.example")]));
        assert!(!ok(&[json, ("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn only_json_bodies_and_bearer_keys_pass() {
        let post = |pairs: &[(&'static str, &str)]| check(&Method::POST, &headers(pairs)).is_ok();
        assert!(!post(&[("content-type", "text/plain")]));
        assert!(!post(&[("content-type", "application/x-www-form-urlencoded")]));
        assert!(!post(&[]));
        assert!(post(&[("content-type", "application/json; charset=utf-8")]));
        assert!(post(&[("content-type", "application/merge-patch+json")]));
        assert!(post(&[("authorization", "Bearer ta_x"), ("content-type", "text/plain"), ("origin", "https://evil.example")]));
        assert!(check(&Method::GET, &headers(&[("origin", "https://evil.example")])).is_ok());
    }
}
