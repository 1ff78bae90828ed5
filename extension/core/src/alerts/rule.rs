//! An alert rule as JSON (the gateway's API body and `tally.create_alert_rule`'s
//! argument, one column per key in `tally.alert_rules`), checked with errors that
//! name the field. Metric and filters are checked by the stats query parser itself,
//! so a rule accepts exactly what `tally.query` accepts.

use serde_json::{json, Map, Value};

use super::channel::{self, Channel};
use super::condition::{Condition, Direction};
use crate::query::{self, Metric, Query, QueryError, SiteRef};

/// Longest window: a day. Longer questions are reports, not alerts.
pub const MAX_WINDOW_MINUTES: u32 = 1_440;
/// Past weeks an anomaly rule compares with by default: a month of seasonality.
pub const DEFAULT_WEEKS: u32 = 4;
/// Most past weeks: a quarter; older weeks say little about today.
const MAX_WEEKS: u32 = 12;
/// Robust standard deviations a value must lie from the seasonal median to be an
/// anomaly, by default. Evaluated every minute, a window is judged ~40,000 times a
/// month, so a normal tail of 1 in 10,000 (3.9 sigma) would still alert; simulated
/// Poisson traffic peaked near 4.8, and 5 keeps 30 days of ordinary traffic quiet
/// (tests/tests/alerts.rs) while a halving or doubling of a busy hour stands out.
pub const DEFAULT_SENSITIVITY: f64 = 5.0;
/// Quiet time after a firing before the rule may fire again.
pub const DEFAULT_COOLDOWN_MINUTES: u32 = 60;
/// Longest cooldown: a week.
const MAX_COOLDOWN_MINUTES: u32 = 10_080;

/// The keys of a rule, in the order of `tally.alert_rules`' columns.
const KEYS: [&str; 12] = [
    "name",
    "metric",
    "filters",
    "window_minutes",
    "condition",
    "threshold",
    "direction",
    "weeks",
    "sensitivity",
    "cooldown_minutes",
    "channels",
    "enabled",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    /// The filters as given, in `tally.query`'s syntax (checked).
    pub filters: Value,
    pub window_minutes: u32,
    pub condition: Condition,
    pub cooldown_minutes: u32,
    pub channels: Vec<Channel>,
    pub enabled: bool,
    /// The stats query of the metric with the filters, for site 0 (see [`Rule::query`]).
    query: Query,
}

impl Rule {
    /// Parses and checks a rule. Absent or null keys take their defaults; unknown keys
    /// are errors (a typo must not silently become a default). Webhooks without a
    /// secret get one from `new_secret`.
    pub fn parse(json: &Value, new_secret: &mut dyn FnMut() -> String) -> Result<Rule, QueryError> {
        let object = json.as_object().ok_or_else(|| QueryError::new("rule", "a rule is a JSON object"))?;
        if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(QueryError::new(key, format!("unknown field {key:?}; known fields: {}", KEYS.join(", "))));
        }
        let get = |key: &str| object.get(key).filter(|v| !v.is_null());
        let name = match get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.trim().to_owned(),
            _ => return Err(QueryError::new("name", "name is required: a non-empty string of at most 200 characters")),
        };
        let metric_name = get("metric").and_then(Value::as_str).ok_or_else(|| QueryError::new("metric", "metric is required"))?;
        let filters = get("filters").cloned().unwrap_or_else(|| json!([]));
        let query = query::parse(&json!({"site_id": 0, "date_range": "realtime", "metrics": [metric_name], "filters": filters}))
            .map_err(|e| if e.field == "metrics[0]" { QueryError::new("metric", e.message) } else { e })?;
        let metric = query.metrics[0];
        let window_minutes = integer(get("window_minutes"), "window_minutes", 1, MAX_WINDOW_MINUTES, None)?;
        let direction = match get("direction") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(Direction::from_name)
                    .ok_or_else(|| QueryError::new("direction", "direction is \"up\", \"down\" or \"both\""))?,
            ),
        };
        let threshold = match get("threshold") {
            None => None,
            Some(v) => Some(v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| QueryError::new("threshold", "threshold is a number"))?),
        };
        let condition_name = get("condition").and_then(Value::as_str).unwrap_or_default();
        let anomaly_only = |key: &str| match get(key) {
            Some(_) if condition_name != "anomaly" => Err(QueryError::new(key, format!("{key} applies to anomaly rules only"))),
            _ => Ok(()),
        };
        anomaly_only("weeks")?;
        anomaly_only("sensitivity")?;
        let needs_threshold =
            || threshold.ok_or_else(|| QueryError::new("threshold", format!("a {condition_name} rule needs a threshold")));
        let no_direction = || match direction {
            Some(_) => Err(QueryError::new("direction", format!("direction does not apply to {condition_name} rules"))),
            None => Ok(()),
        };
        let condition = match condition_name {
            "above" => {
                no_direction()?;
                Condition::Above(needs_threshold()?)
            }
            "below" => {
                no_direction()?;
                Condition::Below(needs_threshold()?)
            }
            "change_pct" => {
                let percent = needs_threshold()?;
                if percent <= 0.0 {
                    return Err(QueryError::new(
                        "threshold",
                        "a change_pct threshold is a positive percentage; direction says up, down or both",
                    ));
                }
                Condition::ChangePct { percent, direction: direction.unwrap_or(Direction::Both) }
            }
            "anomaly" => {
                if threshold.is_some() {
                    return Err(QueryError::new("threshold", "anomaly rules take sensitivity, not threshold"));
                }
                let weeks = integer(get("weeks"), "weeks", 2, MAX_WEEKS, Some(DEFAULT_WEEKS))?;
                let sensitivity = match get("sensitivity") {
                    None => DEFAULT_SENSITIVITY,
                    Some(v) => v.as_f64().filter(|s| (0.5..=20.0).contains(s)).ok_or_else(|| {
                        QueryError::new("sensitivity", "sensitivity is a number from 0.5 to 20 (robust standard deviations)")
                    })?,
                };
                Condition::Anomaly { weeks, sensitivity, direction: direction.unwrap_or(Direction::Both) }
            }
            _ => return Err(QueryError::new("condition", "condition is required: \"above\", \"below\", \"change_pct\" or \"anomaly\"")),
        };
        let cooldown_minutes =
            integer(get("cooldown_minutes"), "cooldown_minutes", 0, MAX_COOLDOWN_MINUTES, Some(DEFAULT_COOLDOWN_MINUTES))?;
        let channels = channel::parse_list(get("channels"), new_secret)?;
        let enabled = match get("enabled") {
            None => true,
            Some(v) => v.as_bool().ok_or_else(|| QueryError::new("enabled", "enabled is true or false"))?,
        };
        Ok(Rule { name, metric, filters, window_minutes, condition, cooldown_minutes, channels, enabled, query })
    }

    /// Every key with its value, defaults filled in; keys that do not apply are null.
    pub fn to_json(&self) -> Value {
        let (condition, threshold, direction, weeks, sensitivity) = match self.condition {
            Condition::Above(t) => ("above", Some(t), None, None, None),
            Condition::Below(t) => ("below", Some(t), None, None, None),
            Condition::ChangePct { percent, direction } => ("change_pct", Some(percent), Some(direction), None, None),
            Condition::Anomaly { weeks, sensitivity, direction } => ("anomaly", None, Some(direction), Some(weeks), Some(sensitivity)),
        };
        let mut object = Map::new();
        object.insert("name".into(), json!(self.name));
        object.insert("metric".into(), json!(self.metric.name()));
        object.insert("filters".into(), self.filters.clone());
        object.insert("window_minutes".into(), json!(self.window_minutes));
        object.insert("condition".into(), json!(condition));
        object.insert("threshold".into(), json!(threshold));
        object.insert("direction".into(), json!(direction.map(Direction::name)));
        object.insert("weeks".into(), json!(weeks));
        object.insert("sensitivity".into(), json!(sensitivity));
        object.insert("cooldown_minutes".into(), json!(self.cooldown_minutes));
        object.insert("channels".into(), Value::Array(self.channels.iter().map(Channel::to_json).collect()));
        object.insert("enabled".into(), json!(self.enabled));
        Value::Object(object)
    }

    /// The stats query of the rule's metric and filters on site `site_id`; its date
    /// range is a placeholder, the caller scans the windows it needs.
    pub fn query(&self, site_id: i32) -> Query {
        Query { site: SiteRef::Id(site_id), ..self.query.clone() }
    }
}

/// An integer key within `min..=max`; `default` when absent (required when `None`).
fn integer(value: Option<&Value>, field: &str, min: u32, max: u32, default: Option<u32>) -> Result<u32, QueryError> {
    let bad = || QueryError::new(field, format!("{field} is an integer from {min} to {max}"));
    match value {
        None => default.ok_or_else(|| QueryError::new(field, format!("{field} is required: an integer from {min} to {max}"))),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| (min..=max).contains(n)).ok_or_else(bad),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<Rule, QueryError> {
        Rule::parse(&v, &mut || "generated-secret-0123456789".into())
    }

    fn base() -> Value {
        json!({"name": "Checkout drop", "metric": "visitors", "window_minutes": 15, "condition": "anomaly"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut rule = base();
        rule[key] = value;
        rule
    }

    #[test]
    fn defaults_fill_in_and_the_json_round_trips() {
        let rule = parse(with("filters", json!([["is", "event:page", ["/checkout"]]]))).unwrap();
        assert_eq!(rule.condition, Condition::Anomaly { weeks: 4, sensitivity: DEFAULT_SENSITIVITY, direction: Direction::Both });
        assert_eq!((rule.cooldown_minutes, rule.enabled, rule.channels.len()), (60, true, 0));
        let json = rule.to_json();
        assert_eq!(json["threshold"], Value::Null);
        assert_eq!(parse(json.clone()).unwrap(), rule, "normalizing twice changes nothing");
        assert_eq!(rule.query(7).site, SiteRef::Id(7));
        assert!(rule.query(7).filter.is_some());
    }

    #[test]
    fn thresholds_and_changes() {
        let above =
            parse(json!({"name": "x", "metric": "pageviews", "window_minutes": 5, "condition": "above", "threshold": 1000})).unwrap();
        assert_eq!(above.condition, Condition::Above(1000.0));
        let change = parse(
            json!({"name": "x", "metric": "visits", "window_minutes": 60, "condition": "change_pct", "threshold": 50, "direction": "down"}),
        )
        .unwrap();
        assert_eq!(change.condition, Condition::ChangePct { percent: 50.0, direction: Direction::Down });
    }

    #[test]
    fn errors_name_the_field() {
        let field = |v| parse(v).unwrap_err().field;
        assert_eq!(field(with("metric", json!("clicks"))), "metric");
        assert!(parse(with("metric", json!("clicks"))).unwrap_err().message.contains("known metrics"));
        assert_eq!(field(with("metric", Value::Null)), "metric");
        assert_eq!(field(with("window_minutes", json!(0))), "window_minutes");
        assert_eq!(field(with("window_minutes", json!(1441))), "window_minutes");
        assert_eq!(field(with("window_minutes", json!("15"))), "window_minutes");
        assert_eq!(field(with("filters", json!([["is", "visit:planet", ["x"]]]))), "filters[0][1]");
        assert_eq!(field(with("condition", json!("sideways"))), "condition");
        assert_eq!(field(with("threshold", json!(3))), "threshold");
        assert_eq!(field(with("weeks", json!(1))), "weeks");
        assert_eq!(field(with("sensitivity", json!(0))), "sensitivity");
        assert_eq!(field(with("direction", json!("left"))), "direction");
        assert_eq!(field(with("cooldown_minutes", json!(-1))), "cooldown_minutes");
        assert_eq!(field(with("channels", json!([{"type": "webhook", "url": "mailto:x@y.z"}]))), "channels[0].url");
        assert_eq!(field(with("channels", json!({"type": "email"}))), "channels");
        assert_eq!(field(with("windw_minutes", json!(5))), "windw_minutes");
        assert_eq!(field(with("name", json!(""))), "name");
        assert_eq!(field(json!({"name": "x", "metric": "visits", "window_minutes": 5, "condition": "above"})), "threshold");
        assert_eq!(
            field(json!({"name": "x", "metric": "visits", "window_minutes": 5, "condition": "above", "threshold": 1, "weeks": 2})),
            "weeks"
        );
        assert_eq!(
            field(json!({"name": "x", "metric": "visits", "window_minutes": 5, "condition": "change_pct", "threshold": -5})),
            "threshold"
        );
        assert_eq!(field(json!([])), "rule");
    }
}
