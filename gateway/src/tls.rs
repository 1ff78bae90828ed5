//! Optional HTTPS (`--tls-cert`, `--tls-key`): rustls with the ring provider, served by
//! axum-server so handshakes run per connection, not in the accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;

/// How long in-flight requests may take to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(30);

/// Loads the PEM certificate chain and key.
pub async fn config(cert: &Path, key: &Path) -> std::io::Result<RustlsConfig> {
    // The process-wide provider; a second install (tests start several gateways) is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(cert, key).await
}

/// Serves HTTPS on `listener` until `shutdown` completes, then drains like `axum::serve`.
pub async fn serve(
    listener: TcpListener,
    tls: RustlsConfig,
    service: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(DRAIN));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, tls).handle(handle).serve(service).await
}
