//! Alerts: `tally.alert_rule_normalize(jsonb)` (the check every rule write goes
//! through), `tally.evaluate_alerts(now)` and `tally.evaluate_alert(rule_id, now)`
//! (which `CALL tally.run_alerts()`, run every minute by pg_cron, calls for each rule).

use pgrx::prelude::*;
use pgrx::JsonB;

/// The rule JSON checked, with defaults filled in and webhook secrets generated.
/// A bad rule raises SQLSTATE 22023 naming the field in DETAIL and HINT.
#[pg_extern(volatile, parallel_safe)]
fn alert_rule_normalize(rule: JsonB) -> JsonB {
    JsonB(crate::alerts::normalize::normalize(&rule.0))
}

/// Evaluates every enabled, unmuted alert rule over the window ending at `now`, in one
/// transaction, and returns how many fired or resolved. Tests pass `now` to replay
/// time. Firings are rows of `tally.alert_history` and a NOTIFY on `tally_alerts`, in
/// the caller's transaction.
#[pg_extern(volatile, parallel_unsafe)]
fn evaluate_alerts(now: default!(TimestampWithTimeZone, "now()")) -> i32 {
    crate::alerts::evaluate::evaluate_all(now)
}

/// Evaluates one alert rule as `tally.evaluate_alerts` does (nothing when it is
/// disabled, muted, gone or being evaluated by another run); true when it fired or
/// resolved.
#[pg_extern(volatile, parallel_unsafe)]
fn evaluate_alert(rule_id: i64, now: TimestampWithTimeZone) -> bool {
    crate::alerts::evaluate::evaluate_one(rule_id, now)
}
