//! A batch of queries divided among several backends: `tally.query_batch(queries,
//! part, parts)` answers one share, and the gateway runs the shares of a dashboard's
//! batch side by side on as many connections. The rollup path reads through SPI, one
//! statement after another on the backend's one thread: a dashboard answered from
//! rollups kept one core busy and left the other idle (157 ms for the bench's default
//! view, 120 ms in two shares).
//!
//! Every backend divides the same batch the same way, from the queries alone: which
//! ones the rollups may answer by their shape ([`RollupPlan::eligible`]) and a weight
//! per question. The questions that need a scan stay together in one unit per site, so
//! that they still share their scan ([`super::SharedPlan`]); each other question is a
//! unit of its own. Units go, heaviest first, to the share with the least weight so
//! far. A question the rollups turn out not to answer (data not covered) is scanned by
//! the share it fell to.

use super::model::{Attr, Dimension};
use super::plan::Plan;
use super::rollups::RollupPlan;

/// What dividing a batch needs of one question: its site, and per period its time
/// buckets (`None` without a `time:*` dimension).
pub struct Shape<'a> {
    pub plan: &'a Plan,
    pub site_id: i32,
    pub buckets: Vec<Option<&'a [i64]>>,
}

/// Weight of a period the rollups answer, in about 12 ms of the bench's largest site:
/// a breakdown by page reads thousands of rows a day (about 70 ms for 30 days), the
/// others tens.
fn rollup_weight(plan: &Plan) -> u32 {
    let pages =
        plan.query.dimensions.iter().any(|d| matches!(d, Dimension::Attr(Attr::Event("pathname") | Attr::EntryPage | Attr::ExitPage)));
    if pages {
        5
    } else {
        1
    }
}

/// Weight of a period in a shared scan: the scan decodes the range once for all its
/// periods (about 110 ms for the bench's filtered dashboard, 5 panels), each adding
/// its columns and groups.
const SCAN_WEIGHT: u32 = 4;

/// The share (0-based, below `parts`) of each question; `None` (a question that is
/// not valid, answered by its error) goes to share 0.
pub fn divide(questions: &[Option<Shape<'_>>], parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    // Units: (weight, questions), the scans of a site first seen where their site is.
    let mut units: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut scan_unit: Vec<(i32, usize)> = Vec::new();
    for (i, shape) in questions.iter().enumerate() {
        let Some(shape) = shape else { continue };
        let scans = shape.buckets.iter().any(|&b| !RollupPlan::eligible(shape.plan, b));
        let periods = shape.buckets.len() as u32;
        if scans {
            let unit = match scan_unit.iter().find(|(site, _)| *site == shape.site_id) {
                Some(&(_, unit)) => unit,
                None => {
                    units.push((0, Vec::new()));
                    scan_unit.push((shape.site_id, units.len() - 1));
                    units.len() - 1
                }
            };
            units[unit].0 += SCAN_WEIGHT * periods;
            units[unit].1.push(i);
        } else {
            units.push((rollup_weight(shape.plan) * periods, vec![i]));
        }
    }
    // Heaviest first; equal weights in batch order, so every backend divides alike.
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&u| std::cmp::Reverse(units[u].0));
    let mut load = vec![0u32; parts];
    let mut share = vec![0usize; questions.len()];
    for u in order {
        let lightest = (0..parts).min_by_key(|&p| (load[p], p)).expect("at least one part");
        load[lightest] += units[u].0;
        for &q in &units[u].1 {
            share[q] = lightest;
        }
    }
    share
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::query::{parse, Goal};

    fn plan(q: serde_json::Value) -> Plan {
        let mut q = q;
        q["site_id"] = json!(1);
        q["date_range"] = json!("30d");
        let goals = vec![Goal { name: "Signup".into(), event_name: Some("Signup".into()), page_pattern: None }];
        Plan::new(parse(&q).unwrap(), goals).unwrap()
    }

    fn shapes<'a>(plans: &'a [Plan], periods: &[usize]) -> Vec<Option<Shape<'a>>> {
        plans.iter().zip(periods).map(|(plan, &n)| Some(Shape { plan, site_id: 1, buckets: vec![None; n] })).collect()
    }

    #[test]
    fn the_scans_of_a_site_stay_together_and_the_rollup_questions_balance_them() {
        let country = json!([["is", "visit:country", ["US"]]]);
        let plans = vec![
            plan(json!({"metrics": ["visitors"], "filters": country})),
            plan(json!({"metrics": ["visitors"], "dimensions": ["event:page"], "filters": country})),
            plan(json!({"metrics": ["visitors"], "dimensions": ["visit:source"], "filters": country})),
            plan(json!({"metrics": ["visitors"], "dimensions": ["visit:country"]})),
        ];
        let shares = divide(&shapes(&plans, &[2, 1, 1, 1]), 2);
        // The two scanned panels (8) share a part; the totals (2) and countries (1) the other.
        assert_eq!(shares[1], shares[2]);
        assert_eq!(shares[0], shares[3]);
        assert_ne!(shares[0], shares[1]);
    }

    #[test]
    fn pages_weigh_more_than_other_breakdowns() {
        let plans: Vec<Plan> = ["event:page", "visit:source", "visit:device", "visit:os", "visit:browser"]
            .iter()
            .map(|d| plan(json!({"metrics": ["visitors"], "dimensions": [d]})))
            .collect();
        let shares = divide(&shapes(&plans, &[1, 1, 1, 1, 1]), 2);
        // Pages (5) alone against the four others (1 each).
        assert_eq!(shares, vec![0, 1, 1, 1, 1]);
    }

    #[test]
    fn one_part_takes_all_and_invalid_questions_go_to_the_first() {
        let plans = vec![plan(json!({"metrics": ["visitors"]}))];
        let mut questions = shapes(&plans, &[1]);
        questions.insert(0, None);
        assert_eq!(divide(&questions, 1), vec![0, 0]);
        assert_eq!(divide(&questions, 3), vec![0, 0]);
    }
}
