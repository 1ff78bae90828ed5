//! A checked [`Query`] compiled against the site's goals: which columns to decode,
//! which per-code tests to run, and the views (filter × grouping) one scan feeds.

use regex::RegexSet;

use super::error::QueryError;
use super::limits::regex_set;
use super::model::*;

/// A goal of the site: completed by an event of a name, or by a pageview of a page
/// matching a pattern where `*` stands for any characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub name: String,
    pub event_name: Option<String>,
    pub page_pattern: Option<String>,
}

/// A string input the scan decodes: an event column or one custom property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Column(&'static str),
    Prop(String),
}

/// Which row of the visit a string is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// The event's own value.
    Row,
    /// The value of the visit's first event.
    Visit,
    /// The page of the visit's first pageview.
    Entry,
    /// The page of the visit's last pageview.
    Exit,
}

/// One per-row code array a batch derives: a source read at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operand {
    pub source: usize,
    pub level: Level,
}

/// A string test, evaluated once per distinct value (code) rather than per row.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Is(Vec<String>),
    Contains(Vec<String>),
    Regex(RegexSet),
}

impl Test {
    /// The test a filter leaf states (`field` names its values in an error).
    pub fn of(op: Op, values: &[String], field: &str) -> Result<Test, QueryError> {
        Ok(match op {
            Op::Is => Test::Is(values.to_vec()),
            Op::Contains => Test::Contains(values.to_vec()),
            Op::Matches => Test::Regex(regex_set(values).map_err(|e| QueryError::new(field, e.to_string()))?),
        })
    }

    /// Whether both test the same: same values, or the same patterns in order.
    pub fn same(&self, other: &Test) -> bool {
        match (self, other) {
            (Test::Is(a), Test::Is(b)) | (Test::Contains(a), Test::Contains(b)) => a == b,
            (Test::Regex(a), Test::Regex(b)) => a.patterns() == b.patterns(),
            _ => false,
        }
    }

    /// NULL matches no test: `is_not` therefore keeps NULLs, as in SQL's `IS DISTINCT FROM`.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match self {
            Test::Is(values) => values.iter().any(|v| v == value),
            Test::Contains(parts) => parts.iter().any(|p| value.contains(p.as_str())),
            Test::Regex(set) => set.is_match(value),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub operand: usize,
    pub test: Test,
}

/// A filter over rows; leaves index [`Plan::leaves`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    Leaf(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// True on every row of a visit with a row passing the inner expression.
    HasDone(Box<Expr>),
}

/// One component of a group key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Operand(usize),
    /// The time bucket of the event.
    Bucket,
    /// The goal completed (the scan runs the view once per goal).
    Goal,
}

/// Rows passing `filter`, grouped by `keys`.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub filter: Option<Expr>,
    pub keys: Vec<Key>,
    /// A breakdown by `event:page` with no event name or goal asked for: its groups are
    /// made of pageviews (and the engagement events that measure them), as Plausible's
    /// top pages are; custom events on a page count nowhere in it.
    pub pageviews_only: bool,
}

/// What the scan computes for a query.
#[derive(Debug, Clone)]
pub struct Plan {
    pub query: Query,
    pub goals: Vec<Goal>,
    pub(crate) sources: Vec<Source>,
    pub(crate) operands: Vec<Operand>,
    pub(crate) leaves: Vec<Leaf>,
    /// The expression of each goal, by index in `goals`.
    pub(crate) goal_exprs: Vec<Expr>,
    /// The query's view first; then totals and the conversion base if asked for.
    pub(crate) views: Vec<View>,
    pub(crate) totals_view: Option<usize>,
    pub(crate) base_view: Option<usize>,
    /// The pageviews of each page, when `exit_rate` divides exits by them.
    pub(crate) pages_view: Option<usize>,
    pub(crate) revenue: bool,
    /// Whether the scan reads engaged time (`time_on_page`).
    pub(crate) engagement: bool,
    /// Whether the scan reads scroll depths (`scroll_depth`).
    pub(crate) scroll: bool,
    /// The funnel's steps as indices in `goals`; empty without a funnel.
    pub(crate) funnel: Vec<usize>,
    /// Whether the scan counts each visit's pageviews, events, bounce and duration:
    /// not when every metric is `visitors`, `visits`, `percentage` or
    /// `conversion_rate`, which need none of them (a tenth of a visitors-by-source scan
    /// went to that per-row tally).
    pub(crate) visit_figures: bool,
}

/// Index of `event:name` in [`Plan::sources`]: always decoded (pageviews, bounces).
pub(crate) const NAME: usize = 0;

impl Plan {
    /// Compiles `query` for a site with `goals`. Unknown goal names are errors here,
    /// since only the site knows its goals.
    pub fn new(query: Query, goals: Vec<Goal>) -> Result<Plan, QueryError> {
        let mut plan = Plan {
            goals,
            sources: vec![Source::Column("name")],
            operands: Vec::new(),
            leaves: Vec::new(),
            goal_exprs: Vec::new(),
            views: Vec::new(),
            totals_view: None,
            base_view: None,
            pages_view: None,
            funnel: Vec::new(),
            revenue: query.metrics.iter().any(|m| matches!(m, Metric::TotalRevenue | Metric::AverageRevenue)),
            engagement: query.metrics.contains(&Metric::TimeOnPage),
            scroll: query.metrics.contains(&Metric::ScrollDepth),
            visit_figures: query.funnel.is_some()
                || !query
                    .metrics
                    .iter()
                    .all(|m| matches!(m, Metric::Visitors | Metric::Visits | Metric::Percentage | Metric::ConversionRate)),
            query: query.clone(),
        };
        let uses_goals = query.has_goal();
        if uses_goals {
            for i in 0..plan.goals.len() {
                let expr = plan.goal_expr(i)?;
                plan.goal_exprs.push(expr);
            }
        }
        match &query.funnel {
            None => {}
            Some(Funnel::Steps(steps)) => {
                for (i, name) in steps.iter().enumerate() {
                    let goal = plan.goal_index(name, &format!("funnel[{i}]"))?;
                    plan.funnel.push(goal);
                }
            }
            Some(Funnel::Stored(name)) => return Err(QueryError::new("funnel", format!("no funnel named {name:?} on this site"))),
        }
        let filter = query.filter.as_ref().map(|f| plan.compile(f)).transpose()?;
        let keys: Vec<Key> = query.dimensions.iter().map(|d| plan.key(d)).collect();
        let pageviews_only =
            query.dimensions.contains(&Dimension::Attr(Attr::Event("pathname"))) && !uses_goals && !query.filters_on(&Attr::Event("name"));
        plan.views.push(View { filter: filter.clone(), keys: keys.clone(), pageviews_only });
        if query.totals || query.metrics.contains(&Metric::Percentage) {
            plan.totals_view = Some(plan.views.len());
            plan.views.push(View { filter: filter.clone(), keys: Vec::new(), pageviews_only: false });
        }
        if query.metrics.contains(&Metric::ConversionRate) {
            // Visitors of the same groups without the goal condition: the denominator.
            let without_goals = match &query.filter {
                Some(Filter::And(items)) => {
                    let kept: Vec<Expr> = items.iter().filter(|f| !mentions_goal(f)).map(|f| plan.compile(f)).collect::<Result<_, _>>()?;
                    (!kept.is_empty()).then_some(Expr::And(kept))
                }
                _ => None,
            };
            plan.base_view = Some(plan.views.len());
            let keys = keys.into_iter().filter(|k| *k != Key::Goal).collect();
            plan.views.push(View { filter: without_goals, keys, pageviews_only: false });
        }
        if query.metrics.contains(&Metric::ExitRate) {
            plan.pages_view = Some(plan.views.len());
            let keys = vec![plan.key(&Dimension::Attr(Attr::Event("pathname")))];
            plan.views.push(View { filter, keys, pageviews_only: true });
        }
        Ok(plan)
    }

    /// This plan counting every figure of every visit, whatever its metrics: for
    /// answers combined with rollup rows, which hold them all.
    pub(crate) fn with_visit_figures(&self) -> Plan {
        Plan { visit_figures: true, ..self.clone() }
    }

    pub(crate) fn source(&mut self, source: Source) -> usize {
        if let Some(i) = self.sources.iter().position(|s| *s == source) {
            return i;
        }
        self.sources.push(source);
        self.sources.len() - 1
    }

    fn operand(&mut self, attr: &Attr) -> usize {
        let (source, level) = match attr {
            Attr::Event(column) => (Source::Column(column), Level::Row),
            Attr::Visit(column) => (Source::Column(column), Level::Visit),
            Attr::Prop(key) => (Source::Prop(key.clone()), Level::Row),
            Attr::EntryPage => (Source::Column("pathname"), Level::Entry),
            Attr::ExitPage => (Source::Column("pathname"), Level::Exit),
            Attr::EntryHostname => (Source::Column("hostname"), Level::Entry),
            Attr::ExitHostname => (Source::Column("hostname"), Level::Exit),
        };
        let operand = Operand { source: self.source(source), level };
        if let Some(i) = self.operands.iter().position(|o| *o == operand) {
            return i;
        }
        self.operands.push(operand);
        self.operands.len() - 1
    }

    fn leaf(&mut self, attr: &Attr, test: Test) -> Expr {
        let operand = self.operand(attr);
        self.leaves.push(Leaf { operand, test });
        Expr::Leaf(self.leaves.len() - 1)
    }

    fn key(&mut self, dimension: &Dimension) -> Key {
        match dimension {
            Dimension::Attr(attr) => Key::Operand(self.operand(attr)),
            Dimension::Goal => Key::Goal,
            Dimension::Time(_) => Key::Bucket,
        }
    }

    fn goal_expr(&mut self, goal: usize) -> Result<Expr, QueryError> {
        let Goal { name, event_name, page_pattern } = self.goals[goal].clone();
        let field = format!("goal {name:?}");
        Ok(match (event_name, page_pattern) {
            (Some(event), None) => self.leaf(&Attr::Event("name"), Test::Is(vec![event])),
            (None, Some(pattern)) => {
                let regex = RegexSet::new([glob_regex(&pattern)]).map_err(|e| QueryError::new(&field, e.to_string()))?;
                let pageview = self.leaf(&Attr::Event("name"), Test::Is(vec!["pageview".into()]));
                Expr::And(vec![pageview, self.leaf(&Attr::Event("pathname"), Test::Regex(regex))])
            }
            _ => return Err(QueryError::new(field, "a goal has either an event name or a page pattern")),
        })
    }

    /// The index of the goal called `name`; `field` names where the query used it.
    fn goal_index(&self, name: &str, field: &str) -> Result<usize, QueryError> {
        self.goals.iter().position(|g| g.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.goals.iter().map(|g| g.name.as_str()).collect();
            QueryError::new(field, format!("unknown goal {name:?}; goals of this site: {known:?}"))
        })
    }

    fn compile(&mut self, filter: &Filter) -> Result<Expr, QueryError> {
        Ok(match filter {
            Filter::And(items) => Expr::And(items.iter().map(|f| self.compile(f)).collect::<Result<_, _>>()?),
            Filter::Or(items) => Expr::Or(items.iter().map(|f| self.compile(f)).collect::<Result<_, _>>()?),
            Filter::Not(inner) => Expr::Not(Box::new(self.compile(inner)?)),
            Filter::HasDone(inner) => Expr::HasDone(Box::new(self.compile(inner)?)),
            Filter::Leaf { target: Target::Goal, values, field, .. } => {
                let mut goals = Vec::new();
                for (i, name) in values.iter().enumerate() {
                    let goal = self.goal_index(name, &format!("{field}[{i}]"))?;
                    // Built up front only when the query converts on goals; a goal inside
                    // `has_done` alone is compiled here.
                    let expr = match self.goal_exprs.get(goal) {
                        Some(expr) => expr.clone(),
                        None => self.goal_expr(goal)?,
                    };
                    goals.push(expr);
                }
                Expr::Or(goals)
            }
            Filter::Leaf { target: Target::Attr(attr), op, values, field } => self.leaf(attr, Test::of(*op, values, field)?),
        })
    }
}

fn mentions_goal(filter: &Filter) -> bool {
    match filter {
        Filter::Leaf { target, .. } => *target == Target::Goal,
        Filter::And(items) | Filter::Or(items) => items.iter().any(mentions_goal),
        Filter::Not(inner) => mentions_goal(inner),
        Filter::HasDone(_) => false,
    }
}

/// An anchored regex for a page pattern: `*` is any run of characters, the rest literal.
fn glob_regex(pattern: &str) -> String {
    let parts: Vec<String> = pattern.split('*').map(regex::escape).collect();
    format!("^{}$", parts.join(".*"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::query::parse;

    #[test]
    fn goals_compile_and_unknown_goals_are_named() {
        let goals = vec![
            Goal { name: "Signup".into(), event_name: Some("Signup".into()), page_pattern: None },
            Goal { name: "Pricing".into(), event_name: None, page_pattern: Some("/pricing*".into()) },
        ];
        let q = parse(&json!({"site_id": 1, "date_range": "7d", "metrics": ["visitors", "conversion_rate", "percentage"],
            "dimensions": ["event:goal", "visit:country"], "filters": [["is", "event:goal", ["Pricing"]], ["is", "visit:device", ["desktop"]]]}))
        .unwrap();
        let plan = Plan::new(q.clone(), goals.clone()).unwrap();
        assert_eq!(plan.views.len(), 3, "query, totals (for percentage), conversion base");
        assert_eq!(plan.views[2].keys.len(), 1, "the base view groups without the goal");
        assert!(matches!(&plan.views[2].filter, Some(Expr::And(items)) if items.len() == 1));
        let mut unknown = q;
        unknown.filter =
            Some(Filter::Leaf { target: Target::Goal, op: Op::Is, values: vec!["Nope".into()], field: "filters[0][2]".into() });
        assert_eq!(Plan::new(unknown, goals).unwrap_err().field, "filters[0][2][0]");
    }

    #[test]
    fn page_patterns_are_literal_but_for_stars() {
        let set = RegexSet::new([glob_regex("/blog/*.html")]).unwrap();
        assert!(set.is_match("/blog/a/b.html"));
        assert!(!set.is_match("/blog/xhtml"));
        assert!(!set.is_match("/x/blog/a.html"));
    }
}
