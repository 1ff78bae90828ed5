//! The Postgres connection pools, from a libpq-style connection string: one for ingest
//! and one for the API ([`Pools`]), so no burst of one can take the other's connections.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

/// How long opening a connection or waiting for a free one may take. Short, so an
/// unreachable Postgres turns into a spooled batch or a 503 quickly instead of a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Builds a pool of at most `size` connections. Connections open lazily, so the gateway
/// starts (and answers /healthz with 503) while Postgres is still coming up. The most
/// recently returned connection is handed out first (LIFO): a backend's first stats
/// query costs up to 150 ms more than its next ones (caches, memory the process has not
/// touched yet), and FIFO would send each dashboard load to the connection idle longest.
pub fn build(database_url: &str, size: usize) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = database_url.parse()?;
    pg.connect_timeout(CONNECT_TIMEOUT);
    let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Ok(Pool::builder(manager)
        .max_size(size)
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(CONNECT_TIMEOUT))
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()?)
}

/// The gateway's two pools. Ingest (the batch writers, the spool replayer, visitor
/// salts, site and ingest-key lookups) has its own, so a burst of dashboard queries
/// or realtime streams holding every API connection never pushes accepted events
/// into the spool; queries, sign-in, administration and alert delivery share the other.
#[derive(Clone)]
pub struct Pools {
    pub api: Pool,
    pub ingest: Pool,
}

impl Pools {
    pub fn build(database_url: &str, api_size: usize, ingest_size: usize) -> anyhow::Result<Pools> {
        Ok(Pools { api: build(database_url, api_size)?, ingest: build(database_url, ingest_size)? })
    }
}
