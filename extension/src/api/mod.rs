//! Every `#[pg_extern]` of the extension, one file per SQL area.

pub mod storage;
pub mod rollup;
