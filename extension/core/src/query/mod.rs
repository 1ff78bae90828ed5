//! The stats query engine behind `tally.query(jsonb)`: Plausible's Stats API v2 as the
//! model (metrics × dimensions × filters over a date range, comparison, totals, goals),
//! executed over columnar segments.
//!
//! The pipeline: [`parse`] checks the JSON and names the field at fault; [`Plan`]
//! compiles it against the site's goals into the columns to decode, per-code tests and
//! views; a [`Scan`] per period decodes only those columns of each segment, maps
//! dictionary codes to query-wide codes, evaluates filters once per distinct value,
//! and aggregates visits in one pass (see `kernel`, with group numbers from `groups`
//! and exact distinct visitors from `distinct`); [`render`] shapes the JSON.
//!
//! Semantics (the correctness tests hold SQL to the same definitions):
//! - an event *qualifies* when it lies in the range and passes the filters; `visit:*`
//!   attributes are read from the visit's first event in the range, entry/exit page
//!   from its first/last pageview;
//! - `pageviews`, `events` (all but `engagement`), revenue: sums over qualifying events
//!   (revenue `null` where a group's events are in more than one currency);
//! - `time_on_page`: engaged milliseconds of qualifying `engagement` events over the
//!   visits that sent one;
//! - `scroll_depth`: per group, each visitor's deepest scroll reported by qualifying
//!   `engagement` events, averaged over those visitors (needs `event:page`);
//! - `visitors`: distinct visitor ids of qualifying events;
//! - `visits`, `bounce_rate`, `visit_duration`, `views_per_visit`: over visits with a
//!   qualifying event, each measured over its whole in-range events (a bounce has at
//!   most one interactive event: not `engagement`, not sent with `interactive: false`;
//!   duration is last minus first event);
//! - a group of an event-level dimension (`event:*`, `time:*`) counts a visit once
//!   for every group one of its qualifying events falls in;
//! - `percentage`: visitors of the group over all qualifying visitors; `conversion_rate`:
//!   visitors of the group over visitors of the same group without the goal filters.
//!
//! - a funnel (`"funnel": [goals]`): a visit reaches step k when qualifying events
//!   complete steps 1..k in time order, one event per step; a visitor reaches a step
//!   when any of their visits does. A funnel query has no dimensions; its `results` are
//!   the metrics of the visits entering it.
//!
//! A full scan's metrics are all exact. A query [`RollupPlan`] finds eligible is
//! answered from the hourly rollups instead, with the same exact counts and rates and
//! distinct visitors (and `percentage`) from HyperLogLog unions, within about 2%.

mod batch;
mod distinct;
mod error;
mod funnel;
pub(crate) mod groups;
pub(crate) mod intern;
mod kernel;
mod limits;
mod model;
mod output;
mod parse;
mod plan;
mod rollups;
pub mod saved_segments;
mod scan;
mod scroll;
mod share;
mod shared;
mod split;
mod value_test;
mod window;

pub use error::QueryError;
pub use kernel::Acc;
pub use limits::*;
pub use model::*;
pub use output::{change, render, Period};
pub use parse::{parse, MAX_DIMENSIONS, MAX_LIMIT};
pub use plan::{Goal, Plan};
pub use rollups::{answer_from_rollups, EdgeCache, EdgeVisits, RollupError, RollupPlan, RollupReads};
pub use scan::{scan_all, scan_loaded, Answer, Group, KeyValue, Scan, ScanError, TimeRange, Workers};
pub use share::{divide, Shape};
pub use shared::SharedPlan;
pub use value_test::ValueTest;
pub use window::VISIT_GAP_US;

#[cfg(test)]
mod tests;
