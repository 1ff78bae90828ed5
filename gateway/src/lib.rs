//! Tally's gateway as a library: `app` builds the router so tests drive the same
//! handlers `main` serves, and `serve` runs it until shutdown, flushing on the way out.

pub mod alerts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod csrf;
pub mod database_metrics;
pub mod error;
pub mod imports;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod place_filters;
pub mod place_names;
pub mod pool;
pub mod reports;
pub mod request_metrics;
pub mod routes;
pub mod security_headers;
pub mod seed;
pub mod server_timing;
pub mod sites;
pub mod state;
pub mod statement;
pub mod stats_v2;
pub mod tls;
pub mod tracker_script;

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::config::ServeConfig;
use crate::pool::Pools;
use crate::state::AppState;

/// The whole HTTP surface: ingest, the API behind the CSRF check, then the dashboard's
/// static files; security headers on every response.
pub fn app(state: AppState) -> Router {
    // The dashboard's build writes brotli and gzip copies of its files; ServeDir picks
    // the one the browser accepts.
    let dashboard = ServeDir::new(&state.config.dashboard_dir).precompressed_br().precompressed_gzip();
    let body_limit = state.config.max_body_bytes;
    // Ingest is cross-origin by design (the tracker posts from the tracked site).
    let api = Router::new()
        .merge(routes::events::router())
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(routes::openapi::router())
        .merge(routes::tracker::router())
        .merge(routes::query::router())
        .merge(routes::stats_v2::router())
        .merge(routes::alerts::router())
        .merge(routes::export::router())
        .merge(routes::realtime::router())
        .merge(routes::auth::router())
        .merge(routes::sites::router())
        .merge(routes::goals_api::router())
        .merge(routes::users::router())
        .merge(routes::keys::router())
        .merge(routes::audit::router())
        .merge(routes::goals::router())
        .merge(routes::funnels::router())
        .merge(routes::saved_segments::router())
        .merge(routes::property_keys::router())
        .merge(routes::share_links::router())
        .merge(routes::share::router())
        .merge(routes::report_pdf::router())
        .merge(routes::report_schedules::router())
        .merge(routes::imports::router())
        .layer(axum::middleware::from_fn(csrf::protect));
    Router::new()
        .merge(routes::ingest::router())
        .merge(routes::report_schedules::unsubscribe_router())
        .merge(api)
        .fallback_service(dashboard)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn(server_timing::record))
        .layer(axum::middleware::from_fn(request_metrics::record))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then stops accepting, finishes
/// in-flight requests and flushes every accepted event before returning.
pub async fn serve(
    pools: Pools,
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = match (&config.auth.tls_cert, &config.auth.tls_key) {
        (Some(cert), Some(key)) => Some(tls::config(cert, key).await?),
        _ => None,
    };
    let (state, tasks) = AppState::start(pools, config).map_err(std::io::Error::other)?;
    // The user agent rules (about a second to compile) are ready before the first
    // request is accepted, so no event waits on them.
    tokio::task::spawn_blocking(ingest::user_agent::warm).await.map_err(std::io::Error::other)?;
    let alert_tasks = match &state.config.alerts_database_url {
        Some(url) => {
            let policy = alerts::RetryPolicy::from_config(&state.config);
            Some(alerts::AlertTasks::start(state.pool.clone(), url.clone(), state.notifier.clone(), policy))
        }
        None => {
            tracing::warn!("no alerts database URL: alert notifications are not delivered by this gateway");
            None
        }
    };
    let mailer = reports::mailer::start(&state);
    let batcher = state.batcher.clone();
    let closing = state.closing.clone();
    let router = app(state);
    let shutdown = async move {
        shutdown.await;
        closing.cancel();
        batcher.drain();
    };
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => tls::serve(listener, tls, service, shutdown).await?,
        None => axum::serve(listener, service).with_graceful_shutdown(shutdown).await?,
    }
    if let Some(tasks) = alert_tasks {
        tasks.stop().await;
    }
    // The report workers hold state (and its batcher handle): gone before the drain.
    for worker in &mailer {
        worker.abort();
    }
    for worker in mailer {
        let _ = worker.await;
    }
    // The router (and with it every batcher handle) is gone: the writer drains and ends.
    tasks.finish().await.map_err(std::io::Error::other)
}
