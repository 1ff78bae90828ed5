//! Why an hll value or its parameters were rejected.

/// Every way bytes or parameters can be wrong. Bytes come from users (text input,
/// COPY, a bytea cast), so each variant names what is wrong and none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HllError {
    #[error("hll value is {0} bytes long; a valid one has at least a 3-byte header")]
    TooShort(usize),
    #[error("unknown hll schema version {0}; only version 1 exists")]
    Version(u8),
    #[error("unknown hll type {0}; types are 0 (undefined) to 4 (full)")]
    Type(u8),
    #[error("{kind} hll of {len} bytes has an inconsistent size: {why}")]
    Size { kind: &'static str, len: usize, why: &'static str },
    #[error("explicit hll elements must be strictly ascending; element {0} is not")]
    Unsorted(usize),
    #[error("log2m must be between 0 and {max}, got {got}")]
    Log2m { got: i64, max: u8 },
    #[error("regwidth must be between 1 and 7, got {0}")]
    Regwidth(i64),
    #[error("expthresh must be -1, 0 or a power of 2 up to {max}, got {got}")]
    Expthresh { got: i64, max: i64 },
    #[error("sparseon must be 0 or 1, got {0}")]
    Sparseon(i64),
    #[error("hll parameters differ: {what} is {left} on one side and {right} on the other")]
    Mismatch { what: &'static str, left: i64, right: i64 },
    #[error("hll takes at most 4 type modifiers (log2m, regwidth, expthresh, sparseon), got {0}")]
    Modifiers(usize),
    #[error("hll type modifiers must be integers, got \"{0}\"")]
    ModifierNotInteger(String),
    #[error("regwidth modifier must be between 0 and 7, got {0}")]
    ModifierRegwidth(i64),
    #[error("hll value has {what} {value}, but its column type declares {declared}")]
    Declared { what: &'static str, value: i64, declared: i64 },
    #[error("an hll needs more than 8 registers (log2m of 4 or more) to estimate a cardinality, it has {0}")]
    TooFewRegisters(usize),
}
