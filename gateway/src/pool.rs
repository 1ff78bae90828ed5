//! The Postgres connection pool, from a libpq-style connection string.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// Builds a pool of at most `size` connections. Connections open lazily, so the gateway
/// starts (and answers /healthz with 503) while Postgres is still coming up.
pub fn build(database_url: &str, size: usize) -> anyhow::Result<Pool> {
    let pg: tokio_postgres::Config = database_url.parse()?;
    let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Ok(Pool::builder(manager).max_size(size).build()?)
}
