//! Headers on every response (dashboard, API, errors) that tell browsers to refuse
//! what Tally never does: run scripts or styles from anywhere but this origin, be
//! framed by another site (clickjacking), guess a response's type, or send the
//! dashboard's URLs (site names, filters) to other sites as the referrer.
//!
//! One table in one middleware rather than a tower-http `SetResponseHeaderLayer` per
//! header: the policy reads in one place. A handler that sets one of these headers
//! itself keeps its own value.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// What the dashboard loads: its bundle (`app.js`, `app.css`) from this origin, API
/// calls and the realtime stream to this origin, and nothing else. Styles set from
/// scripts go through the CSSOM (`el.style`), which `style-src 'self'` allows;
/// `style="..."` attributes and inline `<script>`/`<style>` are refused, so an
/// injected event field cannot run or restyle anything. `data:` images cover the
/// canvas exports of the charts. `frame-ancestors 'none'`: no site may frame the
/// dashboard.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    // Browsers that predate frame-ancestors.
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    // Links to the tracked sites must not carry the dashboard's URL with them.
    ("referrer-policy", "same-origin"),
];

/// The policy of a public shared dashboard page (`routes::share`): the dashboard's, but
/// framed by `frame_ancestors` (`'none'`, or the origins of an embeddable link), and
/// with `<base href>` from this origin, which the page uses to load the dashboard's
/// files from its root.
pub fn shared_page_policy(frame_ancestors: &str) -> String {
    let policy = CONTENT_SECURITY_POLICY.strip_suffix("frame-ancestors 'none'").expect("the policy ends with frame-ancestors");
    format!("{}frame-ancestors {frame_ancestors}", policy.replace("base-uri 'none'", "base-uri 'self'"))
}

/// The layer's function: adds each header the response does not have yet. A response
/// that set its own Content-Security-Policy chose its framing there (frame-ancestors),
/// so X-Frame-Options, which cannot name origins, is left out of it.
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let own_policy = headers.contains_key("content-security-policy");
    for (name, value) in HEADERS {
        if own_policy && name == "x-frame-options" {
            continue;
        }
        headers.entry(HeaderName::from_static(name)).or_insert(HeaderValue::from_static(value));
    }
    response
}
