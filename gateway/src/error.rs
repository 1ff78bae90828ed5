//! One error type for every handler. Each variant names its HTTP status; client errors
//! carry a message and the request field at fault, server errors are logged in full and
//! answered with generic text so no SQL or internals leak.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` names the JSON field or query parameter at fault.
    #[error("{message}")]
    BadRequest { field: String, message: String },
    /// The named thing does not exist (or the caller may not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than `--max-body-bytes`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The ingest queue is full; the client should retry after the given seconds.
    #[error("overloaded, retry later")]
    Overloaded { retry_after_secs: u32 },
    /// The database could not be reached or failed; logged, not shown.
    #[error(transparent)]
    Database(#[from] DbError),
    /// Anything else that is our fault; logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A failure talking to Postgres: getting a pooled connection or running a statement.
/// The ingest writer shares it, so a failed flush reaches every waiting request as-is.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// One failed batch flush, reported to every request whose events were in it.
    #[error("{0}")]
    Shared(std::sync::Arc<DbError>),
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Database(e.into())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::Database(e.into())
    }
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.into(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::BadRequest { field, message } => json!({ "error": message, "field": field }),
            ApiError::NotFound(message) => json!({ "error": message }),
            ApiError::PayloadTooLarge | ApiError::Overloaded { .. } => json!({ "error": self.to_string() }),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                json!({ "error": "database unavailable, retry later" })
            }
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                json!({ "error": "internal error" })
            }
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            ApiError::Overloaded { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Database(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
