//! The statistics of one endpoint and its state rule.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::{CompactHistogram, Window, duration_to_us};
use crate::probe::{ErrorClass, ProbeError, ProbeOutcome};

/// Consecutive failures that turn an endpoint that was up into down.
pub const DOWN_AFTER: u32 = 2;

/// Health of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// No probe finished yet.
    Unknown,
    /// The latest probes succeed.
    Up,
    /// Responding, but slower than `expect.max_latency`.
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

/// The latest finished probe.
#[derive(Debug, Clone, PartialEq)]
pub struct LastProbe {
    /// When it finished.
    pub at: SystemTime,
    /// Its latency, when a complete response arrived.
    pub latency: Option<Duration>,
    /// Its status, when a response arrived.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<ProbeError>,
}

/// How many recent errors each endpoint keeps, with their times.
pub const RECENT_ERRORS: usize = 20;

/// A failed probe, kept for the detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentError {
    /// When it finished.
    pub at: SystemTime,
    /// Its status, when a response arrived.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: ProbeError,
}

/// Everything recorded about one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// All-time latency of complete responses, in microseconds.
    pub histogram: CompactHistogram,
    /// Recent probes.
    pub window: Window,
    /// Finished probes.
    pub probes: u64,
    /// Successful probes.
    pub ok: u64,
    /// Failed probes.
    pub failed: u64,
    /// Ticks not probed because the overlap cap was reached.
    pub skipped: u64,
    /// Failed probes by class, indexed by [`ErrorClass::index`].
    pub errors: [u64; ErrorClass::ALL.len()],
    /// Responses by status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Current state.
    pub state: State,
    /// Failures since the latest success.
    pub consecutive_failures: u32,
    /// The latest finished probe.
    pub last: Option<LastProbe>,
    /// The latest [`RECENT_ERRORS`] failures, oldest first.
    pub recent_errors: VecDeque<RecentError>,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats {
            histogram: CompactHistogram::default(),
            window: Window::default(),
            probes: 0,
            ok: 0,
            failed: 0,
            skipped: 0,
            errors: [0; ErrorClass::ALL.len()],
            status_codes: BTreeMap::new(),
            state: State::Unknown,
            consecutive_failures: 0,
            last: None,
            recent_errors: VecDeque::new(),
        }
    }
}

impl EndpointStats {
    /// Records a finished probe.
    pub fn record(
        &mut self,
        outcome: ProbeOutcome,
        at_ds: u32,
        at: SystemTime,
        window_span: Duration,
    ) {
        self.probes += 1;
        if let Some(latency) = outcome.latency {
            self.histogram.record(duration_to_us(latency));
        }
        if let Some(status) = outcome.status {
            *self.status_codes.entry(status).or_default() += 1;
        }
        let ok = outcome.is_ok();
        if let Some(error) = &outcome.error {
            self.failed += 1;
            self.errors[error.class.index()] += 1;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        } else {
            self.ok += 1;
            self.consecutive_failures = 0;
        }
        self.state = next_state(self.state, ok, outcome.slow, self.consecutive_failures);
        self.window.push(at_ds, outcome.latency, ok, window_span);
        if let Some(error) = &outcome.error {
            if self.recent_errors.len() == RECENT_ERRORS {
                self.recent_errors.pop_front();
            }
            self.recent_errors.push_back(RecentError {
                at,
                status: outcome.status,
                error: error.clone(),
            });
        }
        self.last = Some(LastProbe {
            at,
            latency: outcome.latency,
            status: outcome.status,
            error: outcome.error,
        });
    }

    /// Counts ticks that were not probed.
    pub fn record_skipped(&mut self, ticks: u64) {
        self.skipped += ticks;
    }
}

/// The state rule: a success makes the endpoint up (degraded when slower than
/// `max_latency`); it goes down after [`DOWN_AFTER`] consecutive failures, or at
/// once if it never succeeded; a single failure after successes keeps the state, so
/// one lost packet does not flap the display.
pub fn next_state(current: State, ok: bool, slow: bool, consecutive_failures: u32) -> State {
    if ok {
        if slow { State::Degraded } else { State::Up }
    } else if matches!(current, State::Unknown | State::Down) || consecutive_failures >= DOWN_AFTER
    {
        State::Down
    } else {
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ok: bool, latency_ms: Option<u64>) -> ProbeOutcome {
        let mut o = if ok {
            ProbeOutcome {
                latency: None,
                status: Some(200),
                error: None,
                slow: false,
            }
        } else {
            ProbeOutcome::failed(ErrorClass::Timeout, "slow")
        };
        o.latency = latency_ms.map(Duration::from_millis);
        o
    }

    #[test]
    fn counters_add_up_and_state_follows_the_rule() {
        let mut s = EndpointStats::default();
        let span = Duration::from_secs(60);
        assert_eq!(s.state, State::Unknown);
        s.record(outcome(true, Some(5)), 1, SystemTime::now(), span);
        assert_eq!(s.state, State::Up);
        s.record(outcome(false, None), 2, SystemTime::now(), span);
        assert_eq!(s.state, State::Up, "one failure is a blip");
        s.record(outcome(false, None), 3, SystemTime::now(), span);
        assert_eq!(s.state, State::Down);
        s.record(outcome(true, Some(7)), 4, SystemTime::now(), span);
        assert_eq!(s.state, State::Up);
        assert_eq!((s.probes, s.ok, s.failed), (4, 2, 2));
        assert_eq!(s.errors[ErrorClass::Timeout.index()], 2);
        assert_eq!(s.histogram.len(), 2);
        assert_eq!(s.status_codes.get(&200), Some(&2));
    }

    #[test]
    fn slow_success_is_degraded_and_first_failure_is_down() {
        assert_eq!(next_state(State::Up, true, true, 0), State::Degraded);
        assert_eq!(next_state(State::Unknown, false, false, 1), State::Down);
        assert_eq!(
            next_state(State::Degraded, false, false, 1),
            State::Degraded
        );
    }
}
