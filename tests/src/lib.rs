//! The integration-test harness. A test reads:
//!
//! ```text
//! let t = tally_tests::Tally::start().await;          // fresh database + gateway
//! t.sql("SELECT tally.create_site('a.com')").await;
//! let resp = t.post("/api/event", json!({...})).await;
//! let analyst = t.user_with_role("a.com", "analyst").await;   // signed in
//! let (status, answer) = analyst.post("/api/v1/query", json!({...})).await;
//! ```
//!
//! One PostgreSQL cluster serves the whole test run (created by `scripts/pgcluster.sh`,
//! the same script `./dev up` uses); every test gets its own database with the
//! extension created, and its own gateway on a free loopback port.

pub mod browser;
pub mod cluster;
pub mod gateway;
pub mod load;
pub mod schema;
pub mod session;
pub mod sinks;

pub use cluster::TestDb;
pub use gateway::TestGateway;
pub use session::{Session, TEST_PASSWORD};

use serde_json::Value;
use tokio_postgres::Row;

/// A test's world: its database and a gateway serving it.
pub struct Tally {
    /// Declared first, so dropped first: its connections close before the database goes.
    pub gateway: TestGateway,
    pub db: TestDb,
}

impl Tally {
    /// A fresh database with `tally` installed and a gateway with default settings.
    pub async fn start() -> Tally {
        Self::start_with(|_| {}).await
    }

    /// Like [`Tally::start`], with gateway settings adjusted by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut tally_gateway::config::ServeConfig)) -> Tally {
        let db = TestDb::create().await;
        let gateway = TestGateway::start(&db, configure).await;
        Tally { db, gateway }
    }

    /// [`Tally::start`] with one site, `domain` in time zone Europe/Berlin.
    pub async fn with_site(domain: &str) -> Tally {
        let t = Tally::start().await;
        t.sql(&format!("SELECT tally.create_site('{domain}', 'Europe/Berlin')")).await;
        t
    }

    /// Runs SQL and returns its rows.
    pub async fn sql(&self, query: &str) -> Vec<Row> {
        self.db.query(query).await
    }

    /// `POST path` with a JSON body and a desktop browser's user agent.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.gateway.post_json(path, &body).await
    }

    /// `GET path`, decoded as JSON.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.gateway.get_json(path).await
    }
}
