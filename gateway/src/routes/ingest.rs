//! Ingestion endpoints, both answered 202 only after the events are committed (or
//! durably spooled while Postgres is unreachable):
//! - `POST /api/event`: one event in Plausible's format, from the tracker script;
//! - `POST /api/v1/events`: a batch (JSON array or NDJSON) from a server or an app,
//!   authenticated with the site's ingest key (`Authorization: Bearer <key>`).

use std::cell::OnceCell;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_http::cors::{Any, CorsLayer};

use crate::auth::client_ip;
use crate::error::ApiError;
use crate::ingest::encoded::Pending;
use crate::ingest::{self, batch, payload, user_agent, ClientContext};
use crate::metrics;
use crate::state::AppState;

/// The ingest routes answer any origin: the tracker posts from the tracked site's pages
/// and apps post from their own (Plausible's endpoint does the same). A preflight
/// (`application/json`, an `Authorization` key) is granted for a day; the answers say
/// nothing another site could not learn, and credentials (cookies) are never allowed.
pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(Duration::from_secs(86_400));
    // An OPTIONS route of its own, so the layer answers preflights even where another
    // router serves other methods of the path (GET /api/v1/events reads events).
    let preflight = || async { StatusCode::NO_CONTENT };
    Router::new()
        .route("/api/event", post(post_event).options(preflight))
        .route("/api/v1/events", post(post_batch).options(preflight))
        .layer(cors)
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(post_event, post_batch), modifiers(&Preflight))]
pub struct Api;

/// The CORS preflight both ingest routes answer (204, no credentials): a closure in
/// `router`, so described here rather than by `#[utoipa::path]`.
struct Preflight;

impl utoipa::Modify for Preflight {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::OperationBuilder;
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::ResponseBuilder;
        for item in doc.paths.paths.values_mut() {
            let preflight = OperationBuilder::new()
                .tag("ingest")
                .summary(Some("CORS preflight"))
                .response("204", ResponseBuilder::new().description("Allowed: the CORS headers say what"))
                .security(SecurityRequirement::default());
            item.options = Some(preflight.build());
        }
    }
}

/// Counts the outcome of an ingest request for `/metrics`. The answer lists the events
/// dropped (bots) and, for the batch API, those refused (`{index, field, error}`).
fn measured(result: Result<(usize, Vec<Value>, Vec<Value>), ApiError>) -> Result<impl IntoResponse, ApiError> {
    match result {
        Ok((accepted, dropped, rejected)) => {
            metrics::accepted(accepted);
            let mut body = json!({ "accepted": accepted, "dropped": dropped });
            if !rejected.is_empty() {
                body["rejected"] = Value::Array(rejected);
            }
            Ok((StatusCode::ACCEPTED, Json(body)))
        }
        Err(e) => {
            metrics::rejected(e.reason());
            Err(e)
        }
    }
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("body", rejection.body_text()),
    })
}

#[utoipa::path(
    post,
    path = "/api/event",
    tag = "ingest",
    summary = "Record one event (Plausible's Events API)",
    request_body = crate::openapi::schemas::PlausibleEvent,
    responses(
        (status = 202, description = "Committed (or durably spooled)", body = crate::openapi::schemas::IngestAnswer),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    ),
    security(())
)]
async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    measured(plausible_event(&state, peer, &headers, body).await.map(|(accepted, dropped)| (accepted, dropped, Vec::new())))
}

async fn plausible_event(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(usize, Vec<Value>), ApiError> {
    let incoming = payload::parse_event(&body_bytes(body)?)?;
    let mut sites = Vec::with_capacity(incoming.domains.len());
    for domain in &incoming.domains {
        if let Some(site) = state.sites.by_domain(domain).await? {
            sites.push(site);
        }
    }
    if sites.is_empty() {
        let drop = ingest::Drop::UnknownSite;
        metrics::dropped(drop.label(), 1);
        return Ok((0, vec![json!(drop)]));
    }
    let client = request_client(state, peer, headers, None, None, now_us());
    let fields = user_agent::client_fields(&client.user_agent);
    let salt = state.pipeline.visitors.salt(day_of(client.ts)).await?;
    let mut events = Vec::with_capacity(sites.len());
    for site in &sites {
        match state.pipeline.event(&incoming.event, site, &client, &fields, &salt) {
            Ok(event) => events.push(Pending { event, event_id: None }),
            Err(drop) => {
                metrics::dropped(drop.label(), 1);
                return Ok((0, vec![json!(drop)]));
            }
        }
    }
    let accepted = events.len();
    state.batcher.submit(events).await?;
    Ok((accepted, Vec::new()))
}

#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "ingest",
    summary = "Record a batch of events with the site's ingest key",
    request_body = Vec<crate::openapi::schemas::BatchEvent>,
    responses(
        (status = 202, description = "Committed (or durably spooled)", body = crate::openapi::schemas::IngestAnswer),
        (status = "4XX", description = "A client error, naming the field at fault", body = crate::openapi::schemas::ErrorBody)
    )
)]
async fn post_batch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    measured(batch_events(&state, peer, &headers, body).await)
}

async fn batch_events(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(usize, Vec<Value>, Vec<Value>), ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("send the site's ingest key as `Authorization: Bearer <key>`".into()))?;
    let site = state.keys.site_for(key.trim()).await?.ok_or_else(|| ApiError::Unauthorized("unknown or revoked ingest key".into()))?;
    let now = now_us();
    let horizon = batch::Horizon { now_us: now, max_age_days: state.config.max_event_age_days };
    let parsed = batch::parse_batch(&body_bytes(body)?, horizon)?;
    // Each bad event is refused alone; a request of bad events only is a bad request.
    let mut rejected = Vec::new();
    let mut events = Vec::with_capacity(parsed.len());
    let mut first_error = None;
    for (i, result) in parsed.into_iter().enumerate() {
        match result {
            Ok(event) => events.push((i, event)),
            Err(ApiError::BadRequest { field, message }) => {
                rejected.push(json!({ "index": i, "field": field, "error": message }));
                first_error.get_or_insert(ApiError::BadRequest { field, message });
            }
            Err(other) => return Err(other),
        }
    }
    if let (true, Some(error)) = (events.is_empty(), first_error) {
        return Err(error);
    }
    metrics::rejected_events(rejected.len());
    let salt = state.pipeline.visitors.salt(day_of(now)).await?;
    // Sessions are assigned in time order, so a backfilled visit is one visit however
    // its events were ordered in the request.
    events.sort_by_key(|(_, e)| e.ts.unwrap_or(now));
    // Most batches come from one client: the request's client (address, user agent,
    // location) and its parsed user agent are worked out once.
    let request = OnceCell::new();
    let request_fields = OnceCell::new();
    let mut pending = Vec::with_capacity(events.len());
    let mut dropped = Vec::new();
    for (i, mut e) in events {
        let ts = e.ts.unwrap_or(now);
        let own_agent = e.user_agent.is_some();
        let client = if own_agent || e.ip.is_some() {
            request_client(state, peer, headers, e.ip, e.user_agent.take(), ts)
        } else {
            let request: &ClientContext = request.get_or_init(|| request_client(state, peer, headers, None, None, now));
            ClientContext { ts, ..request.clone() }
        };
        let own_fields;
        let fields = if own_agent {
            own_fields = user_agent::client_fields(&client.user_agent);
            &own_fields
        } else {
            request_fields.get_or_init(|| user_agent::client_fields(&client.user_agent))
        };
        match state.pipeline.event(&e.event, &site, &client, fields, &salt) {
            Ok(event) => pending.push(Pending { event, event_id: e.id.take() }),
            Err(drop) => {
                metrics::dropped(drop.label(), 1);
                dropped.push(json!({ "index": i, "reason": drop }));
            }
        }
    }
    let accepted = pending.len();
    state.batcher.submit(pending).await?;
    Ok((accepted, dropped, rejected))
}

/// The client of an event: the event's own IP and user agent when a server forwards
/// them, otherwise the request's. Trusted proxy location headers describe the request's
/// client, so they are read only when the IP is the request's too.
fn request_client(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    ts: i64,
) -> ClientContext {
    let trusted = client_ip::trusted_proxies(state);
    let (ip, geo_headers) = match ip {
        Some(ip) => (ip, None),
        None => (client_ip::resolve(headers, peer.ip(), trusted), client_ip::is_proxy(peer.ip(), trusted).then_some(headers)),
    };
    let user_agent =
        user_agent.unwrap_or_else(|| headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string());
    ClientContext { ip, user_agent, ts, location: state.pipeline.geo.locate(ip, geo_headers) }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The UTC day whose visitor salt applies: the day the event arrived. (Backfilled
/// events use today's salt too: past salts are destroyed, by design.)
fn day_of(us: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_micros(us).expect("validated timestamps are in range").date_naive()
}
