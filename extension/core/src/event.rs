//! The canonical analytics event: one row of `tally.events_hot` and one row of a
//! compacted segment. Every layer (gateway ingest, hot table, segment codecs, query
//! kernels) speaks this schema, so its field list is the one place a column is added.

/// A web or product analytics event after enrichment.
///
/// Optional fields are `None` when the source did not send them (no referrer, no UTM
/// tags, no revenue); they surface as SQL NULL so analysts can `WHERE referrer IS NULL`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// The site (data source) the event belongs to; `tally.sites.site_id`.
    pub site_id: i32,
    /// When it happened, microseconds since the Unix epoch, UTC (Postgres `timestamptz`
    /// resolution, so a round trip through SQL is lossless).
    pub ts: i64,
    /// `pageview`, `engagement` or a custom event name.
    pub name: String,
    /// Cookieless visitor id: a hash of a daily salt, site, IP and user agent.
    pub visitor_id: i64,
    /// Visit id; a visit ends after 30 minutes without events.
    pub session_id: i64,
    pub hostname: String,
    pub pathname: String,
    /// Full referrer URL as the browser sent it.
    pub referrer: Option<String>,
    /// Referrer grouped into a source (`Google`, `Twitter`, a UTM source); NULL for a
    /// direct visit (no referrer and no UTM source).
    pub referrer_source: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// ISO 3166-2 subdivision code, e.g. `DE-BE`.
    pub region: Option<String>,
    pub city: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    /// `desktop`, `mobile`, `tablet` or `bot`-free other classes from the UA parser.
    pub device: Option<String>,
    /// Viewport width in CSS pixels as the tracker reported it.
    pub screen_width: Option<i32>,
    /// Time the page was in the foreground, for `engagement` events.
    pub engagement_ms: Option<i32>,
    /// Revenue in millionths of the currency unit, so sums stay exact integers.
    pub revenue_micros: Option<i64>,
    /// ISO 4217 currency code of `revenue_micros`.
    pub revenue_currency: Option<String>,
    /// Custom properties, string keys to string values, in the order they were sent.
    pub props: Vec<(String, String)>,
    /// How far down the page the visitor scrolled, in percent (0..=100), for
    /// `engagement` events.
    pub scroll_depth: Option<i32>,
    /// `false` for an event the tracker marked non-interactive, which never turns a
    /// bounce into an engaged visit; `None` (rows stored before the field existed)
    /// counts as interactive.
    pub interactive: Option<bool>,
    /// Acquisition channel of the visit this event would start (`Organic Search`,
    /// `Paid Social`, `Direct`, ...), as the gateway classifies its source, UTM tags and
    /// ad click id; NULL for rows stored before the column existed.
    pub channel: Option<String>,
}

/// The SQL type of an event column, as `tally.event` declares it (sql/schema.sql):
/// what decides how each layer reads and writes the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Int4,
    Int8,
    Timestamptz,
    Text,
    Jsonb,
    Bool,
}

impl SqlType {
    /// The type as Postgres's `format_type` names it.
    pub fn sql_name(self) -> &'static str {
        match self {
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Text => "text",
            SqlType::Jsonb => "jsonb",
            SqlType::Bool => "boolean",
        }
    }
}

/// The columns of [`Event`] in storage order, with their SQL types: the columns of
/// `tally.event` and `tally.events_hot` and a segment's column blocks. The one list of
/// them: every other layer derives from it, and a test checks the SQL against it. A
/// segment's blocks are numbered by this order, so a new column goes at the end; a
/// segment written before it existed reads it as NULL.
pub const SCHEMA: &[(&str, SqlType)] = &[
    ("site_id", SqlType::Int4),
    ("ts", SqlType::Timestamptz),
    ("name", SqlType::Text),
    ("visitor_id", SqlType::Int8),
    ("session_id", SqlType::Int8),
    ("hostname", SqlType::Text),
    ("pathname", SqlType::Text),
    ("referrer", SqlType::Text),
    ("referrer_source", SqlType::Text),
    ("utm_source", SqlType::Text),
    ("utm_medium", SqlType::Text),
    ("utm_campaign", SqlType::Text),
    ("utm_term", SqlType::Text),
    ("utm_content", SqlType::Text),
    ("country", SqlType::Text),
    ("region", SqlType::Text),
    ("city", SqlType::Text),
    ("browser", SqlType::Text),
    ("browser_version", SqlType::Text),
    ("os", SqlType::Text),
    ("os_version", SqlType::Text),
    ("device", SqlType::Text),
    ("screen_width", SqlType::Int4),
    ("engagement_ms", SqlType::Int4),
    ("revenue_micros", SqlType::Int8),
    ("revenue_currency", SqlType::Text),
    ("props", SqlType::Jsonb),
    ("scroll_depth", SqlType::Int4),
    ("interactive", SqlType::Bool),
    ("channel", SqlType::Text),
];

const NAMES: [&str; SCHEMA.len()] = {
    let mut names = [""; SCHEMA.len()];
    let mut i = 0;
    while i < SCHEMA.len() {
        names[i] = SCHEMA[i].0;
        i += 1;
    }
    names
};

/// The names of [`SCHEMA`]'s columns, in order.
pub const COLUMNS: &[&str] = &NAMES;

/// The SQL type of column `column` (an index into [`COLUMNS`]).
pub fn sql_type(column: usize) -> SqlType {
    SCHEMA[column].1
}
