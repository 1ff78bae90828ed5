//! The one error type of every codec decoder.

/// Why bytes could not be decoded. Corruption is expected input (a bad disk page, a
/// truncated TOAST value, a fuzzer), so every variant is recoverable and none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before a field it declares.
    #[error("input truncated while reading {0}")]
    Truncated(&'static str),
    /// A field holds a value the format never writes.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A declared count or size exceeds what a sane encoder produces.
    #[error("{what} of {value} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, value: u64, limit: u64 },
    /// A standalone encoding had bytes left over after its last field.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// The zstd stage rejected its input.
    #[error("zstd: {0}")]
    Zstd(String),
}
