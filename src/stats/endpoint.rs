//! The statistics of one endpoint and its state rule.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::{CompactHistogram, Window, duration_to_us};
use crate::probe::{ConnectionPhases, ErrorClass, Phase, ProbeError, ProbeOutcome};

pub use crate::config::StateRule;

/// Everything that decides an endpoint's state from its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointRules {
    /// Streaks that change the state.
    pub state: StateRule,
    /// A certificate expiring in fewer days makes a good response degraded.
    pub min_cert_days: Option<u32>,
}

const DAY: Duration = Duration::from_secs(86_400);

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// No probe finished yet.
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
    /// All-time duration of each phase, in microseconds, indexed by [`Phase::index`]:
    /// DNS, connect and TLS once per new connection, TTFB and transfer once per probe.
    pub phases: [CompactHistogram; Phase::ALL.len()],
    /// Connections opened or tried (each reported once, completed or not).
    pub connections: u64,
    /// When the certificate of the latest TLS response or handshake expires.
    pub cert_not_after: Option<SystemTime>,
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
    /// Successes since the latest failure.
    pub consecutive_successes: u32,
    /// When the state changes.
    pub rule: StateRule,
    /// Certificate days below which a good response is degraded.
    pub min_cert_days: Option<u32>,
    /// The latest [`TRANSITIONS`] state changes, oldest first.
    pub transitions: VecDeque<Transition>,
    /// The latest finished probe.
    pub last: Option<LastProbe>,
    /// The latest [`RECENT_ERRORS`] failures, oldest first.
    pub recent_errors: VecDeque<RecentError>,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats {
            histogram: CompactHistogram::default(),
            phases: Default::default(),
            connections: 0,
            cert_not_after: None,
            window: Window::default(),
            probes: 0,
            ok: 0,
            failed: 0,
            skipped: 0,
            errors: [0; ErrorClass::ALL.len()],
            status_codes: BTreeMap::new(),
            state: State::Unknown,
            consecutive_failures: 0,
            consecutive_successes: 0,
            rule: StateRule::default(),
            min_cert_days: None,
            transitions: VecDeque::new(),
            last: None,
            recent_errors: VecDeque::new(),
        }
    }
}

impl EndpointStats {
    /// Empty statistics that change state by `rules`.
    pub fn with_rules(rules: EndpointRules) -> Self {
        EndpointStats {
            rule: rules.state,
            min_cert_days: rules.min_cert_days,
            ..EndpointStats::default()
        }
    }

    /// The rules it was made with.
    pub fn rules(&self) -> EndpointRules {
        EndpointRules {
            state: self.rule,
            min_cert_days: self.min_cert_days,
        }
    }

    /// Whole days from `now` until the latest certificate expires (negative once
    /// expired), when there is one.
    pub fn cert_days_left(&self, now: SystemTime) -> Option<i64> {
        let not_after = self.cert_not_after?;
        Some(match not_after.duration_since(now) {
            Ok(left) => (left.as_secs() / DAY.as_secs()) as i64,
            Err(past) => -(past.duration().as_secs().div_ceil(DAY.as_secs()) as i64),
        })
    }

    /// Whether the latest certificate expires within `min_cert_days` of `now`.
    pub fn cert_expires_soon(&self, now: SystemTime) -> bool {
        match (self.min_cert_days, self.cert_not_after) {
            (Some(days), Some(not_after)) => not_after < now + DAY * days,
            _ => false,
        }
    }

    /// Records a connection a probe opened (or tried to), at `at_ds`.
    pub fn record_connection(
        &mut self,
        phases: &ConnectionPhases,
        at_ds: u32,
        window_span: Duration,
    ) {
        self.connections += 1;
        let durations = [
            (Phase::Dns, phases.dns),
            (Phase::Connect, phases.connect),
            (Phase::Tls, phases.tls),
        ];
        for (phase, duration) in durations {
            if let Some(duration) = duration {
                self.phases[phase.index()].record(duration_to_us(duration));
            }
        }
        self.window.push_connection(at_ds, phases, window_span);
    }

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
        for (phase, duration) in [
            (Phase::Ttfb, outcome.ttfb),
            (Phase::Transfer, outcome.transfer),
        ] {
            if let Some(duration) = duration {
                self.phases[phase.index()].record(duration_to_us(duration));
            }
        }
        if let Some(status) = outcome.status {
            *self.status_codes.entry(status).or_default() += 1;
        }
        let ok = outcome.is_ok();
        if let Some(error) = &outcome.error {
            self.failed += 1;
            self.errors[error.class.index()] += 1;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
        } else {
            self.ok += 1;
            self.consecutive_failures = 0;
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        }
        if outcome.cert_not_after.is_some() {
            self.cert_not_after = outcome.cert_not_after;
        }
        let degraded = outcome.slow || self.cert_expires_soon(at);
        let next = next_state(self.state, ok, degraded, self.streak(ok), self.rule);
        if next != self.state {
            if self.transitions.len() == TRANSITIONS {
                self.transitions.pop_front();
            }
            self.transitions.push_back(Transition {
                at,
                from: self.state,
                to: next,
            });
            self.state = next;
        }
        self.window.push(at_ds, &outcome, window_span);
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

    fn streak(&self, ok: bool) -> u32 {
        if ok {
            self.consecutive_successes
        } else {
            self.consecutive_failures
        }
    }

    /// Counts ticks that were not probed.
    pub fn record_skipped(&mut self, ticks: u64) {
        self.skipped += ticks;
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
pub fn next_state(current: State, ok: bool, slow: bool, streak: u32, rule: StateRule) -> State {
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

    fn outcome(ok: bool, latency_ms: Option<u64>) -> ProbeOutcome {
        let mut o = if ok {
            ProbeOutcome {
                status: Some(200),
                ..ProbeOutcome::default()
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
        let changes: Vec<(State, State)> = s.transitions.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            changes,
            [
                (State::Unknown, State::Up),
                (State::Up, State::Down),
                (State::Down, State::Up)
            ]
        );
    }

    #[test]
    fn a_certificate_expiring_soon_degrades_and_phases_are_counted() {
        let mut s = EndpointStats::with_rules(EndpointRules {
            state: StateRule::default(),
            min_cert_days: Some(7),
        });
        let now = SystemTime::now();
        let span = Duration::from_secs(60);
        let phases = ConnectionPhases {
            dns: Some(Duration::from_millis(1)),
            connect: Some(Duration::from_millis(2)),
            tls: Some(Duration::from_millis(3)),
        };
        s.record_connection(&phases, 1, span);
        let mut good = outcome(true, Some(9));
        good.ttfb = Some(Duration::from_millis(6));
        good.cert_not_after = Some(now + DAY * 5 + Duration::from_secs(60));
        s.record(good.clone(), 2, now, span);
        assert_eq!(s.cert_days_left(now), Some(5));
        assert_eq!(s.state, State::Degraded, "5 days left, 7 wanted");
        assert_eq!(s.phases.each_ref().map(|h| h.len()), [1, 1, 1, 1, 0]);
        // A renewed certificate brings it back up with the next good probe.
        s.record_connection(&phases, 3, span);
        good.cert_not_after = Some(now + DAY * 90);
        s.record(good, 4, now, span);
        assert_eq!(s.state, State::Up);
        assert_eq!(s.phases[Phase::Tls.index()].len(), 2);
        assert_eq!(s.connections, 2);
        let expired = EndpointStats {
            cert_not_after: Some(now - Duration::from_secs(3600)),
            ..EndpointStats::default()
        };
        assert_eq!(expired.cert_days_left(now), Some(-1));
    }

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
