//! The typed stats query: what [`super::parse`] makes of the JSON a client sends, with
//! every name already checked. Plausible's Stats API v2 is the model, so its names
//! (`visit:source`, `event:props:plan`, `bounce_rate`) are the ones clients know.

/// The site a query is about: its domain (Plausible's `site_id`) or Tally's numeric id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRef {
    Domain(String),
    Id(i32),
}

/// A calendar date, checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Days since 1970-01-01 (negative before), for spans between dates.
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil: March-based years make leap days the last
        // day of the year, so the month offsets are one fixed table.
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Which time the query covers; resolved to UTC instants in the site's time zone by
/// the caller (Postgres knows the zones), see [`super::TimeRange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRange {
    /// Today so far (Plausible's `day`).
    Day,
    /// The last `n` days including today (`7d`, `30d`, ...).
    LastDays(u32),
    /// The current calendar month.
    Month,
    /// The current calendar year.
    Year,
    /// The last five minutes.
    Realtime,
    /// The last 24 hours up to now (Plausible's `24h`).
    Last24Hours,
    /// Whole days from the first to the last date, inclusive.
    Custom(Date, Date),
    /// The instants [from_us, to_us) in microseconds since the Unix epoch: a pair of
    /// date-times, the second inclusive to the end of its second as in Plausible.
    Instants { from_us: i64, to_us: i64 },
}

const DAY_US: i64 = 86_400_000_000;

impl DateRange {
    /// The most calendar days the range spans (a month is at most 31, a year 366): what
    /// bounds the time buckets a `time:*` dimension makes of it.
    pub fn max_days(&self) -> i64 {
        match self {
            DateRange::Day | DateRange::Realtime => 1,
            // Up to now and from the same time yesterday: two calendar days.
            DateRange::Last24Hours => 2,
            DateRange::LastDays(n) => i64::from(*n),
            DateRange::Month => 31,
            DateRange::Year => 366,
            DateRange::Custom(from, to) => to.days_since_epoch() - from.days_since_epoch() + 1,
            // Its length in days rounded up, plus the day a local midnight inside may add.
            DateRange::Instants { from_us, to_us } => (to_us - from_us + DAY_US - 1).div_euclid(DAY_US) + 1,
        }
    }
}

/// What to compare the range with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The period of the same length just before.
    PreviousPeriod,
    /// The same dates one year earlier.
    YearOverYear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    ViewsPerVisit,
    BounceRate,
    VisitDuration,
    Events,
    ConversionRate,
    Percentage,
    TotalRevenue,
    AverageRevenue,
    /// Seconds a page was in the foreground per visit that engaged with it: the time
    /// `engagement` events report, over the visits that sent one.
    TimeOnPage,
    /// Percent of a page scrolled: each visitor's deepest scroll on the group's pages
    /// (from `engagement` events), averaged over the visitors that reported one.
    ScrollDepth,
    /// Percent of a page's pageviews that ended a visit: the visits of an exit page
    /// over the pageviews of that page (Plausible's, with `visit:exit_page`).
    ExitRate,
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Events,
        Metric::ConversionRate,
        Metric::Percentage,
        Metric::TotalRevenue,
        Metric::AverageRevenue,
        Metric::TimeOnPage,
        Metric::ScrollDepth,
        Metric::ExitRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Visitors => "visitors",
            Metric::Visits => "visits",
            Metric::Pageviews => "pageviews",
            Metric::ViewsPerVisit => "views_per_visit",
            Metric::BounceRate => "bounce_rate",
            Metric::VisitDuration => "visit_duration",
            Metric::Events => "events",
            Metric::ConversionRate => "conversion_rate",
            Metric::Percentage => "percentage",
            Metric::TotalRevenue => "total_revenue",
            Metric::AverageRevenue => "average_revenue",
            Metric::TimeOnPage => "time_on_page",
            Metric::ScrollDepth => "scroll_depth",
            Metric::ExitRate => "exit_rate",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Rates are compared by their difference in points, counts by relative change.
    pub fn is_rate(self) -> bool {
        matches!(self, Metric::BounceRate | Metric::ConversionRate | Metric::Percentage | Metric::ExitRate)
    }
}

/// A string attribute of an event or of its visit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attr {
    /// A string column of the event (`event:name`, `event:page`, `event:hostname`).
    Event(&'static str),
    /// A string column read from the visit's first event (`visit:source`, `visit:country`).
    Visit(&'static str),
    /// A custom property of the event (`event:props:<key>`).
    Prop(String),
    /// The page of the visit's first pageview.
    EntryPage,
    /// The page of the visit's last pageview.
    ExitPage,
    /// The hostname of the visit's first pageview (sites served on several hosts).
    EntryHostname,
    /// The hostname of the visit's last pageview.
    ExitHostname,
}

/// `event:*` names and the event column each reads.
pub const EVENT_ATTRS: [(&str, &str); 4] =
    [("event:name", "name"), ("event:page", "pathname"), ("event:hostname", "hostname"), ("event:revenue_currency", "revenue_currency")];

/// `visit:*` names and the event column each reads from the visit's first event.
pub const VISIT_ATTRS: [(&str, &str); 16] = [
    ("visit:source", "referrer_source"),
    ("visit:channel", "channel"),
    ("visit:referrer", "referrer"),
    ("visit:utm_source", "utm_source"),
    ("visit:utm_medium", "utm_medium"),
    ("visit:utm_campaign", "utm_campaign"),
    ("visit:utm_term", "utm_term"),
    ("visit:utm_content", "utm_content"),
    ("visit:country", "country"),
    ("visit:region", "region"),
    ("visit:city", "city"),
    ("visit:device", "device"),
    ("visit:browser", "browser"),
    ("visit:browser_version", "browser_version"),
    ("visit:os", "os"),
    ("visit:os_version", "os_version"),
];

impl Attr {
    /// The API name, e.g. `visit:country`.
    pub fn name(&self) -> String {
        match self {
            Attr::Event(column) => EVENT_ATTRS.iter().find(|(_, c)| c == column).map_or("event:?", |(n, _)| n).to_owned(),
            Attr::Visit(column) => VISIT_ATTRS.iter().find(|(_, c)| c == column).map_or("visit:?", |(n, _)| n).to_owned(),
            Attr::Prop(key) => format!("event:props:{key}"),
            Attr::EntryPage => "visit:entry_page".to_owned(),
            Attr::ExitPage => "visit:exit_page".to_owned(),
            Attr::EntryHostname => "visit:entry_page_hostname".to_owned(),
            Attr::ExitHostname => "visit:exit_page_hostname".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Hour,
    Day,
    Week,
    Month,
}

impl TimeUnit {
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    Attr(Attr),
    /// `event:goal`: one group per configured goal an event completes.
    Goal,
    /// `time:hour` etc., in the site's time zone.
    Time(TimeUnit),
}

impl Dimension {
    pub fn name(&self) -> String {
        match self {
            Dimension::Attr(attr) => attr.name(),
            Dimension::Goal => "event:goal".to_owned(),
            Dimension::Time(unit) => format!("time:{}", unit.name()),
        }
    }
}

/// How a filter compares an attribute with its values (any value may match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Is,
    Contains,
    /// Regular expression, unanchored (`regex` crate syntax).
    Matches,
}

/// What a filter leaf tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Attr(Attr),
    /// `event:goal`: the event completes one of the named goals.
    Goal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The attribute of the event (or its visit) matches one of `values`. NULL matches
    /// nothing, so `is_not` (a `Not` of this) keeps NULLs.
    Leaf {
        target: Target,
        op: Op,
        values: Vec<String>,
        field: String,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Every event of a visit in which some event passes the inner filter (Plausible's
    /// behavioural `has_done`; `has_not_done` is its `Not`): "visits that saw /pricing",
    /// which a plain event filter cannot say once it also tests another event.
    HasDone(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A sort key: the index of a metric or of a dimension of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    Metric(usize),
    Dimension(usize),
}

/// A checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub site: SiteRef,
    pub date_range: DateRange,
    pub metrics: Vec<Metric>,
    pub dimensions: Vec<Dimension>,
    /// The top-level filter list, joined with AND; `None` without filters.
    pub filter: Option<Filter>,
    pub order_by: Vec<(OrderKey, Direction)>,
    pub limit: usize,
    pub offset: usize,
    /// Also answer the metrics without dimensions (`include.totals`).
    pub totals: bool,
    pub comparison: Option<Comparison>,
    /// `funnel`: the ordered steps a visit goes through.
    pub funnel: Option<Funnel>,
}

/// Most steps in a funnel: Plausible's limit, and more than any checkout has.
pub const MAX_FUNNEL_STEPS: usize = 8;

/// A funnel: ordered goals that a visit completes one after another. Either named
/// inline (`"funnel": ["Pricing", "Signup"]`) or a funnel stored for the site
/// (`"funnel": "Checkout"`, see `tally.create_funnel`), resolved to its goals by the
/// caller, which knows the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Funnel {
    Steps(Vec<String>),
    Stored(String),
}

impl Query {
    /// Whether an `event:goal` filter or dimension is present (conversion rate needs one).
    pub fn has_goal(&self) -> bool {
        fn walk(filter: &Filter) -> bool {
            match filter {
                Filter::Leaf { target, .. } => *target == Target::Goal,
                Filter::And(list) | Filter::Or(list) => list.iter().any(walk),
                Filter::Not(inner) => walk(inner),
                // A behavioural filter picks visits; it names no conversion.
                Filter::HasDone(_) => false,
            }
        }
        self.dimensions.contains(&Dimension::Goal) || self.filter.as_ref().is_some_and(walk) || self.funnel.is_some()
    }

    /// Whether an `event:page` filter or dimension is present (scroll depth is a
    /// measure of pages).
    pub fn has_page(&self) -> bool {
        let page = Attr::Event("pathname");
        self.dimensions.contains(&Dimension::Attr(page.clone())) || self.filters_on(&page)
    }

    /// Whether a filter tests `attr` anywhere.
    pub fn filters_on(&self, attr: &Attr) -> bool {
        fn walk(filter: &Filter, attr: &Attr) -> bool {
            match filter {
                Filter::Leaf { target, .. } => *target == Target::Attr(attr.clone()),
                Filter::And(list) | Filter::Or(list) => list.iter().any(|f| walk(f, attr)),
                Filter::Not(inner) | Filter::HasDone(inner) => walk(inner, attr),
            }
        }
        self.filter.as_ref().is_some_and(|f| walk(f, attr))
    }
}
