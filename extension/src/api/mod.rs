//! Every `#[pg_extern]` of the extension, one file per SQL area.

pub mod rollup;
pub mod storage;
