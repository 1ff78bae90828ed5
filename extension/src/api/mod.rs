//! Every `#[pg_extern]` of the extension, one file per SQL area.

pub mod alerts;
pub mod ingest;
pub mod query;
pub mod rollup;
pub mod storage;
