//! `JsonBody<T>`: a JSON request body whose rejections are `ApiError`s naming the field
//! (`{"error": "missing field `email`", "field": "email"}`), like every other 400. A
//! body not declared `Content-Type: application/json` is refused with 415 unread: a
//! text/plain body is what a cross-origin form or `fetch` may send without asking.
//! Nesting deeper than serde_json's limit (128 levels) is a 400, not a deep recursion.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !crate::csrf::is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::bad_request("body", rejection.body_text()),
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let message = e.to_string();
            // serde names the field in backticks: "missing field `email`", "unknown field `x`".
            let field = message.split('`').nth(1).filter(|_| e.is_data()).unwrap_or("body").to_owned();
            ApiError::bad_request(field, message)
        })
    }
}
