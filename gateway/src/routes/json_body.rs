//! `JsonBody<T>`: a JSON request body whose rejections are `ApiError`s naming the field
//! (`{"error": "missing field `email`", "field": "email"}`), like every other 400. A
//! body not declared `Content-Type: application/json` is refused with 415 unread: a
//! text/plain body is what a cross-origin form or `fetch` may send without asking.
//! Nesting deeper than serde_json's limit (128 levels) is a 400, not a deep recursion.
//! A number larger than [`MAX_MAGNITUDE`] is a 400 at its field: Postgres stores it
//! exactly, and the extension's JSON reader cannot read numbers near `f64::MAX` back.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

/// The largest magnitude a number in a request body may have: far beyond any count,
/// amount or threshold, and well inside what every reader of the body handles.
pub const MAX_MAGNITUDE: f64 = 1e300;

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
        let body = serde_json::from_slice(&bytes).map_err(|e| {
            let message = e.to_string();
            // serde names the field in backticks: "missing field `email`", "unknown field `x`".
            let field = message.split('`').nth(1).filter(|_| e.is_data()).unwrap_or("body").to_owned();
            ApiError::bad_request(field, message)
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("body", e.to_string()))?;
        match too_large(&value, String::new()) {
            Some(field) => Err(ApiError::bad_request(field, format!("numbers are at most {MAX_MAGNITUDE:e} in magnitude"))),
            None => Ok(JsonBody(body)),
        }
    }
}

/// Where in `value` (`filters[0][2]`, `include.limit`) a number exceeds [`MAX_MAGNITUDE`].
fn too_large(value: &Value, at: String) -> Option<String> {
    match value {
        Value::Number(n) => n.as_f64().filter(|x| x.abs() > MAX_MAGNITUDE).map(|_| if at.is_empty() { "body".into() } else { at }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| too_large(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| too_large(v, if at.is_empty() { k.clone() } else { format!("{at}.{k}") })),
        _ => None,
    }
}
