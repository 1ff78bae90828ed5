//! `tally.alert_rule_normalize`: a rule's JSON checked by `tally_core::alerts::Rule`
//! and returned with its defaults filled in, or an error naming the field.

use pgrx::prelude::*;
use tally_core::alerts::Rule;
use tally_core::query::QueryError;

/// Raises a bad rule as SQLSTATE 22023 with the field in DETAIL (`field: window_minutes`,
/// which the gateway turns into a 400 naming it) and what to do in HINT.
fn reject(error: QueryError) -> ! {
    crate::query::reject_field(error, "tally.alert_rules", "the alert rule; the rule JSON is described in sql/ALERTS.md.")
}

/// 128 random bits from Postgres' cryptographic source, as hex: a webhook's secret.
fn new_secret() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: the buffer is valid for its length.
    if !unsafe { pg_sys::pg_strong_random(bytes.as_mut_ptr().cast(), bytes.len()) } {
        error!("could not generate a random webhook secret");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checked rule with defaults; see [`Rule::parse`].
pub fn normalize(rule: &serde_json::Value) -> serde_json::Value {
    Rule::parse(rule, &mut new_secret).unwrap_or_else(|e| reject(e)).to_json()
}
