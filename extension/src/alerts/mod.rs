//! Alert rules in SQL and their evaluation: the checks behind `tally.alert_rules`
//! (`normalize`) and `tally.evaluate_alerts` (`evaluate`). The maths (conditions,
//! robust scores, the firing state machine) is `tally_core::alerts`; this module reads
//! the windows' values with the stats query engine and stores what core decides.

pub mod evaluate;
pub mod normalize;
