//! Event storage: hot rows in `tally.events_hot`, compacted into columnar segments in
//! `tally.segments`. The segment format and codecs are `tally_core::segment`; this
//! module moves rows between the tables.

pub mod arrays;
pub mod compact;
pub mod erase;
pub mod hot;
pub mod hot_scan;
pub mod hot_snapshot;
pub mod import;
pub mod layout;
pub mod parallel;
pub mod retention;
