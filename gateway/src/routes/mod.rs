//! HTTP routes, one file per resource; `app` merges them.

pub mod alerts;
pub mod events;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod tracker;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON request body, or the error a client can act on: 413 when too large, 400
/// naming `body` when unreadable or not JSON.
pub(crate) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("body", rejection.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("body", format!("not JSON: {e}")))
}
