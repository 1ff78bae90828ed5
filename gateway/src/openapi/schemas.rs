//! Documented shapes of the JSON bodies the handlers read as `serde_json::Value`: the
//! extension checks those bodies field by field (so every error names its field), and
//! these types only describe them for `/api/openapi.json`. Fields whose grammar is the
//! query engine's (filters, date ranges) are described, not restated as schemas.

use serde_json::Value;
use utoipa::ToSchema;

/// Every client error: the message and, for a malformed request, the JSON field, query
/// parameter or header at fault (`filters[0][1]`, `site_id`, `Content-Type`).
#[derive(ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub field: Option<String>,
}

/// One event in Plausible's format (`POST /api/event`): long keys or the tracker's short
/// ones (`n`, `u`, `d`, `r`, `p`/`m`, `$`, `i`, `e`, `sd`, `w`, `h`).
#[derive(ToSchema)]
pub struct PlausibleEvent {
    /// The event name: `pageview`, `engagement` or a custom event (at most 120 characters).
    pub name: String,
    /// The page's URL (at most 4096 characters).
    pub url: String,
    /// The site's domain, or several separated by commas (at most 10).
    pub domain: String,
    pub referrer: Option<String>,
    /// Custom properties: at most 30, keys up to 300 and values up to 2000 characters.
    #[schema(value_type = Option<Object>)]
    pub props: Option<Value>,
    /// `{"amount", "currency"}` (ISO 4217) for a revenue goal.
    #[schema(value_type = Option<Object>)]
    pub revenue: Option<Value>,
    /// False for events that do not show the visitor engaged (they do not un-bounce a visit).
    pub interactive: Option<bool>,
    /// Milliseconds the page was in the foreground since the last report (`engagement` events).
    pub engagement_time: Option<i64>,
}

/// One event of the batch API (`POST /api/v1/events`): a JSON array of these, or NDJSON.
#[derive(ToSchema)]
pub struct BatchEvent {
    /// The event's own id: resending a batch does not count it twice.
    pub id: Option<String>,
    /// RFC 3339; the time of arrival when absent.
    pub timestamp: Option<String>,
    pub name: String,
    pub url: String,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    /// The visitor's address, for the location and the daily visitor id.
    pub ip: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub props: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub revenue: Option<Value>,
}

/// What an ingest call did: events accepted, dropped (bots, unknown sites) and, for the
/// batch API, refused one by one (`{index, field, error}`).
#[derive(ToSchema)]
pub struct IngestAnswer {
    pub accepted: u64,
    pub dropped: Vec<Value>,
    pub rejected: Option<Vec<Value>>,
}

/// A stats query (`POST /api/v1/query`, `/api/v1/export`, shared dashboards' queries):
/// Plausible's Stats API v2 grammar, checked by the extension (`tally.query`).
#[derive(ToSchema)]
pub struct StatsQuery {
    /// The site's domain.
    pub site_id: String,
    /// `day`, `7d`, `30d`, `month`, `6mo`, `12mo`, `year`, `all`, or a pair `[from, to]` of
    /// dates or of ISO 8601 date-times with offsets.
    pub date_range: Value,
    /// `visitors`, `visits`, `pageviews`, `bounce_rate`, `visit_duration`, `events`, ...
    pub metrics: Vec<String>,
    /// `event:page`, `visit:source`, `time:day`, ...
    pub dimensions: Option<Vec<String>>,
    /// `[operator, dimension, [values]]`, combinable with `and`, `or`, `not`.
    pub filters: Option<Vec<Value>>,
    /// `[[metric or dimension, "asc" | "desc"]]`.
    pub order_by: Option<Vec<Value>>,
    /// `{"limit", "offset"}`.
    #[schema(value_type = Option<Object>)]
    pub pagination: Option<Value>,
    /// `{"comparison", "total_rows", "imports", "time_labels"}`.
    #[schema(value_type = Option<Object>)]
    pub include: Option<Value>,
    /// `{"steps": [goal names]}` for a funnel query.
    #[schema(value_type = Option<Object>)]
    pub funnel: Option<Value>,
}

/// Several stats queries answered at once (at most 50); a bad one takes its place in
/// `results` as `{"error": {"field", "message"}}`.
#[derive(ToSchema)]
pub struct QueryBatch {
    pub queries: Vec<StatsQuery>,
}

/// An alert rule (`tally.alert_rule_normalize` checks it).
#[derive(ToSchema)]
pub struct AlertRule {
    pub name: String,
    /// One metric of the stats queries.
    pub metric: String,
    pub filters: Option<Vec<Value>>,
    pub window_minutes: Option<u32>,
    /// `above`, `below` or `anomaly`.
    pub condition: String,
    pub threshold: Option<f64>,
    /// For `anomaly`: `up`, `down` or `both`.
    pub direction: Option<String>,
    /// For `anomaly`: the weeks of history it compares with.
    pub weeks: Option<u32>,
    pub sensitivity: Option<f64>,
    pub cooldown_minutes: Option<u32>,
    /// Where a firing is sent: `{"type": "webhook", "url"}` or `{"type": "email", "to"}`.
    pub channels: Vec<Value>,
    pub enabled: Option<bool>,
}

/// Mutes a rule until an RFC 3339 time, or unmutes it with `null`.
#[derive(ToSchema)]
pub struct Mute {
    pub until: Option<String>,
}

/// A goal: met by an event of that name, or by a pageview of a page matching the
/// pattern (`*` is any characters); with `currency` (ISO 4217) a revenue goal.
#[derive(ToSchema)]
pub struct Goal {
    pub name: String,
    pub event_name: Option<String>,
    pub page_pattern: Option<String>,
    pub currency: Option<String>,
}

/// A goal in Plausible's Sites API: `goal_type` `event` with `event_name`, or `page`
/// with `page_path`.
#[derive(ToSchema)]
pub struct PlausibleGoal {
    /// The site's domain.
    pub site_id: String,
    pub goal_type: String,
    pub event_name: Option<String>,
    pub page_path: Option<String>,
    pub display_name: Option<String>,
}

/// A funnel: 2 to 8 distinct goals of the site, in order.
#[derive(ToSchema)]
pub struct Funnel {
    pub name: String,
    pub steps: Vec<String>,
}

/// A saved segment: named filters (a stats query's), personal or shared with the site.
#[derive(ToSchema)]
pub struct Segment {
    pub name: String,
    pub filters: Vec<Value>,
    pub shared: Option<bool>,
}

/// A Plausible Stats API v2 request (`POST /api/v2/query`).
#[derive(ToSchema)]
pub struct StatsV2Query {
    /// The site's domain.
    pub site_id: String,
    /// `day`, `7d`, `28d`, `30d`, `month`, `6mo`, `12mo`, `year`, `all`, or a pair of
    /// dates or date-times.
    pub date_range: Value,
    pub metrics: Vec<String>,
    pub dimensions: Option<Vec<String>>,
    pub filters: Option<Vec<Value>>,
    pub order_by: Option<Vec<Value>>,
    /// `{"total_rows", "imports", "time_labels"}`.
    #[schema(value_type = Option<Object>)]
    pub include: Option<Value>,
    /// `{"limit", "offset"}`.
    #[schema(value_type = Option<Object>)]
    pub pagination: Option<Value>,
}
