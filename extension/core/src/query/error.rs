//! The one error of a bad query: which field is wrong and why. The SQL binding turns
//! it into an ERROR with a HINT, the gateway into HTTP 400 `{"error", "field"}`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueryError {
    /// Path of the offending JSON field, e.g. `metrics[2]` or `filters[0][1]`.
    pub field: String,
    pub message: String,
}

impl QueryError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        QueryError { field: field.into(), message: message.into() }
    }
}
