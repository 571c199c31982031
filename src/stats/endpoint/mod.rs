//! The statistics of one endpoint: what recording a probe or a connection changes.
//! What the views read from them is in [`read`].

mod read;

pub use read::Certificate;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::events::Recorded;
use super::state::{EndpointRules, State, StateRule, TRANSITIONS, Transition, next_state};
use super::window::Window;
use super::{CompactHistogram, duration_to_us};
use crate::probe::{ConnectionPhases, ErrorClass, Phase, ProbeError, ProbeOutcome, ResponseInfo};

const DAY: Duration = Duration::from_secs(86_400);

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

/// Everything recorded about one endpoint, and the answers the views read from it:
/// counts, state, latency and phases over a span, certificate.
///
/// The fields are private so that every view asks the same questions the same way:
/// a summary computed in one place cannot disagree with one computed in another.
#[derive(Debug, Clone, Default)]
pub struct EndpointStats {
    /// All-time latency of complete responses, in microseconds.
    histogram: CompactHistogram,
    /// All-time duration of each phase, in microseconds, indexed by [`Phase::index`]:
    /// DNS, connect and TLS once per new connection, TTFB and transfer once per probe.
    phases: [CompactHistogram; Phase::ALL.len()],
    /// Connections opened or tried (each reported once, completed or not).
    connections: u64,
    /// When the certificate of the latest TLS response or handshake expires.
    cert_not_after: Option<SystemTime>,
    /// Where the latest response (HTTP) or connection (`tcp://`, `tls://`) came from.
    last_response: Option<ResponseInfo>,
    /// Recent probes and connections, kept for the retention.
    window: Window,
    /// Finished probes.
    probes: u64,
    /// Successful probes.
    ok: u64,
    /// Failed probes.
    failed: u64,
    /// Ticks not probed because the overlap cap was reached.
    skipped: u64,
    /// Failed probes excused while every canary failed (probetop's own network was
    /// down): counted in `probes`, not in `failed`, and moving no state.
    excused: u64,
    /// Failed probes by class, indexed by [`ErrorClass::index`].
    errors: [u64; ErrorClass::ALL.len()],
    /// Responses by status code.
    status_codes: BTreeMap<u16, u64>,
    /// Current state.
    state: State,
    /// Failures since the latest success.
    consecutive_failures: u32,
    /// Successes since the latest failure.
    consecutive_successes: u32,
    /// When the state changes.
    rule: StateRule,
    /// Certificate days below which a good response is degraded.
    min_cert_days: Option<u32>,
    /// Whether it is a canary of probetop's own network.
    canary: bool,
    /// The latest [`TRANSITIONS`] state changes, oldest first.
    transitions: VecDeque<Transition>,
    /// The latest finished probe.
    last: Option<LastProbe>,
    /// The latest [`RECENT_ERRORS`] failures, oldest first.
    recent_errors: VecDeque<RecentError>,
    /// Changes with every record (probe, connection, skipped tick) and reset, so a
    /// reader can keep what it computed from these statistics until it changes.
    generation: u64,
}

impl EndpointStats {
    /// Empty statistics that change state by `rules`.
    pub fn with_rules(rules: EndpointRules) -> Self {
        EndpointStats {
            rule: rules.state,
            min_cert_days: rules.min_cert_days,
            canary: rules.canary,
            ..EndpointStats::default()
        }
    }

    /// Judges by `rules` from the next probe on (a reload changed them); what was
    /// counted stays.
    pub fn set_rules(&mut self, rules: EndpointRules) {
        self.generation += 1;
        self.rule = rules.state;
        self.min_cert_days = rules.min_cert_days;
        self.canary = rules.canary;
    }

    /// The rules it was made with (or last given).
    pub fn rules(&self) -> EndpointRules {
        EndpointRules {
            state: self.rule,
            min_cert_days: self.min_cert_days,
            canary: self.canary,
        }
    }

    /// Records a connection a probe opened (or tried to), at `at_ds` (deciseconds
    /// since the clock's start). Raw entries older than `retention` are dropped.
    pub fn record_connection(
        &mut self,
        phases: &ConnectionPhases,
        at_ds: u32,
        retention: Duration,
    ) {
        self.generation += 1;
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
        self.window.push_connection(at_ds, phases, retention);
    }

    /// Records a probe that finished at `at_ds` (deciseconds since the clock's start)
    /// and `at` (wall clock). Raw entries older than `retention` are dropped.
    /// Returns what changed beyond the counts (a state change, a first error of its
    /// class), for [`crate::stats::Observer`]s.
    pub fn record(
        &mut self,
        outcome: ProbeOutcome,
        at_ds: u32,
        at: SystemTime,
        retention: Duration,
    ) -> Recorded {
        let mut recorded = Recorded::default();
        self.generation += 1;
        // Saturating: a resumed snapshot is input, and may hold a count at the top.
        self.probes = self.probes.saturating_add(1);
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
            let count = self.status_codes.entry(status).or_default();
            *count = count.saturating_add(1);
        }
        let ok = outcome.is_ok();
        if let Some(error) = &outcome.error {
            self.failed = self.failed.saturating_add(1);
            let class = &mut self.errors[error.class.index()];
            *class = class.saturating_add(1);
            if self.errors[error.class.index()] == 1 {
                recorded.first_of_class = Some(error.class);
            }
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
        } else {
            self.ok = self.ok.saturating_add(1);
            self.consecutive_failures = 0;
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        }
        if outcome.cert_not_after.is_some() {
            self.cert_not_after = outcome.cert_not_after;
        }
        if outcome.response.is_some() {
            self.last_response = outcome.response;
        }
        let degraded = outcome.slow || self.cert_expires_soon(at);
        let next = next_state(self.state, ok, degraded, self.streak(ok), self.rule);
        if next != self.state {
            if self.transitions.len() == TRANSITIONS {
                self.transitions.pop_front();
            }
            let transition = Transition {
                at,
                from: self.state,
                to: next,
            };
            self.transitions.push_back(transition);
            recorded.transition = Some(transition);
            self.state = next;
        }
        self.window.push(at_ds, &outcome, retention);
        self.keep_last(at, outcome);
        recorded
    }

    /// Records a failed probe excused because probetop's own network was down (every
    /// canary failing): it counts in `probes` and `excused`, and is kept as the latest
    /// probe and a recent error, marked so; it changes no state, streak, error count,
    /// histogram or window (whose success rates then speak of the target alone).
    pub fn record_excused(&mut self, mut outcome: ProbeOutcome, at: SystemTime) {
        self.generation += 1;
        self.probes = self.probes.saturating_add(1);
        self.excused = self.excused.saturating_add(1);
        if let Some(error) = outcome.error.as_mut() {
            error.message.push_str(" (excused: local network down)");
        }
        self.keep_last(at, outcome);
    }

    /// Keeps `outcome`, finished at `at`, as the latest probe (and a recent error
    /// when it failed).
    fn keep_last(&mut self, at: SystemTime, outcome: ProbeOutcome) {
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
        self.generation += 1;
        self.skipped = self.skipped.saturating_add(ticks);
    }

    /// Continues from `all_time`, the statistics of an earlier run (a snapshot's):
    /// its histograms and counts are added to these, its state and transitions carry
    /// on. Call it before recording anything: the streaks start at zero and the
    /// rolling window empty, since the time between the runs was not watched.
    pub fn resume_from(&mut self, all_time: super::AllTime) {
        self.generation += 1;
        self.histogram.add(&all_time.latency);
        for (mine, theirs) in self.phases.iter_mut().zip(&all_time.phases) {
            mine.add(theirs);
        }
        self.probes += all_time.probes;
        self.ok += all_time.ok;
        self.failed += all_time.failed;
        self.skipped += all_time.skipped;
        self.excused += all_time.excused;
        for (mine, theirs) in self.errors.iter_mut().zip(all_time.errors) {
            *mine += theirs;
        }
        for (code, n) in all_time.status_codes {
            *self.status_codes.entry(code).or_default() += n;
        }
        self.state = all_time.state;
        let keep = all_time.transitions.len().saturating_sub(TRANSITIONS);
        self.transitions = all_time.transitions.into_iter().skip(keep).collect();
        if self.cert_not_after.is_none() {
            self.cert_not_after = all_time.cert_not_after;
        }
    }

    /// Forgets everything recorded, keeping the rules; the generation moves on (a
    /// summary kept from before must not pass for one of the fresh statistics).
    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = EndpointStats::with_rules(self.rules());
        self.generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up, then down, then up again.
    const UP_DOWN_UP: [(State, State); 3] = [
        (State::Unknown, State::Up),
        (State::Up, State::Down),
        (State::Down, State::Up),
    ];

    /// The state changes of `s`, oldest first.
    fn changes(s: &EndpointStats) -> Vec<(State, State)> {
        s.transitions.iter().map(|t| (t.from, t.to)).collect()
    }

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
        assert_eq!(changes(&s), UP_DOWN_UP);
    }

    #[test]
    fn resumed_statistics_continue_counts_histograms_and_state() {
        let span = Duration::from_secs(60);
        let mut first = EndpointStats::default();
        first.record(outcome(true, Some(5)), 1, SystemTime::now(), span);
        first.record(outcome(false, None), 2, SystemTime::now(), span);
        first.record(outcome(false, None), 3, SystemTime::now(), span);
        let mut all_time = super::super::AllTime {
            probes: first.probes,
            ok: first.ok,
            failed: first.failed,
            skipped: 4,
            errors: first.errors,
            status_codes: first.status_codes.clone(),
            latency: first.histogram.to_histogram(),
            state: first.state,
            transitions: first.transitions.iter().copied().collect(),
            ..Default::default()
        };
        all_time.phases[Phase::Ttfb.index()] = {
            let mut h = crate::stats::new_histogram();
            h.record(700).unwrap();
            h
        };
        let mut s = EndpointStats::default();
        s.resume_from(all_time);
        assert_eq!((s.probes, s.ok, s.failed, s.skipped), (3, 1, 2, 4));
        assert_eq!(s.state, State::Down, "the state carries on");
        s.record(outcome(true, Some(9)), 4, SystemTime::now(), span);
        assert_eq!((s.probes, s.ok, s.failed), (4, 2, 2));
        assert_eq!(s.errors[ErrorClass::Timeout.index()], 2);
        assert_eq!(s.status_codes.get(&200), Some(&2));
        assert_eq!(s.histogram.len(), 2);
        assert_eq!(s.histogram.to_histogram().max() / 1000, 9);
        assert_eq!(s.phases[Phase::Ttfb.index()].len(), 1);
        assert_eq!(changes(&s), UP_DOWN_UP);
        assert_eq!(
            s.window.entries().len(),
            1,
            "the window holds only the new probe"
        );
    }

    #[test]
    fn counts_resumed_at_the_top_stay_there() {
        let span = Duration::from_secs(60);
        let mut errors = [0; ErrorClass::ALL.len()];
        errors[ErrorClass::Timeout.index()] = u64::MAX;
        let mut s = EndpointStats::default();
        s.resume_from(super::super::AllTime {
            probes: u64::MAX,
            ok: u64::MAX,
            failed: u64::MAX,
            skipped: u64::MAX,
            excused: u64::MAX,
            errors,
            status_codes: [(200, u64::MAX)].into(),
            ..Default::default()
        });
        s.record(outcome(true, Some(5)), 1, SystemTime::now(), span);
        s.record(outcome(false, None), 2, SystemTime::now(), span);
        s.record_skipped(3);
        s.record_excused(outcome(false, None), SystemTime::now());
        assert_eq!(
            [s.probes, s.ok, s.failed, s.skipped, s.excused],
            [u64::MAX; 5]
        );
        assert_eq!(s.errors[ErrorClass::Timeout.index()], u64::MAX);
        assert_eq!(s.status_codes.get(&200), Some(&u64::MAX));
    }

    #[test]
    fn a_certificate_expiring_soon_degrades_and_phases_are_counted() {
        let mut s = EndpointStats::with_rules(EndpointRules {
            state: StateRule::default(),
            min_cert_days: Some(7),
            canary: false,
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
}
