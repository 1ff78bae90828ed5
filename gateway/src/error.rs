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
    /// The request lacks valid credentials (e.g. an ingest key); the message says which.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this. The message never says whether the
    /// thing asked for exists.
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist (or the caller may not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what exists (a second user with the same email).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts (sign-in) or requests (API key); retry after the given seconds.
    #[error("too many requests, retry later")]
    TooManyRequests { retry_after_secs: u64 },
    /// The body is larger than `--max-body-bytes`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request does not declare a JSON body (`Content-Type: application/json`),
    /// which every API call that changes something must (see `csrf`).
    #[error("send the request as JSON: Content-Type: application/json")]
    UnsupportedMediaType,
    /// The ingest queue is full; the client should retry after the given seconds.
    #[error("overloaded, retry later")]
    Overloaded { retry_after_secs: u32 },
    /// A statement ran out of its request's time (`statement_timeout`, SQLSTATE 57014).
    #[error("the request took longer than the server allows: ask for a shorter date range or fewer dimensions and filters")]
    TooSlow,
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
    Flush(std::sync::Arc<crate::ingest::batcher::FlushError>),
    /// A statement took longer than the gateway waits for one.
    #[error("database did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl DbError {
    /// Whether the failure says nothing about the data: Postgres was unreachable,
    /// restarting, overloaded or too slow, so the same write may succeed later (and the
    /// ingest path spools it). Errors about the data itself (a constraint, a type) are
    /// not transient: retrying them would fail forever.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(_) | DbError::Timeout(_) => true,
            DbError::Postgres(e) => match e.code() {
                // No SQLSTATE: the connection failed or closed under us.
                None => true,
                Some(code) => {
                    let code = code.code();
                    // 08 connection exception, 53 insufficient resources, 57 operator
                    // intervention (57014 statement timeout or cancel, 57P0x shutdown or
                    // startup), 58 system error (I/O), 55P03 lock timeout, 25006 read-only
                    // transaction (a standby, or a primary being demoted), 40001/40P01
                    // serialization failure or deadlock.
                    ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class))
                        || ["55P03", "25006", "40001", "40P01"].contains(&code)
                }
            },
            DbError::Flush(e) => match &**e {
                crate::ingest::batcher::FlushError::Database(db) => db.is_transient(),
                crate::ingest::batcher::FlushError::Spool(_) => false,
            },
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Database(e.into())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    /// What Postgres refused becomes a client error: a missing privilege or a row-level
    /// security check (42501) is 403, a clash with an existing row 409, a reference to a
    /// row that is not there (or not visible) 404, text Postgres cannot store (a NUL
    /// character: `\u0000` in JSON is 22P05, `%00` in a query string or a NUL in a text
    /// parameter 22021) 400. Everything else is ours: 503 when it may pass (see
    /// [`DbError::is_transient`]), 500 otherwise.
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(code) if *code == SqlState::INSUFFICIENT_PRIVILEGE => ApiError::Forbidden("not allowed".into()),
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => ApiError::Conflict("already exists".into()),
            Some(code) if *code == SqlState::FOREIGN_KEY_VIOLATION || *code == SqlState::NO_DATA_FOUND => {
                ApiError::NotFound("not found".into())
            }
            Some(code) if *code == SqlState::QUERY_CANCELED => ApiError::TooSlow,
            Some(code) if *code == SqlState::UNTRANSLATABLE_CHARACTER || *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
                ApiError::bad_request("body", "text may not contain the NUL character (\\u0000), in the body or the query string")
            }
            _ => ApiError::Database(e.into()),
        }
    }
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.into(), message: message.into() }
    }

    /// A short fixed label for metrics: why the request was refused.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::TooSlow => "too_slow",
            ApiError::Database(_) => "database",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooSlow => StatusCode::GATEWAY_TIMEOUT,
            // Retrying helps only when the failure may pass; an engine error (a corrupt
            // segment, a bug) would fail again, so it is ours: 500.
            ApiError::Database(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::BadRequest { field, message } => json!({ "error": message, "field": field }),
            ApiError::NotFound(message) | ApiError::Unauthorized(message) | ApiError::Forbidden(message) | ApiError::Conflict(message) => {
                json!({ "error": message })
            }
            ApiError::UnsupportedMediaType => json!({ "error": self.to_string(), "field": "Content-Type" }),
            ApiError::PayloadTooLarge | ApiError::Overloaded { .. } | ApiError::TooManyRequests { .. } | ApiError::TooSlow => {
                json!({ "error": self.to_string() })
            }
            ApiError::Database(e) if e.is_transient() => {
                tracing::error!(error = %e, "database error");
                json!({ "error": "database unavailable, retry later" })
            }
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                json!({ "error": "internal error" })
            }
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                json!({ "error": "internal error" })
            }
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            ApiError::Overloaded { retry_after_secs } => Some(u64::from(*retry_after_secs)),
            ApiError::TooManyRequests { retry_after_secs } => Some((*retry_after_secs).max(1)),
            ApiError::Database(e) if e.is_transient() => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
