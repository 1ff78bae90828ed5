//! The life of an alert: a rule is `Ok` until its condition holds, then it fires once
//! and stays `Firing` (no repeats) until the condition stops holding, when it
//! resolves. A cooldown after each firing or resolution keeps a value hovering at
//! the threshold from notifying every minute: a breach within the cooldown is not
//! announced, and fires only if it still holds once the cooldown is over.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Firing,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Firing => "firing",
        }
    }

    pub fn from_name(name: &str) -> Option<Status> {
        [Status::Ok, Status::Firing].into_iter().find(|s| s.name() == name)
    }
}

/// What is remembered of a rule between evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    /// When it last fired or resolved, µs since the epoch: the cooldown's start.
    pub changed_us: Option<i64>,
}

impl Default for State {
    fn default() -> Self {
        State { status: Status::Ok, changed_us: None }
    }
}

/// A change worth a history row and a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Fired,
    Resolved,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Transition::Fired => "firing",
            Transition::Resolved => "resolved",
        }
    }
}

/// The next state after an evaluation at `now_us` whose condition `breached` (`None`:
/// nothing to judge against, so nothing changes), and the transition, if any.
pub fn step(state: State, breached: Option<bool>, now_us: i64, cooldown_us: i64) -> (State, Option<Transition>) {
    match (state.status, breached) {
        (_, None) | (Status::Firing, Some(true)) | (Status::Ok, Some(false)) => (state, None),
        (Status::Firing, Some(false)) => (State { status: Status::Ok, changed_us: Some(now_us) }, Some(Transition::Resolved)),
        (Status::Ok, Some(true)) => {
            let cooling = state.changed_us.is_some_and(|t| now_us < t.saturating_add(cooldown_us));
            if cooling {
                (state, None)
            } else {
                (State { status: Status::Firing, changed_us: Some(now_us) }, Some(Transition::Fired))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIN: i64 = 60_000_000;

    fn run(breaches: &[Option<bool>], cooldown: i64) -> Vec<(i64, Transition)> {
        let mut state = State::default();
        let mut out = Vec::new();
        for (minute, &b) in breaches.iter().enumerate() {
            let now = minute as i64 * MIN;
            let (next, t) = step(state, b, now, cooldown);
            state = next;
            out.extend(t.map(|t| (minute as i64, t)));
        }
        out
    }

    #[test]
    fn fires_once_and_resolves_once() {
        let b = |x| Some(x);
        let seq = [b(false), b(true), b(true), None, b(true), b(false), b(false)];
        assert_eq!(run(&seq, 0), vec![(1, Transition::Fired), (5, Transition::Resolved)]);
    }

    #[test]
    fn a_breach_within_the_cooldown_waits_for_it_to_end() {
        let b = |x| Some(x);
        // Fires at 0, resolves at 1, breaches again at 2..: quiet until minute 11.
        let mut seq = vec![b(true), b(false)];
        seq.extend(std::iter::repeat_n(b(true), 12));
        assert_eq!(run(&seq, 10 * MIN), vec![(0, Transition::Fired), (1, Transition::Resolved), (11, Transition::Fired)]);
        // A long alert that resolves and flickers back a minute later stays resolved.
        let mut seq = vec![b(true); 90];
        seq.extend([b(false), b(true), b(false), b(false)]);
        assert_eq!(run(&seq, 60 * MIN), vec![(0, Transition::Fired), (90, Transition::Resolved)]);
    }

    proptest! {
        /// Firings and resolutions alternate, starting with a firing, and a firing
        /// comes at least a cooldown after the resolution before it.
        #[test]
        fn transitions_alternate_and_respect_the_cooldown(seq in prop::collection::vec(prop::option::of(any::<bool>()), 0..200), cooldown in 0i64..30) {
            let out = run(&seq, cooldown * MIN);
            for (i, (_, t)) in out.iter().enumerate() {
                prop_assert_eq!(*t, if i % 2 == 0 { Transition::Fired } else { Transition::Resolved });
            }
            prop_assert!(out.windows(2).all(|w| w[1].1 == Transition::Resolved || w[1].0 - w[0].0 >= cooldown.max(1)));
        }
    }
}
