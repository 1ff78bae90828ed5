//! The columnar segment: all events of one site and time slice, sorted by
//! (visitor_id, session_id, ts) and stored column by column, each with the codec
//! cascade that makes it smallest.
//!
//! Layout (all integers little-endian or LEB128 varints):
//! ```text
//! magic "TLYS" | version u8 | varint rows | zigzag ts_min | zigzag ts_max
//! visit structure: integer block (rows per session − 1), integer block (sessions per visitor − 1)
//! varint column count | per column: varint index into COLUMNS, varint block length
//! column blocks: u8 level (row | session | visitor) + typed payload
//! crc32 of everything above, u32 LE
//! ```
//! Sorting makes the visit structure explicit: a column that is constant within every
//! visit (referrer, UTM tags) or every visitor (country, browser, screen width) is
//! stored once per visit or visitor, sharing the run lengths of the structure instead
//! of repeating them per column.

mod batch;
mod builder;
mod cache;
mod column;
mod error;
mod merge;
mod ranges;
mod reader;
mod runs;
mod schema;

pub use batch::{build_rows, Batch};
pub use builder::{build, Segment};
pub use cache::SegmentCache;
pub use column::{Column, IntColumn, StoredColumn};
pub use error::SegmentError;
pub use merge::merge;
pub use ranges::{StringRange, StringRanges};
pub use reader::{SegmentBytes, SegmentReader};
pub use schema::Kind;
pub(crate) use schema::{index_of, kind as kind_of};

/// First bytes of every segment, so a stray bytea is not mistaken for one.
const MAGIC: [u8; 4] = *b"TLYS";

/// Format version; bumped on any layout change, old readers refuse newer segments.
const VERSION: u8 = 1;

/// Most rows a segment may hold: the codec allocation cap, see [`crate::codec::MAX_VALUES`].
pub const MAX_ROWS: usize = crate::codec::MAX_VALUES;

/// What the catalog keeps in plain columns beside a segment so scans can skip it
/// without detoasting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoneMap {
    pub rows: usize,
    /// Smallest and largest `ts`; both 0 for an empty segment.
    pub ts_min: i64,
    pub ts_max: i64,
}
