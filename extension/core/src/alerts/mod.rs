//! Alert maths, free of Postgres: what a rule says ([`Rule`], checked from JSON with
//! errors that name the field), how an observed value is judged against its
//! condition ([`Condition::judge`]: thresholds, change against the previous window,
//! or a robust seasonal score), and when that becomes a notification ([`step`]: the
//! firing/resolving state machine with a cooldown).
//!
//! The extension (`extension/src/alerts/`) reads the values with the stats query
//! engine and stores what these functions decide; the gateway delivers it.

mod channel;
mod condition;
mod robust;
mod rule;
mod state;

pub use channel::Channel;
pub use condition::{Condition, Direction, Verdict};
pub use robust::{median, robust_score, RobustScore};
pub use rule::{Rule, DEFAULT_COOLDOWN_MINUTES, DEFAULT_SENSITIVITY, DEFAULT_WEEKS, MAX_WINDOW_MINUTES};
pub use state::{step, State, Status, Transition};
