//! Tally's core: everything that can be written, tested and benchmarked without a
//! PostgreSQL server. The `tally` extension crate binds these modules to SQL and the
//! gateway uses the event schema; nothing here depends on either of them.

pub mod alerts;
pub mod codec;
pub mod copy_frames;
#[cfg(feature = "datagen")]
pub mod datagen;
pub mod event;
pub mod interrupt;
pub mod query;
pub mod rollup;
pub mod scan;
pub mod segment;
pub mod sketch;
