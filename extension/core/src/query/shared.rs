//! Several plans answered by one scan (`tally.query_batch`, the dashboard's panels):
//! their views side by side in one plan, so the columns they share are decoded and
//! their filters evaluated once. A dashboard filtered by a country asks eight questions
//! of the same month; each alone decodes the same 3M events' time, visit, visitor,
//! name and country columns (half of a top-pages scan), together they decode them once.
//!
//! A view's groups do not depend on the views beside it (each has its own filter, keys
//! and state), so a plan's share of the shared answer equals its own scan's answer.
//! Filters the plans have in common (a dashboard's, on every panel) become one
//! expression, which the scan evaluates once per batch.
//! Funnel plans scan alone: a funnel walks the rows of its plan's first view.

use super::plan::{Expr, Key, Leaf, Operand, Plan, View};
use super::scan::Answer;

/// The plan of one shared scan, and how many of its views (in order) each merged plan has.
pub struct SharedPlan {
    pub plan: Plan,
    parts: Vec<usize>,
}

impl SharedPlan {
    /// Whether `plan` may share a scan ([`SharedPlan::new`]).
    pub fn can_share(plan: &Plan) -> bool {
        plan.funnel.is_empty()
    }

    /// One plan holding the views of every plan of `plans` (at least one, all of one
    /// site, so of the same goals, none with a funnel), in order.
    pub fn new(plans: &[&Plan]) -> SharedPlan {
        let (first, rest) = plans.split_first().expect("at least one plan");
        assert!(plans.iter().all(|p| SharedPlan::can_share(p) && p.goals == first.goals), "plans of one site, without funnels");
        let mut shared = SharedPlan { plan: (*first).clone(), parts: vec![first.views.len()] };
        for plan in rest {
            shared.add(plan);
        }
        shared
    }

    /// Appends `other`'s views, its sources, operands and leaves renumbered.
    fn add(&mut self, other: &Plan) {
        let plan = &mut self.plan;
        let operands: Vec<usize> = other
            .operands
            .iter()
            .map(|o| {
                let operand = Operand { source: plan.source(other.sources[o.source].clone()), level: o.level };
                plan.operands.iter().position(|x| *x == operand).unwrap_or_else(|| {
                    plan.operands.push(operand);
                    plan.operands.len() - 1
                })
            })
            .collect();
        // A leaf testing what one here tests becomes that one: the same filter in two
        // plans is then the same expression, evaluated once per batch (`Scan`).
        let leaves: Vec<usize> = other
            .leaves
            .iter()
            .map(|leaf| {
                let operand = operands[leaf.operand];
                plan.leaves.iter().position(|l| l.operand == operand && l.test.same(&leaf.test)).unwrap_or_else(|| {
                    plan.leaves.push(Leaf { operand, test: leaf.test.clone() });
                    plan.leaves.len() - 1
                })
            })
            .collect();
        if plan.goal_exprs.is_empty() {
            plan.goal_exprs = other.goal_exprs.iter().map(|e| renumber(e, &leaves)).collect();
        }
        plan.views.extend(other.views.iter().map(|view| {
            View {
                pageviews_only: view.pageviews_only,
                filter: view.filter.as_ref().map(|e| renumber(e, &leaves)),
                keys: view
                    .keys
                    .iter()
                    .map(|k| match k {
                        Key::Operand(o) => Key::Operand(operands[*o]),
                        Key::Bucket | Key::Goal => *k,
                    })
                    .collect(),
            }
        }));
        plan.revenue |= other.revenue;
        plan.engagement |= other.engagement;
        plan.scroll |= other.scroll;
        plan.visit_figures |= other.visit_figures;
        self.parts.push(other.views.len());
    }

    /// The shared scan's `answer` cut into each merged plan's own answer, in order.
    pub fn split(&self, answer: Answer) -> Vec<Answer> {
        let mut views = answer.views.into_iter();
        self.parts.iter().map(|&count| Answer { views: views.by_ref().take(count).collect(), funnel: Vec::new() }).collect()
    }
}

/// `expr` with its leaves renumbered by `leaves` (old index → new).
fn renumber(expr: &Expr, leaves: &[usize]) -> Expr {
    match expr {
        Expr::Leaf(i) => Expr::Leaf(leaves[*i]),
        Expr::And(items) => Expr::And(items.iter().map(|e| renumber(e, leaves)).collect()),
        Expr::Or(items) => Expr::Or(items.iter().map(|e| renumber(e, leaves)).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(renumber(inner, leaves))),
        Expr::HasDone(inner) => Expr::HasDone(Box::new(renumber(inner, leaves))),
    }
}
