//! What the per-site resources a member manages (goals, funnels, saved segments) share:
//! the site must be one the caller sees, and a changed row that is not there was either
//! refused by row-level security (403) or never visible (404).

use deadpool_postgres::Transaction;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Longest name of a goal, funnel or segment: what a dashboard list shows in one line.
pub const MAX_NAME_LEN: usize = 120;

/// Fails with 404 unless the caller sees site `site_id`: a site they may not see does
/// not exist for them.
pub async fn require_site(tx: &Transaction<'_>, site_id: i32) -> Result<(), ApiError> {
    match tx.query_opt("SELECT 1 FROM tally.sites WHERE site_id = $1", &[&site_id]).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("no such site".into())),
    }
}

/// The body as a JSON object, or a 400 on the whole body.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| ApiError::bad_request("body", "the body must be a JSON object"))
}

/// The required name at `field`: a string of 1 to [`MAX_NAME_LEN`] characters, trimmed.
pub fn name(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= MAX_NAME_LEN => Ok(s.trim().to_owned()),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Err(ApiError::bad_request(field, format!("{field} is at most {MAX_NAME_LEN} characters")))
        }
        _ => Err(ApiError::bad_request(field, format!("{field} is required"))),
    }
}

/// The optional text at `field`: `None` when absent, null or blank.
pub fn optional_text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok((!s.trim().is_empty()).then(|| s.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(field, format!("{field} is a string"))),
    }
}

/// Why a row the caller named could not be changed: they see it but may not change it
/// (403), or it does not exist for them (404). `visible` is whether they see it.
pub fn unchangeable(visible: bool, what: &str) -> ApiError {
    if visible {
        ApiError::Forbidden("not allowed".into())
    } else {
        ApiError::NotFound(format!("no such {what}"))
    }
}
