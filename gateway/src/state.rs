//! Shared state of the running gateway, handed to handlers through axum's `State`.

use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::auth::Auth;
use crate::config::ServeConfig;
use crate::ingest::batcher::{BatchLimits, Batcher, Tasks};
use crate::ingest::geo::{Geo, GeoHeaders};
use crate::ingest::session::Sessions;
use crate::ingest::spool::Spool;
use crate::ingest::visitor::VisitorIds;
use crate::ingest::Pipeline;
use crate::keys::IngestKeys;
use crate::sites::Sites;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<ServeConfig>,
    pub batcher: Batcher,
    pub sites: Arc<Sites>,
    pub keys: Arc<IngestKeys>,
    pub pipeline: Arc<Pipeline>,
    pub auth: Arc<Auth>,
}

impl AppState {
    /// Builds the state, opens the spool and starts the batch writer and the spool
    /// replayer. Await [`Tasks::finish`] after the last `AppState` clone is dropped: it
    /// completes once every accepted event is committed or spooled.
    pub fn start(pool: Pool, config: ServeConfig) -> anyhow::Result<(AppState, Tasks)> {
        crate::metrics::handle();
        let limits = BatchLimits {
            max_events: config.batch_max_events,
            max_wait: std::time::Duration::from_millis(config.batch_max_wait_ms),
            queue_capacity: config.queue_capacity,
            writers: config.writers,
        };
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
        let geo_headers = GeoHeaders {
            country: config.geo_country_header.clone(),
            region: config.geo_region_header.clone(),
            city: config.geo_city_header.clone(),
        };
        let pipeline = Pipeline {
            visitors: VisitorIds::new(pool.clone()),
            sessions: Sessions::default(),
            geo: Geo::open(config.geoip_db.as_deref(), geo_headers)?,
        };
        let (batcher, tasks) = Batcher::start(pool.clone(), Arc::new(spool), limits);
        let state = AppState {
            sites: Arc::new(Sites::new(pool.clone())),
            keys: Arc::new(IngestKeys::new(pool.clone())),
            pipeline: Arc::new(pipeline),
            auth: Arc::new(Auth::new(pool.clone(), config.auth.clone())),
            config: Arc::new(config),
            batcher,
            pool,
        };
        Ok((state, tasks))
    }
}
