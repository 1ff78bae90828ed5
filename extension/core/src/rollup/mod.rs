//! Hourly rollup rows computed from raw events: per site, UTC hour and dimension
//! value, the counts and sketches of `tally.rollups`. The semantics are those written
//! at the top of `sql/rollups.sql`:
//!
//! - the rows of the hours [lo, hi) are computed from the site's events of
//!   [lo - 30 min, hi + 2 h) (the *window*): visits are followed up to 2 hours past the
//!   last hour (longer ones are cut there), and events up to 30 minutes (the visit
//!   timeout) before the first hour tell visits that started earlier from those that
//!   started in it;
//! - a visit is the window's events of one `session_id`; it starts at its first event,
//!   lasts until its last (microseconds), bounces with at most one event other than
//!   `engagement` (the query engine's definitions, so rows add up to its answers); it is
//!   *open* when its last event lies within 30 minutes of the window's end (it may go
//!   on unseen, see `open_visits`); its entry page is its first pageview's pathname and its source
//!   and UTM values those of its first event;
//! - event figures (events other than `engagement`, pageviews, engagement, visitors)
//!   go to the hour of each event in [lo, hi), under 14 dimensions: `total`, the event's own page, event name,
//!   country, device, browser and OS, and its visit's entry page, source and UTM
//!   values;
//! - visit figures (visits, bounces, durations, the visits' pageviews) go to the hour a visit started in,
//!   for visits starting in [lo, hi), under `total`, the visit's own values and every
//!   distinct page, event name, country, device, browser and OS of its events (a
//!   visit with several of one dimension is *mixed* in that dimension's rows).
//!
//! Where SQL left a choice open (two events of one visit at the same microsecond), the
//! first is the one with the smallest values, so the rows never depend on the order
//! events are read in.

pub mod block;
mod builder;
pub mod periods;
pub mod settle;
mod sums;
mod visit;

#[cfg(test)]
mod tests;

pub use builder::{Builder, Indexed};
pub use sums::RowSums;

use crate::query::Acc;
use crate::sketch::ddsketch::DDSketch;
use crate::sketch::hll::{Hll, Params};

pub const HOUR_US: i64 = 3_600_000_000;

/// The visit timeout: how far before the first hour the window starts.
pub const LOOK_BEHIND_US: i64 = 30 * 60_000_000;

/// How far past the last hour visits are followed.
pub const LOOK_AHEAD_US: i64 = 2 * HOUR_US;

/// An event at time T changes the visit figures of the hour its visit started in,
/// which a recomputation follows up to 2 hours past the hour (plus the hour itself):
/// up to 3 hours back.
pub const AFFECTS_BEFORE_US: i64 = HOUR_US + LOOK_AHEAD_US;

/// ... and it can end a visit that would otherwise start in the next 30 minutes
/// (the visit timeout), moving that visit's start earlier.
pub const AFFECTS_AFTER_US: i64 = LOOK_BEHIND_US + 1;

/// Parameters of the visitor sketches: 2^14 registers, about 0.8% standard error,
/// so a distinct count stays within the 2% the query API promises (postgresql-hll's
/// default 2^11 registers err by 2.3%, often more than 2%). Otherwise postgresql-hll's
/// defaults, so the bytes are what `hll_add_agg(hll_hash_bigint(id), 14)` builds.
pub const VISITOR_PARAMS: Params = Params { log2m: 14, regwidth: 5, expthresh: -1, sparseon: true };

/// Segment columns of a visit's acquisition values, in `DIMENSIONS[8..14]` order.
pub const ACQUISITION_COLUMNS: [&str; 6] = ["referrer_source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/// Dimension names as stored in `tally.rollups.dimension`, in the order rows group by.
pub const DIMENSIONS: [&str; 14] = [
    "total",
    "page",
    "event",
    "country",
    "device",
    "browser",
    "os",
    "entry_page",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// The start of the UTC hour of `ts` (µs since the epoch), as SQL's
/// `date_bin('1 hour', ts, '2000-01-01')`: the origin is a whole number of hours
/// after the epoch.
pub fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR_US) * HOUR_US
}

/// Whole UTC hours [lo, hi), µs since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub lo: i64,
    pub hi: i64,
}

impl Hours {
    /// The hours overlapping [from_us, to_us); none when `to_us` is an hour or more
    /// before `from_us`, the hour of `from_us` when they are equal (as in SQL).
    pub fn overlapping(from_us: i64, to_us: i64) -> Hours {
        Hours { lo: hour_of(from_us), hi: hour_of(to_us - 1) + HOUR_US }
    }

    pub fn is_empty(&self) -> bool {
        self.hi <= self.lo
    }

    /// The events these hours are computed from: [lo - 30 min, hi + 2 h).
    pub fn window(&self) -> (i64, i64) {
        (self.lo - LOOK_BEHIND_US, self.hi + LOOK_AHEAD_US)
    }
}

/// One row of `tally.rollups` (without the site).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Start of the hour, µs since the epoch.
    pub hour: i64,
    pub dimension: &'static str,
    /// `None` for "not set" (and for `total`).
    pub value: Option<String>,
    /// The metric sums, as the query engine counts them for a group: events other than
    /// `engagement`, pageviews, visits, bounces, the visits' durations (µs) and
    /// pageviews, engagement (ms); the revenue fields stay 0.
    pub acc: Acc,
    /// Visits still active near the end of the events the row was computed from: they
    /// may have gone on unseen, so their figures may be cut short.
    pub open_visits: i64,
    /// Of the visits, those whose events had more than one value of this (own-value)
    /// dimension: none means every visit here kept one country, device, ... throughout.
    pub mixed_visits: i64,
    /// Distinct visitor ids, as `hll_add_agg(hll_hash_bigint(visitor_id), 14)` builds
    /// them ([`VISITOR_PARAMS`]); empty for a row with visits only.
    pub visitors: Hll,
    /// `None` when the row has no visits, and on rows of a dimension other than
    /// `total` (see `Acc` in the builder: quantiles are kept for the whole site).
    pub visit_durations: Option<DDSketch>,
    /// `None` when no event of the row had an engagement time, and on rows of a
    /// dimension other than `total`.
    pub engagement_times: Option<DDSketch>,
}
