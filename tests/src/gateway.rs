//! A real gateway for one test: the library's `serve` on a free loopback port, talking
//! to the test's database, stopped (and flushed) by [`TestGateway::shutdown`].

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use tally_gateway::config::ServeConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cluster::{repo_root, TestDb};

/// The `--metrics-token` of test gateways; [`TestGateway::get_json`] sends it to `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token";

/// A desktop Firefox, so events are not dropped as bots.
pub const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";

pub struct TestGateway {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestGateway {
    pub async fn start(db: &TestDb, configure: impl FnOnce(&mut ServeConfig)) -> TestGateway {
        TestGateway::start_at(db, &db.url, configure).await
    }

    /// [`TestGateway::start`] connecting to `db` with another connection string (another
    /// database role, say).
    pub async fn start_at(db: &TestDb, url: &str, configure: impl FnOnce(&mut ServeConfig)) -> TestGateway {
        static SPOOLS: AtomicU32 = AtomicU32::new(0);
        let mut config = ServeConfig::from_env();
        config.dashboard_dir = repo_root().join("dashboards/dist");
        // Each gateway owns its spool: a shared one would replay into the wrong database.
        config.spool_dir = std::env::temp_dir().join(format!(
            "tally-test-spool-{}-{}-{}",
            db.name,
            std::process::id(),
            SPOOLS.fetch_add(1, Ordering::Relaxed)
        ));
        // Alert notifications of this database are delivered by this gateway.
        config.alerts_database_url = Some(db.url.clone());
        config.metrics_token = Some(METRICS_TOKEN.into());
        // The tests' webhook receivers listen on loopback, refused by default.
        config.webhook_allow = vec!["127.0.0.0/8".parse().expect("CIDR")];
        configure(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let pools = tally_gateway::pool::Pools::build(url, 4, 3).expect("pools");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tally_gateway::serve(pools, config, listener, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().user_agent(BROWSER_UA).build().expect("http client");
        TestGateway { base, http, stop: Some(stop), task: Some(task) }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self.http.post(format!("{}{path}", self.base)).json(body).send().await.expect("POST");
        decode(resp).await
    }

    /// `POST path` with a raw body and extra headers.
    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        decode(req.send().await.expect("POST")).await
    }

    /// `GET path`, decoded as JSON (`/metrics` with the metrics token).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if path.starts_with("/metrics") {
            req = req.bearer_auth(METRICS_TOKEN);
        }
        decode(req.send().await.expect("GET")).await
    }

    /// Stops accepting, waits for in-flight requests and the final flush.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("gateway task").expect("gateway serve");
        }
    }
}

/// The status and JSON body of a response (a JSON string when the body is not JSON).
pub async fn decode(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("response body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}
