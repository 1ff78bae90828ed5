//! Shared state of the running gateway, handed to handlers through axum's `State`.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::task::JoinHandle;

use crate::config::ServeConfig;
use crate::ingest::batcher::{BatchLimits, Batcher};
use crate::ingest::session::Sessions;
use crate::ingest::visitor::VisitorIds;
use crate::sites::Sites;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<ServeConfig>,
    pub batcher: Batcher,
    pub sites: Arc<Sites>,
    pub visitors: Arc<VisitorIds>,
    pub sessions: Arc<Sessions>,
}

impl AppState {
    /// Builds the state and starts the batch writer. Await the returned handle after the
    /// last `AppState` clone is dropped: it completes once every accepted event is flushed.
    pub fn start(pool: Pool, config: ServeConfig) -> (AppState, JoinHandle<()>) {
        let limits = BatchLimits {
            max_events: config.batch_max_events,
            max_wait: std::time::Duration::from_millis(config.batch_max_wait_ms),
            queue_capacity: config.queue_capacity,
        };
        let (batcher, writer) = Batcher::start(pool.clone(), limits);
        let state = AppState {
            sites: Arc::new(Sites::new(pool.clone())),
            visitors: Arc::new(VisitorIds::new(pool.clone())),
            sessions: Arc::new(Sessions::default()),
            config: Arc::new(config),
            batcher,
            pool,
        };
        (state, writer)
    }
}
