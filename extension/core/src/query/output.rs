//! The JSON answer, shaped like Plausible's Stats API v2: `results` rows of
//! `dimensions` and `metrics` (plus `comparison` when asked), `totals`, `meta`, and
//! the `query` as understood, with the resolved time range.
//!
//! Counts are exact. Distinct visitors (and `percentage`) are exact from a scan and
//! HyperLogLog estimates when the period was answered from rollups (`meta.path` says
//! which: `"scan"` or `"rollups"`, `meta.comparison_path` for the comparison). Rates
//! are rounded half up from exact integers:
//! `bounce_rate`, `conversion_rate`, `percentage` and `views_per_visit` to 2 decimals,
//! `visit_duration` and `time_on_page` to whole seconds, `scroll_depth` to whole percent
//! (`null` where no visitor reported one), revenue to 2 decimals (average) or micros (total);
//! revenue of a group in more than one currency is `null`, never a sum of different
//! currencies.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};

use super::kernel::Acc;
use super::model::{Comparison, Dimension, Direction, Metric, OrderKey};
use super::plan::Plan;
use super::scan::{Answer, Group, KeyValue};

/// One answered period and how to label it.
#[derive(Debug, Clone)]
pub struct Period {
    pub answer: Answer,
    /// The range as the client should read it (ISO 8601 in the site's zone).
    pub from_label: String,
    pub to_label: String,
    /// Label of each time bucket, when the query has a `time:*` dimension.
    pub bucket_labels: Vec<String>,
    /// Answered from the hourly rollups ([`super::RollupPlan`]) rather than a scan.
    pub from_rollups: bool,
}

impl Period {
    fn path(&self) -> &'static str {
        if self.from_rollups {
            "rollups"
        } else {
            "scan"
        }
    }
}

/// `round(num / den, decimals)`, half up, from exact integers; 0 when `den` is 0.
fn ratio(num: i128, den: i128, decimals: u32) -> Value {
    if den == 0 {
        return json!(0);
    }
    let scale = 10i128.pow(decimals);
    let scaled = num * scale * 2;
    let q = (scaled + den).div_euclid(2 * den);
    if decimals == 0 {
        json!(q as i64)
    } else {
        json!(q as f64 / scale as f64)
    }
}

struct Context<'a> {
    plan: &'a Plan,
    period: &'a Period,
    total_visitors: Option<u64>,
    /// Visitors per group key without its goal component (conversion denominators).
    base: HashMap<Vec<KeyValue>, u64>,
    /// Pageviews per page (exit rate denominators).
    page_views: HashMap<Vec<KeyValue>, u64>,
}

impl Context<'_> {
    fn new<'a>(plan: &'a Plan, period: &'a Period) -> Context<'a> {
        let total_visitors = plan.totals_view.map(|v| period.answer.views[v].first().map_or(0, |g| g.visitors));
        let base = plan.base_view.map(|v| period.answer.views[v].iter().map(|g| (g.key.clone(), g.visitors)).collect()).unwrap_or_default();
        let page_views =
            plan.pages_view.map(|v| period.answer.views[v].iter().map(|g| (g.key.clone(), g.acc.pageviews)).collect()).unwrap_or_default();
        Context { plan, period, total_visitors, base, page_views }
    }

    fn base_key(&self, key: &[KeyValue]) -> Vec<KeyValue> {
        key.iter().zip(&self.plan.query.dimensions).filter(|(_, d)| **d != Dimension::Goal).map(|(k, _)| k.clone()).collect()
    }

    fn metric(&self, metric: Metric, group: &Group) -> Value {
        let acc: &Acc = &group.acc;
        let visitors = i128::from(group.visitors);
        match metric {
            Metric::Visitors => json!(group.visitors),
            Metric::Visits => json!(acc.visits),
            Metric::Pageviews => json!(acc.pageviews),
            Metric::Events => json!(acc.events),
            Metric::ViewsPerVisit => ratio(acc.visit_pageviews.into(), acc.visits.into(), 2),
            Metric::BounceRate => ratio(100 * i128::from(acc.bounces), acc.visits.into(), 2),
            Metric::VisitDuration => ratio(acc.duration_us.into(), i128::from(acc.visits) * 1_000_000, 0),
            Metric::Percentage => ratio(100 * visitors, self.total_visitors.unwrap_or_default().into(), 2),
            Metric::ConversionRate => match self.base.get(&self.base_key(&group.key)) {
                Some(&base) => ratio(100 * visitors, base.into(), 2),
                None => Value::Null,
            },
            Metric::TotalRevenue | Metric::AverageRevenue if acc.currency.is_mixed() => Value::Null,
            Metric::TotalRevenue => json!(acc.revenue_micros as f64 / 1e6),
            Metric::AverageRevenue => ratio(acc.revenue_micros.into(), i128::from(acc.revenue_events) * 1_000_000, 2),
            Metric::TimeOnPage => ratio(acc.engagement_ms.into(), i128::from(acc.engaged_visits) * 1_000, 0),
            Metric::ExitRate => match self.page_views.get(&group.key) {
                Some(&views) if views > 0 => ratio(100 * i128::from(acc.visits), views.into(), 1),
                _ => Value::Null,
            },
            Metric::ScrollDepth if acc.scroll_visitors == 0 => Value::Null,
            Metric::ScrollDepth => ratio(acc.scroll_total.into(), acc.scroll_visitors.into(), 0),
        }
    }

    fn metrics(&self, group: &Group) -> Vec<Value> {
        self.plan.query.metrics.iter().map(|&m| self.metric(m, group)).collect()
    }

    fn dimensions(&self, key: &[KeyValue]) -> Vec<Value> {
        key.iter()
            .map(|k| match k {
                KeyValue::Text(text) => json!(text),
                KeyValue::Bucket(i) => json!(self.period.bucket_labels.get(*i as usize)),
                KeyValue::Goal(i) => json!(self.plan.goals.get(*i as usize).map(|g| &g.name)),
            })
            .collect()
    }
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NEG_INFINITY)
}

/// Change from `previous` to `current`: points for rates, whole percent otherwise
/// (`null` from zero).
pub fn change(metric: Metric, current: &Value, previous: &Value) -> Value {
    if current.is_null() || previous.is_null() {
        return Value::Null;
    }
    let (c, p) = (number(current), number(previous));
    if metric.is_rate() {
        return json!(((c - p) * 100.0).round() / 100.0);
    }
    if p == 0.0 {
        return Value::Null;
    }
    json!(((c - p) / p * 100.0).round() as i64)
}

/// Renders the answer of `current` (and `previous`, for a comparison).
pub fn render(plan: &Plan, current: &Period, previous: Option<&Period>) -> Value {
    let query = &plan.query;
    let ctx = Context::new(plan, current);
    // Without dimensions there is always one row, zeros when nothing matched.
    let zero = [Group { key: Vec::new(), acc: Acc::default(), visitors: 0 }];
    let groups = match current.answer.views[0].as_slice() {
        [] if query.dimensions.is_empty() => &zero[..],
        groups => groups,
    };
    let values: Vec<Vec<Value>> = groups.iter().map(|g| ctx.metrics(g)).collect();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    let mut keys = query.order_by.clone();
    if keys.is_empty() {
        match query.dimensions.iter().position(|d| matches!(d, Dimension::Time(_))) {
            Some(time) => keys.push((OrderKey::Dimension(time), Direction::Asc)),
            None => keys.push((OrderKey::Metric(0), Direction::Desc)),
        }
    }
    keys.extend((0..query.dimensions.len()).map(|d| (OrderKey::Dimension(d), Direction::Asc)));
    order.sort_by(|&a, &b| {
        keys.iter()
            .map(|&(key, direction)| {
                let ord = match key {
                    OrderKey::Metric(m) => number(&values[a][m]).total_cmp(&number(&values[b][m])),
                    OrderKey::Dimension(d) => groups[a].key[d].cmp(&groups[b].key[d]),
                };
                if direction == Direction::Desc {
                    ord.reverse()
                } else {
                    ord
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let before = previous.map(|p| {
        let ctx = Context::new(plan, p);
        let by_key: HashMap<&[KeyValue], &Group> = p.answer.views[0].iter().map(|g| (g.key.as_slice(), g)).collect();
        (ctx, by_key)
    });
    let results: Vec<Value> = order
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|&i| {
            let group = &groups[i];
            let mut row = json!({ "dimensions": ctx.dimensions(&group.key), "metrics": values[i] });
            if let Some((prev_ctx, by_key)) = &before {
                let empty = Group { key: group.key.clone(), acc: Acc::default(), visitors: 0 };
                let old = by_key.get(group.key.as_slice()).copied().unwrap_or(&empty);
                let old_values = prev_ctx.metrics(old);
                let changes: Vec<Value> =
                    query.metrics.iter().enumerate().map(|(m, &metric)| change(metric, &values[i][m], &old_values[m])).collect();
                row["comparison"] = json!({ "dimensions": prev_ctx.dimensions(&group.key), "metrics": old_values, "change": changes });
            }
            row
        })
        .collect();
    let mut answer = json!({
        "results": results,
        "meta": { "total_rows": groups.len(), "path": current.path() },
        "query": {
            "site_id": match &query.site {
                super::model::SiteRef::Domain(d) => json!(d),
                super::model::SiteRef::Id(id) => json!(id),
            },
            "date_range": [current.from_label, current.to_label],
            "metrics": query.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "dimensions": query.dimensions.iter().map(Dimension::name).collect::<Vec<_>>(),
        },
    });
    if let (Some(p), Some(mode)) = (previous, query.comparison) {
        let mode = match mode {
            Comparison::PreviousPeriod => "previous_period",
            Comparison::YearOverYear => "year_over_year",
        };
        answer["query"]["comparison"] = json!({ "mode": mode, "date_range": [p.from_label, p.to_label] });
        answer["meta"]["comparison_path"] = json!(p.path());
    }
    if !plan.funnel.is_empty() {
        answer["funnel"] = funnel(plan, current);
        if let Some(p) = previous {
            answer["funnel"]["comparison"] = funnel(plan, p);
        }
    }
    if query.totals {
        let empty = Group { key: Vec::new(), acc: Acc::default(), visitors: 0 };
        let total = plan.totals_view.and_then(|v| current.answer.views[v].first()).unwrap_or(&empty);
        answer["totals"] = json!({ "metrics": ctx.metrics(total) });
    }
    answer
}

/// The funnel of one period: visitors entering (those with a qualifying event) and,
/// per step, visitors reaching it, their share of those entering (`conversion_rate`)
/// and of the previous step (`step_conversion_rate`), and how many the step lost.
fn funnel(plan: &Plan, period: &Period) -> Value {
    let entering = period.answer.views[0].first().map_or(0, |g| g.visitors);
    let reached = &period.answer.funnel;
    let steps: Vec<Value> = plan
        .funnel
        .iter()
        .zip(reached)
        .enumerate()
        .map(|(i, (&goal, &visitors))| {
            let before = if i == 0 { entering } else { reached[i - 1] };
            json!({
                "goal": plan.goals[goal].name,
                "visitors": visitors,
                "conversion_rate": ratio(100 * i128::from(visitors), entering.into(), 2),
                "step_conversion_rate": ratio(100 * i128::from(visitors), before.into(), 2),
                "dropoff": before.saturating_sub(visitors),
            })
        })
        .collect();
    json!({ "visitors": entering, "steps": steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_half_up_from_integers() {
        assert_eq!(ratio(1, 8, 2), json!(0.13));
        assert_eq!(ratio(2, 3, 2), json!(0.67));
        assert_eq!(ratio(5, 2, 0), json!(3));
        assert_eq!(ratio(7, 0, 2), json!(0));
        assert_eq!(ratio(-5, 2, 0), json!(-2));
    }

    #[test]
    fn an_empty_range_answers_zeros_without_dimensions_and_nothing_with() {
        let period =
            |answer| Period { answer, from_label: "a".into(), to_label: "b".into(), bucket_labels: Vec::new(), from_rollups: false };
        let plan = |q: Value| Plan::new(crate::query::parse(&q).unwrap(), Vec::new()).unwrap();
        let empty = || Answer { views: vec![Vec::new(), Vec::new()], funnel: Vec::new() };
        let q = json!({"site_id": 1, "date_range": "realtime", "metrics": ["visitors", "bounce_rate"], "include": {"totals": true}});
        let out = render(&plan(q), &period(empty()), None);
        assert_eq!(out["results"], json!([{"dimensions": [], "metrics": [0, 0]}]));
        assert_eq!(out["totals"]["metrics"], json!([0, 0]));
        let q = json!({"site_id": 1, "date_range": "realtime", "metrics": ["visitors"], "dimensions": ["event:page"]});
        assert_eq!(render(&plan(q), &period(empty()), None)["results"], json!([]));
    }

    #[test]
    fn rates_change_in_points_counts_in_percent() {
        assert_eq!(change(Metric::BounceRate, &json!(40.5), &json!(38.25)), json!(2.25));
        assert_eq!(change(Metric::Visitors, &json!(150), &json!(100)), json!(50));
        assert_eq!(change(Metric::Visitors, &json!(3), &json!(0)), Value::Null);
        assert_eq!(change(Metric::TotalRevenue, &Value::Null, &json!(5.0)), Value::Null, "no total of mixed currencies");
    }
}
