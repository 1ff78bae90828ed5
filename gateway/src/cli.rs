//! Reads the command line, opens the pool and serves (or seeds demo data): the body of
//! `tally-gateway`'s `main`, in the library so tests can build the same binary.

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Cli, Command, ServeConfig};
use crate::{auth, pool, seed, serve};

/// Runs the gateway as the command line asks.
pub async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(EnvFilter::try_from_env("TALLY_LOG").unwrap_or_else(|_| EnvFilter::new("info"))).init();
    let cli = Cli::parse();
    let pools = pool::Pools::build(&cli.db.database_url, cli.db.db_pool_size, cli.db.db_ingest_pool_size)?;
    let pool = pools.api.clone();
    match cli.command.unwrap_or_else(|| Command::Serve(Box::new(ServeConfig::from_env()))) {
        Command::Serve(mut config) => {
            config.alerts_database_url.get_or_insert_with(|| cli.db.database_url.clone());
            let listener = TcpListener::bind(config.listen).await?;
            tracing::info!(address = %listener.local_addr()?, "tally gateway listening");
            serve(pools, *config, listener, shutdown_signal()).await?;
            tracing::info!("stopped; every accepted event was flushed");
        }
        Command::Seed(config) => {
            let stored = seed::run(&pool, &config).await?;
            println!("seeded {stored} events into {}", config.domain);
        }
        Command::Import(config) => crate::imports::cli::run(&pool, &config).await?,
        Command::CreateAdmin(config) => {
            let password = admin_password()?;
            let id = auth::users::create_admin(&pool, &config.email, &config.name, &password).await?;
            println!("administrator {} (user {id}) can sign in", config.email.trim().to_lowercase());
        }
    }
    Ok(())
}

/// The new administrator's password: `TALLY_ADMIN_PASSWORD`, else the first line of
/// standard input (so it never appears in a process list or shell history).
fn admin_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("TALLY_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "give the password in TALLY_ADMIN_PASSWORD or on standard input");
    Ok(password)
}

/// Completes on Ctrl-C or SIGTERM (what systemd and `kill` send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
