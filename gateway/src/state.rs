//! Shared state of the running gateway, handed to handlers through axum's `State`.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::alerts::notifier::NotifierConfig;
use crate::alerts::outbound::AddressPolicy;
use crate::alerts::Notifier;
use crate::auth::Auth;
use crate::config::ServeConfig;
use crate::ingest::batcher::{BatchLimits, Batcher, Tasks};
use crate::ingest::geo::{Geo, GeoHeaders};
use crate::ingest::session::Sessions;
use crate::ingest::spool::Spool;
use crate::ingest::visitor::VisitorIds;
use crate::ingest::Pipeline;
use crate::keys::IngestKeys;
use crate::pool::Pools;
use crate::reports::pdf::Printer;
use crate::sites::Sites;

#[derive(Clone)]
pub struct AppState {
    /// The API's pool; ingest's own pool lives inside the batcher, sites, keys and
    /// pipeline (see [`Pools`]).
    pub pool: Pool,
    pub config: Arc<ServeConfig>,
    pub batcher: Batcher,
    /// The disk spool the batcher writes to, for `/metrics`.
    pub spool: Arc<Spool>,
    pub sites: Arc<Sites>,
    pub keys: Arc<IngestKeys>,
    pub pipeline: Arc<Pipeline>,
    /// Sends alert notifications: the delivery tasks' and the "send test" route's.
    pub notifier: Arc<Notifier>,
    pub auth: Arc<Auth>,
    /// One permit per open realtime stream (`--max-realtime-streams`).
    pub realtime_streams: Arc<Semaphore>,
    /// Cancelled when shutdown begins: open streams end so the server can stop.
    pub closing: CancellationToken,
    /// Prints reports to PDF.
    pub printer: Arc<Printer>,
}

impl AppState {
    /// Builds the state, opens the spool and starts the batch writer and the spool
    /// replayer. Await [`Tasks::finish`] after the last `AppState` clone is dropped: it
    /// completes once every accepted event is committed or spooled.
    pub fn start(pools: Pools, config: ServeConfig) -> anyhow::Result<(AppState, Tasks)> {
        let Pools { api: pool, ingest } = pools;
        crate::metrics::handle();
        let limits = BatchLimits {
            max_events: config.batch_max_events,
            max_wait: std::time::Duration::from_millis(config.batch_max_wait_ms),
            queue_capacity: config.queue_capacity,
            writers: config.writers,
        };
        let spool = Arc::new(Spool::open(&config.spool_dir, config.spool_max_bytes)?);
        let geo_headers = GeoHeaders {
            country: config.geo_country_header.clone(),
            region: config.geo_region_header.clone(),
            city: config.geo_city_header.clone(),
        };
        let pipeline = Pipeline {
            visitors: VisitorIds::new(ingest.clone()),
            sessions: Sessions::default(),
            geo: Geo::open(config.geoip_db.as_deref(), geo_headers)?,
        };
        let notifier = Notifier::new(NotifierConfig {
            smtp_url: &config.smtp_url,
            from: &config.smtp_from,
            timeout: std::time::Duration::from_millis(config.alert_timeout_ms),
            policy: AddressPolicy::new(config.webhook_allow.clone()),
            emails_per_hour: config.alert_emails_per_hour,
        })?;
        let (batcher, tasks) = Batcher::start(ingest.clone(), spool.clone(), limits);
        let state = AppState {
            sites: Arc::new(Sites::new(ingest.clone())),
            keys: Arc::new(IngestKeys::new(ingest)),
            pipeline: Arc::new(pipeline),
            notifier: Arc::new(notifier),
            auth: Arc::new(Auth::new(pool.clone(), config.auth.clone())),
            realtime_streams: Arc::new(Semaphore::new(config.max_realtime_streams)),
            closing: CancellationToken::new(),
            printer: Arc::new(Printer::new(
                config.chromium.clone(),
                config.max_pdf_renders,
                std::time::Duration::from_millis(config.pdf_timeout_ms),
            )),
            config: Arc::new(config),
            batcher,
            spool,
            pool,
        };
        Ok((state, tasks))
    }
}
