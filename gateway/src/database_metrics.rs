//! Gauges read when `/metrics` is scraped rather than kept up to date: the database's
//! state through `tally.monitoring()` (compaction lag, rollup backlog, alert delivery
//! backlog, replication lag: sql/monitoring.sql names and explains them) and the disk
//! spool's age. `tally_database_up` says whether the database answered; when it does
//! not, the last values stay and the scrape still succeeds, so a scraper sees the
//! gateway spooling through an outage.

use std::time::Duration;

use crate::state::AppState;

/// How long a scrape waits for the database: Prometheus's default scrape timeout is
/// 10 s, and a database that takes longer than this to count a few tables is down for
/// the gateway's purposes too.
const TIMEOUT: Duration = Duration::from_secs(2);

const UP: &str = "tally_database_up";

pub async fn collect(state: &AppState) {
    crate::metrics::spool_oldest(state.spool.oldest_age());
    let rows = tokio::time::timeout(TIMEOUT, async {
        let client = state.pool.get().await.ok()?;
        client.query("SELECT metric, standby, value FROM tally.monitoring()", &[]).await.ok()
    })
    .await
    .ok()
    .flatten();
    metrics::gauge!(UP).set(if rows.is_some() { 1.0 } else { 0.0 });
    for row in rows.unwrap_or_default() {
        let name = format!("tally_{}", row.get::<_, String>(0));
        let value: f64 = row.get(2);
        match row.get::<_, Option<String>>(1) {
            Some(standby) => metrics::gauge!(name, "standby" => standby).set(value),
            None => metrics::gauge!(name).set(value),
        }
    }
}
