//! Prometheus metrics, served at `/metrics`: of the ingest path, what was accepted and
//! rejected (by reason), how full the queue and the spool are, how long flushes take and
//! how often Postgres failed; of the rest, HTTP latency per route, stats query latency
//! per path and alert delivery attempts (the database's own gauges are read at scrape
//! time, `database_metrics.rs`). Recorded through the `metrics` facade, exported by
//! `metrics-exporter-prometheus`; one recorder per process, installed on first use.
//! docs/monitoring.md lists them; ops/grafana/tally.json charts them.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::ingest::store::Written;

const ACCEPTED: &str = "tally_ingest_events_accepted_total";
const REJECTED: &str = "tally_ingest_requests_rejected_total";
const DROPPED: &str = "tally_ingest_events_dropped_total";
const DUPLICATES: &str = "tally_ingest_events_duplicate_total";
const QUEUE: &str = "tally_ingest_queue_events";
const SPOOLED: &str = "tally_ingest_events_spooled_total";
const SPOOL_BATCHES: &str = "tally_ingest_spool_batches";
const SPOOL_BYTES: &str = "tally_ingest_spool_bytes";
const FLUSH_SECONDS: &str = "tally_ingest_flush_seconds";
const FLUSH_EVENTS: &str = "tally_ingest_flush_events";
const DB_ERRORS: &str = "tally_ingest_database_errors_total";
const EVENTS_REJECTED: &str = "tally_ingest_events_rejected_total";
const SET_ASIDE: &str = "tally_ingest_events_set_aside_total";
const SPOOL_OLDEST: &str = "tally_ingest_spool_oldest_seconds";
const HTTP_SECONDS: &str = "tally_http_request_duration_seconds";
const QUERY_SECONDS: &str = "tally_query_duration_seconds";
const QUERY_ANSWERS: &str = "tally_query_answers_total";
const DELIVERY_ATTEMPTS: &str = "tally_alert_delivery_attempts_total";

/// Flush latency buckets: a healthy loopback flush takes about a millisecond; the
/// upper buckets show a struggling database before the write timeout (10 s) fires.
const FLUSH_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const SIZE_BUCKETS: &[f64] = &[1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];
/// Request and query latency buckets: ingest answers in a millisecond or two, a
/// dashboard query in tens to hundreds, an export or a cold scan in seconds; the
/// statement timeouts (30 s by default) bound the rest.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The process's recorder handle, installing the recorder the first time.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(FLUSH_SECONDS.into()), FLUSH_BUCKETS)
            .expect("non-empty buckets")
            .set_buckets_for_metric(Matcher::Full(FLUSH_EVENTS.into()), SIZE_BUCKETS)
            .expect("non-empty buckets")
            .set_buckets_for_metric(Matcher::Full(HTTP_SECONDS.into()), LATENCY_BUCKETS)
            .expect("non-empty buckets")
            .set_buckets_for_metric(Matcher::Full(QUERY_SECONDS.into()), LATENCY_BUCKETS)
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(ACCEPTED, "Events committed or spooled and acknowledged with 202");
    metrics::describe_counter!(REJECTED, "Ingest requests refused, by reason");
    metrics::describe_counter!(DROPPED, "Events accepted but not stored (bots, unknown sites), by reason");
    metrics::describe_counter!(DUPLICATES, "Events skipped at commit because their id was stored before");
    metrics::describe_gauge!(QUEUE, "Events held in memory, queued or being written");
    metrics::describe_counter!(SPOOLED, "Events written to the disk spool while Postgres was unreachable");
    metrics::describe_gauge!(SPOOL_BATCHES, "Batches in the disk spool waiting for replay");
    metrics::describe_gauge!(SPOOL_BYTES, "Bytes in the disk spool");
    metrics::describe_histogram!(FLUSH_SECONDS, metrics::Unit::Seconds, "Time to commit one batch");
    metrics::describe_histogram!(FLUSH_EVENTS, "Events per committed batch");
    metrics::describe_counter!(DB_ERRORS, "Failed batch writes (connection, timeout or SQL errors)");
    metrics::describe_counter!(EVENTS_REJECTED, "Events of batch requests refused one by one (400 reasons), the rest kept");
    metrics::describe_counter!(
        SET_ASIDE,
        "Spooled events Postgres refused as data errors, moved to the spool's failed/ directory, by SQLSTATE"
    );
    metrics::describe_gauge!(SPOOL_OLDEST, metrics::Unit::Seconds, "Age of the oldest batch in the disk spool (0: empty)");
    metrics::describe_histogram!(HTTP_SECONDS, metrics::Unit::Seconds, "Time to answer a request, by route, method and status");
    metrics::describe_histogram!(
        QUERY_SECONDS,
        metrics::Unit::Seconds,
        "Time of one tally.query by the path it took (scan, rollups), or of one share of a batch (batch)"
    );
    metrics::describe_counter!(QUERY_ANSWERS, "Stats query answers, single or in a batch, by the path each took");
    metrics::describe_counter!(DELIVERY_ATTEMPTS, "Alert delivery attempts, by result (delivered, failed)");
    // Present from the start, so a rate over them exists before the first failure.
    for result in ["delivered", "failed"] {
        metrics::counter!(DELIVERY_ATTEMPTS, "result" => result).increment(0);
    }
    metrics::counter!(DB_ERRORS).increment(0);
}

/// The text exposition format.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

pub fn accepted(events: usize) {
    metrics::counter!(ACCEPTED).increment(events as u64);
}

/// A refused request; `reason` is one of a fixed set (see `ApiError::reason`).
pub fn rejected(reason: &'static str) {
    metrics::counter!(REJECTED, "reason" => reason).increment(1);
}

pub fn dropped(reason: &'static str, events: usize) {
    metrics::counter!(DROPPED, "reason" => reason).increment(events as u64);
}

pub fn queue_depth(events: usize) {
    metrics::gauge!(QUEUE).set(events as f64);
}

pub fn spooled(events: usize) {
    metrics::counter!(SPOOLED).increment(events as u64);
}

pub fn spool_size((batches, bytes): (usize, u64)) {
    metrics::gauge!(SPOOL_BATCHES).set(batches as f64);
    metrics::gauge!(SPOOL_BYTES).set(bytes as f64);
}

pub fn spool_oldest(age: Option<Duration>) {
    metrics::gauge!(SPOOL_OLDEST).set(age.map_or(0.0, |a| a.as_secs_f64()));
}

/// One answered request; `route` is the router's pattern (`/api/v1/sites/{id}`), never
/// the raw path, so the label set stays as small as the route table.
pub fn http_request(route: String, method: String, status: u16, elapsed: Duration) {
    metrics::histogram!(HTTP_SECONDS, "route" => route, "method" => method, "status" => status.to_string()).record(elapsed.as_secs_f64());
}

/// One stats query; `path` is the answer's `meta.path`.
pub fn query(path: &str, elapsed: Duration) {
    metrics::histogram!(QUERY_SECONDS, "path" => path.to_owned()).record(elapsed.as_secs_f64());
    metrics::counter!(QUERY_ANSWERS, "path" => path.to_owned()).increment(1);
}

/// One share of a query batch (one `tally.query_batch` statement) and the paths of the
/// answers it gave: the share's time is one observation of path `batch`.
pub fn batch_share<'a>(paths: impl Iterator<Item = &'a str>, elapsed: Duration) {
    metrics::histogram!(QUERY_SECONDS, "path" => "batch").record(elapsed.as_secs_f64());
    for path in paths {
        metrics::counter!(QUERY_ANSWERS, "path" => path.to_owned()).increment(1);
    }
}

pub fn delivery_attempt(delivered: bool) {
    metrics::counter!(DELIVERY_ATTEMPTS, "result" => if delivered { "delivered" } else { "failed" }).increment(1);
}

pub fn flushed(written: Written, elapsed: Duration) {
    metrics::histogram!(FLUSH_SECONDS).record(elapsed.as_secs_f64());
    if let Written::Stored { rows, duplicates } = written {
        metrics::histogram!(FLUSH_EVENTS).record(rows as f64);
        metrics::counter!(DUPLICATES).increment(duplicates as u64);
    }
}

pub fn database_error() {
    metrics::counter!(DB_ERRORS).increment(1);
}

pub fn rejected_events(events: usize) {
    if events > 0 {
        metrics::counter!(EVENTS_REJECTED).increment(events as u64);
    }
}

/// An acknowledged event Postgres refused for its data at replay, moved aside.
pub fn set_aside(sqlstate: &str) {
    metrics::counter!(SET_ASIDE, "sqlstate" => sqlstate.to_string()).increment(1);
}
