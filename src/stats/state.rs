//! An endpoint's health and the rule that moves it: states, streaks, transitions.

use std::time::SystemTime;

pub use crate::config::StateRule;

/// Everything that decides an endpoint's state from its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointRules {
    /// Streaks that change the state.
    pub state: StateRule,
    /// A certificate expiring in fewer days makes a good response degraded.
    pub min_cert_days: Option<u32>,
    /// A canary of probetop's own network: while every canary's latest probe
    /// failed, the other endpoints' failures are excused.
    pub canary: bool,
}

/// How many state changes each endpoint keeps.
pub const TRANSITIONS: usize = 50;

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// When the probe that caused it finished.
    pub at: SystemTime,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
}

/// Health of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// No probe finished yet.
    #[default]
    Unknown,
    /// The latest probes succeed.
    Up,
    /// Responding, but slower than `expect.max_latency`, or with a certificate
    /// expiring within `expect.min_cert_days`.
    Degraded,
    /// The latest probes fail.
    Down,
}

impl State {
    /// The snapshot's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
        }
    }
}

/// The state rule. From `unknown`, the first finished probe sets the state (down on
/// a failure, up — or degraded when slower than `max_latency` — on a success). After
/// that, changes need a streak, so one lost packet does not flap the display: an up
/// or degraded endpoint goes down after `down_after` consecutive failures, and a down
/// one comes back after `up_after` consecutive successes. Up and degraded follow the
/// latest success at once (`slow`: slower than `max_latency`, or a certificate
/// expiring too soon). `streak` is the current run of results like
/// this one (this one included).
pub(super) fn next_state(
    current: State,
    ok: bool,
    slow: bool,
    streak: u32,
    rule: StateRule,
) -> State {
    let healthy = if slow { State::Degraded } else { State::Up };
    match (current, ok) {
        (State::Unknown, true) => healthy,
        (State::Unknown, false) => State::Down,
        (State::Up | State::Degraded, true) => healthy,
        (State::Up | State::Degraded, false) if streak >= rule.down_after => State::Down,
        (State::Down, true) if streak >= rule.up_after => healthy,
        (current, _) => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_success_is_degraded_and_first_failure_is_down() {
        let rule = StateRule::default();
        assert_eq!(next_state(State::Up, true, true, 1, rule), State::Degraded);
        assert_eq!(
            next_state(State::Unknown, false, false, 1, rule),
            State::Down
        );
        let strict = StateRule {
            down_after: 3,
            up_after: 2,
        };
        assert_eq!(next_state(State::Up, false, false, 2, strict), State::Up);
        assert_eq!(next_state(State::Up, false, false, 3, strict), State::Down);
        assert_eq!(next_state(State::Down, true, false, 1, strict), State::Down);
        assert_eq!(next_state(State::Down, true, false, 2, strict), State::Up);
        assert_eq!(
            next_state(State::Degraded, false, false, 1, rule),
            State::Degraded
        );
    }
}
