//! HTTP routes, one file per resource; `app` merges them.

pub mod events;
pub mod export;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod realtime;
pub mod tracker;
