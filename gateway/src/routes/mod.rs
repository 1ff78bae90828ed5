//! HTTP routes, one file per resource; `app` merges them.

pub mod events;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod tracker;
