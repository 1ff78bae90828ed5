//! What a goal is, checked once for both APIs that write goals: the dashboard's
//! (`/api/v1/sites/{id}/goals`, [`super::goals`]) and Plausible's Sites API
//! (`/api/v1/sites/goals`, [`super::goals_api`]). They name the parts differently
//! ([`Fields`]) but a goal one accepts the other accepts too.

use serde_json::{json, Map, Value};

use super::site_items;
use crate::error::ApiError;
use crate::ingest::payload::{MAX_NAME_LEN, MAX_URL_LEN};
use crate::ingest::text::{self, Controls};

/// The body fields that carry a goal's parts.
pub struct Fields {
    pub name: &'static str,
    pub event_name: &'static str,
    pub page_pattern: &'static str,
}

/// The dashboard API's names.
pub const TALLY: Fields = Fields { name: "name", event_name: "event_name", page_pattern: "page_pattern" };
/// Plausible's Sites API's names.
pub const PLAUSIBLE: Fields = Fields { name: "display_name", event_name: "event_name", page_pattern: "page_path" };

/// A goal: met by an event named `event_name`, or by a pageview of a page matching
/// `page_pattern` (`*` any characters); with `currency` a revenue goal.
pub struct Goal {
    pub name: String,
    pub event_name: Option<String>,
    pub page_pattern: Option<String>,
    pub currency: Option<String>,
}

impl Goal {
    /// A goal from its parts as a request gave them (trimmed, blanks as absent), or a
    /// 400 naming the field of `fields` at fault. Event names follow ingest's rule
    /// (an event longer than that could never meet the goal); patterns are paths.
    pub fn checked(
        fields: &Fields,
        name: String,
        event_name: Option<String>,
        page_pattern: Option<String>,
        currency: Option<String>,
    ) -> Result<Goal, ApiError> {
        match (&event_name, &page_pattern) {
            (None, None) => return Err(ApiError::bad_request(fields.event_name, "give an event name or a page pattern")),
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(fields.page_pattern, "a goal has an event name or a page pattern, not both"))
            }
            (Some(e), None) => text::check(|| fields.event_name.into(), e, MAX_NAME_LEN, Controls::Refused)?,
            (None, Some(p)) => {
                text::check(|| fields.page_pattern.into(), p, MAX_URL_LEN, Controls::Refused)?;
                if !p.starts_with('/') {
                    return Err(ApiError::bad_request(fields.page_pattern, "a page pattern is a path such as /pricing or /blog/*"));
                }
            }
        }
        if name.chars().count() > site_items::MAX_NAME_LEN {
            return Err(ApiError::bad_request(fields.name, format!("{} is at most {} characters", fields.name, site_items::MAX_NAME_LEN)));
        }
        text::check(|| fields.name.into(), &name, usize::MAX, Controls::Refused)?;
        if let Some(code) = &currency {
            if event_name.is_none() {
                return Err(ApiError::bad_request("currency", "a revenue goal is met by an event: give an event name"));
            }
            // The same rule as the revenue of ingested events.
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(ApiError::bad_request("currency", "currency is a 3-letter ISO 4217 code such as EUR"));
            }
        }
        Ok(Goal { name, event_name, page_pattern, currency: currency.map(|c| c.to_ascii_uppercase()) })
    }

    /// A goal from a dashboard API body (`name`, `event_name` | `page_pattern`, `currency`).
    pub fn parse(body: &Value) -> Result<Goal, ApiError> {
        let body: &Map<String, Value> = site_items::object(body)?;
        Goal::checked(
            &TALLY,
            site_items::name(body, TALLY.name)?,
            site_items::optional_text(body, TALLY.event_name)?,
            site_items::optional_text(body, TALLY.page_pattern)?,
            site_items::optional_text(body, "currency")?,
        )
    }

    /// The goal as the dashboard API shows it.
    pub fn json(&self) -> Value {
        json!({"name": self.name, "event_name": self.event_name, "page_pattern": self.page_pattern, "currency": self.currency})
    }
}
