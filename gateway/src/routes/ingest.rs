//! `POST /api/event`: one event in Plausible's format, answered 202 after COMMIT.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::error::ApiError;
use crate::ingest::{self, payload, user_agent, ClientContext, Drop};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/event", post(post_event))
}

async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("body", rejection.body_text()),
    })?;
    let incoming = payload::parse_event(&body)?;
    let client = ClientContext {
        ip: client_ip(&headers, peer, state.config.trust_proxy),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        received_us: chrono::Utc::now().timestamp_micros(),
    };

    let mut sites = Vec::with_capacity(incoming.domains.len());
    for domain in &incoming.domains {
        if let Some(site) = state.sites.by_domain(domain).await? {
            sites.push(site);
        }
    }
    let sites = ingest::require_sites(sites)?;

    let fields = user_agent::client_fields(&client.user_agent);
    if fields.is_bot {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": 0, "dropped": [Drop::Bot] }))));
    }
    let day = chrono::DateTime::from_timestamp_micros(client.received_us).expect("now is in range").date_naive();
    let salt = state.visitors.salt(day).await?;
    let events = sites
        .iter()
        .map(|site| {
            let visitor_id = ingest::visitor::visitor_id(&salt, site.site_id, client.ip, &client.user_agent);
            let session_id = state.sessions.session_id(site.site_id, visitor_id, client.received_us);
            ingest::build_event(&incoming, site, &fields, client.received_us, visitor_id, session_id)
        })
        .collect::<Vec<_>>();
    let accepted = events.len();
    state.batcher.submit(events).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": accepted, "dropped": [] }))))
}

/// The client's address: the first `X-Forwarded-For` hop when the proxy is trusted,
/// otherwise the TCP peer.
fn client_ip(headers: &HeaderMap, peer: SocketAddr, trust_proxy: bool) -> IpAddr {
    if trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|ip| ip.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.ip()
}
