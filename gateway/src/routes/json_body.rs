//! `JsonBody<T>`: a JSON request body whose rejections are `ApiError`s naming the field
//! (`{"error": "missing field `email`", "field": "email"}`), like every other 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
