//! Errors of building and reading segments.

use crate::codec::DecodeError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("not a Tally segment (bad magic)")]
    BadMagic,
    #[error("unsupported segment version {0}")]
    UnsupportedVersion(u8),
    #[error("segment checksum mismatch: the bytes are corrupt")]
    Checksum,
    #[error("no column named {0:?}")]
    UnknownColumn(String),
    #[error("column {0} is not stored in this segment")]
    MissingColumn(&'static str),
    #[error("column {column}: {reason}")]
    BadColumn { column: &'static str, reason: &'static str },
    #[error("{rows} rows exceed the segment limit of {limit}")]
    TooManyRows { rows: usize, limit: usize },
}
