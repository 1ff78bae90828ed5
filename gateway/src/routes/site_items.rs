//! What the per-site resources a member manages (goals, funnels, saved segments) share:
//! the site must be one the caller sees, and a changed row that is not there was either
//! refused by row-level security (403) or never visible (404).

use deadpool_postgres::Transaction;
use serde_json::{Map, Value};
use tokio_postgres::error::SqlState;

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

/// A table of a site's items keyed by `(site_id, name)`: goals, funnels.
pub struct Named {
    /// The table, qualified (`tally.goals`): a name from the code, never from a request.
    pub table: &'static str,
    /// What one row is called in messages (`goal`).
    pub what: &'static str,
}

impl Named {
    /// A write's error, a name already taken being the `name` field's fault.
    pub fn taken<'a>(&'a self, name: &'a str) -> impl Fn(tokio_postgres::Error) -> ApiError + 'a {
        move |e| match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
                ApiError::bad_request("name", format!("a {} named {name:?} exists", self.what))
            }
            _ => e.into(),
        }
    }

    /// Why the row `name` of site `site_id` could not be changed (see [`unchangeable`]).
    pub async fn unchangeable(&self, tx: &Transaction<'_>, site_id: i32, name: &str) -> ApiError {
        let sql = format!("SELECT 1 FROM {} WHERE site_id = $1 AND name = $2", self.table);
        match tx.query_opt(&sql, &[&site_id, &name]).await {
            Ok(found) => unchangeable(found.is_some(), self.what),
            Err(e) => e.into(),
        }
    }

    /// Deletes the row `name` of site `site_id`, or says why it could not.
    pub async fn delete(&self, tx: &Transaction<'_>, site_id: i32, name: &str) -> Result<(), ApiError> {
        let sql = format!("DELETE FROM {} WHERE site_id = $1 AND name = $2", self.table);
        if tx.execute(&sql, &[&site_id, &name]).await? == 0 {
            return Err(self.unchangeable(tx, site_id, name).await);
        }
        Ok(())
    }
}
