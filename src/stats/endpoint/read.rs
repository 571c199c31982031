//! What the views read from an endpoint's statistics.
//!
//! A span is `None` for all-time, read from the all-time histograms and counters, or
//! `Some(length)`, read from the window's raw entries within `length` before `now_ds`
//! (deciseconds since the clock's start: [`crate::stats::StatsStore::now_ds`]). A span
//! longer than the retention reads what is kept.

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::{DAY, EndpointStats, LastProbe, RecentError};
use crate::probe::{ErrorClass, Phase, ResponseInfo};
use crate::stats::{
    CompactHistogram, LatencySummary, PhaseSummaries, PhaseSummary, SpanSummary, SpanTally, State,
    Transition, WindowEntry,
};

/// The certificate of an endpoint's latest TLS connection, as of some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    /// When it expires.
    pub not_after: SystemTime,
    /// Whole days left at that moment (negative once expired).
    pub days_left: i64,
    /// Whether it expires within `min_cert_days`.
    pub expires_soon: bool,
}

impl EndpointStats {
    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Finished probes, all-time.
    pub fn probes(&self) -> u64 {
        self.probes
    }

    /// Successful probes, all-time.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Failed probes, all-time.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Ticks not probed because the overlap cap was reached, all-time.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Failed probes excused while probetop's own network was down (every canary
    /// failing), all-time; `ok + failed + excused == probes`.
    pub fn excused(&self) -> u64 {
        self.excused
    }

    /// Whether it is a canary of probetop's own network.
    pub fn is_canary(&self) -> bool {
        self.canary
    }

    /// Why it is in its state, in a line: the latest error when down, what makes it
    /// degraded (a certificate expiring, or slowness), empty otherwise.
    pub fn state_reason(&self) -> String {
        let Some(last) = &self.last else {
            return String::new();
        };
        match self.state {
            State::Down => last
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.class.as_str(), e.message))
                .unwrap_or_default(),
            State::Degraded => match (self.cert_days_left(last.at), self.min_cert_days) {
                (Some(days), Some(min)) if self.cert_expires_soon(last.at) => {
                    format!("certificate expires in {days} days (min_cert_days {min})")
                }
                _ => match last.latency {
                    Some(latency) => {
                        format!("slower than expect.max_latency: {} ms", latency.as_millis())
                    }
                    None => "slower than expect.max_latency".to_string(),
                },
            },
            State::Up | State::Unknown => String::new(),
        }
    }

    /// Failed probes of `class`, all-time.
    pub fn error_count(&self, class: ErrorClass) -> u64 {
        self.errors[class.index()]
    }

    /// Failed probes by class, all-time, in [`ErrorClass::ALL`] order; classes that
    /// never happened are left out.
    pub fn errors(&self) -> impl Iterator<Item = (ErrorClass, u64)> + '_ {
        ErrorClass::ALL
            .into_iter()
            .map(|class| (class, self.error_count(class)))
            .filter(|&(_, n)| n > 0)
    }

    /// Responses by status code, all-time, lowest code first.
    pub fn status_codes(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.status_codes.iter().map(|(&code, &n)| (code, n))
    }

    /// The latency of complete responses over `span`, in microseconds.
    pub fn latency_over(&self, span: Option<Duration>, now_ds: u32) -> Histogram<u64> {
        match span {
            None => self.histogram.to_histogram(),
            Some(span) => self.window.latency_histogram(now_ds, span),
        }
    }

    /// The all-time latency histogram as kept (compact): to copy cheaply and decode
    /// elsewhere ([`crate::stats::CompactHistogram::to_histogram`]).
    pub fn latency_all_time(&self) -> &CompactHistogram {
        &self.histogram
    }

    /// The all-time histogram of `phase` as kept (compact), as
    /// [`EndpointStats::latency_all_time`].
    pub fn phase_all_time(&self, phase: Phase) -> &CompactHistogram {
        &self.phases[phase.index()]
    }

    /// Probes, successes and latency over `span`.
    pub fn summary_over(&self, span: Option<Duration>, now_ds: u32) -> SpanSummary {
        match span {
            None => SpanSummary {
                probes: self.probes,
                ok: self.ok,
                latency: LatencySummary::of(&self.histogram.to_histogram()),
            },
            Some(span) => self.window.summary(now_ds, span),
        }
    }

    /// [`EndpointStats::summary_over`], kept up to date in `tally` between calls: for
    /// a span of the window, only the probes that entered or left it since the last
    /// call are counted (the overview asks this of every endpoint at every refresh).
    pub fn summary_tallied(
        &self,
        span: Option<Duration>,
        now_ds: u32,
        tally: &mut SpanTally,
    ) -> SpanSummary {
        match span {
            None => self.summary_over(None, now_ds),
            Some(span) => self.window.tally(tally, now_ds, span),
        }
    }

    /// The latency of the complete responses that finished in `[from_ds, to_ds)`
    /// (deciseconds since the clock's start), from the window's raw entries: an
    /// interval histogram.
    pub fn latency_between(&self, from_ds: u32, to_ds: u32) -> Histogram<u64> {
        self.window.latency_between(from_ds, to_ds)
    }

    /// The durations of `phase` over `span`, in microseconds: DNS, connect and TLS
    /// once per new connection (none for a reused one), TTFB and transfer once per
    /// response.
    pub fn phase_over(&self, phase: Phase, span: Option<Duration>, now_ds: u32) -> Histogram<u64> {
        match span {
            None => self.phases[phase.index()].to_histogram(),
            Some(span) => self.window.phase_histogram(phase, now_ds, span),
        }
    }

    /// Count and percentiles of every phase over `span`, indexed by [`Phase::index`].
    pub fn phases_over(&self, span: Option<Duration>, now_ds: u32) -> PhaseSummaries {
        match span {
            None => Phase::ALL.map(|phase| PhaseSummary::of(&self.phase_over(phase, None, now_ds))),
            Some(span) => self.window.phase_summaries(now_ds, span),
        }
    }

    /// Connections opened or tried over `span`, including those that failed before
    /// completing a phase.
    pub fn connections_over(&self, span: Option<Duration>, now_ds: u32) -> u64 {
        match span {
            None => self.connections,
            Some(span) => self.window.connection_count(now_ds, span),
        }
    }

    /// A number that changes whenever anything recorded here changes (a probe, a
    /// connection, a skipped tick, a reset): what a reader computed from these
    /// statistics stays true while it is the same — and, for a span, while time has
    /// not moved past [`EndpointStats::probes_unchanged_until`].
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The last `now_ds` up to which the probes in `span` (as of `now_ds`) stay the
    /// same without new records: after it, the oldest of them has left the span.
    /// `u32::MAX` for all-time, or when the span holds no probe.
    pub fn probes_unchanged_until(&self, span: Option<Duration>, now_ds: u32) -> u32 {
        match span {
            None => u32::MAX,
            Some(span) => self.window.probes_unchanged_until(now_ds, span),
        }
    }

    /// The probes kept for the retention, oldest first (sparklines, the series).
    pub fn recent_probes(
        &self,
    ) -> impl DoubleEndedIterator<Item = &WindowEntry> + ExactSizeIterator {
        self.window.entries()
    }

    /// Which window holds [`EndpointStats::recent_probes`] and how many probes were
    /// ever pushed to it: a reader that kept something computed from the newest
    /// probes can tell from it how many came since (see `ui::model`'s sparklines).
    pub fn probe_sequence(&self) -> (u64, u64) {
        self.window.sequence()
    }

    /// Asks the CPU for the fields an overview row reads (see
    /// [`crate::stats::prefetch`]): a few lines of a struct of a dozen.
    pub fn prefetch_fields(&self) {
        use crate::stats::{prefetch, prefetch_all};
        // All of the window's own fields (its queues' pointers, its counts: a few
        // lines), which the entries' addresses come from.
        prefetch_all(&self.window);
        prefetch(&self.last);
        prefetch(&self.generation);
        prefetch(&self.probes);
        prefetch(&self.skipped);
        prefetch(&self.excused);
        prefetch(&self.state);
    }

    /// Asks the CPU for what an overview row reads of it beyond its own fields (see
    /// [`crate::stats::prefetch`]): the window entries `tally` will read.
    pub fn prefetch_for_overview(&self, tally: &SpanTally) {
        self.window.prefetch_tally(tally);
    }

    /// The latest finished probe.
    pub fn last(&self) -> Option<&LastProbe> {
        self.last.as_ref()
    }

    /// Latency of the latest probe, when it had a complete response.
    pub fn last_latency(&self) -> Option<Duration> {
        self.last.as_ref().and_then(|last| last.latency)
    }

    /// The latest failures (at most [`crate::stats::RECENT_ERRORS`]), oldest first.
    pub fn recent_errors(
        &self,
    ) -> impl DoubleEndedIterator<Item = &RecentError> + ExactSizeIterator {
        self.recent_errors.iter()
    }

    /// The latest failure, if any was kept (since the start or the latest reset).
    pub fn last_error(&self) -> Option<&RecentError> {
        self.recent_errors.back()
    }

    /// The latest state changes (at most [`crate::stats::TRANSITIONS`]), oldest first.
    pub fn transitions(&self) -> impl DoubleEndedIterator<Item = &Transition> + ExactSizeIterator {
        self.transitions.iter()
    }

    /// Certificate days below which a good response is degraded, if set.
    pub fn min_cert_days(&self) -> Option<u32> {
        self.min_cert_days
    }

    /// Where the latest response (HTTP) or connection (`tcp://`, `tls://`) came
    /// from: its HTTP version and the server's address.
    pub fn last_response(&self) -> Option<ResponseInfo> {
        self.last_response
    }

    /// When the certificate of the latest TLS response or handshake expires.
    pub fn cert_not_after(&self) -> Option<SystemTime> {
        self.cert_not_after
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

    /// The latest certificate as of `now`, when there is one.
    pub fn certificate(&self, now: SystemTime) -> Option<Certificate> {
        Some(Certificate {
            not_after: self.cert_not_after?,
            days_left: self.cert_days_left(now)?,
            expires_soon: self.cert_expires_soon(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ConnectionPhases, ProbeOutcome};
    use crate::stats::{EndpointRules, StateRule, new_histogram, record_us};

    const RETENTION: Duration = Duration::from_secs(900);
    const MINUTE: Option<Duration> = Some(Duration::from_secs(60));

    /// 120 probes, one every 5 s (at_ds 0, 50, … 5950), latency 1 ms + 10 µs × k,
    /// every seventh failing without a response, every eleventh with status 503; a
    /// new connection every tenth probe.
    fn ten_minutes() -> EndpointStats {
        let mut stats = EndpointStats::default();
        let at = SystemTime::UNIX_EPOCH;
        for k in 0..120u32 {
            let at_ds = k * 50;
            if k.is_multiple_of(10) {
                let phases = ConnectionPhases {
                    dns: k
                        .is_multiple_of(20)
                        .then(|| Duration::from_micros(500 + u64::from(k))),
                    connect: Some(Duration::from_micros(200 + u64::from(k))),
                    tls: None,
                };
                stats.record_connection(&phases, at_ds, RETENTION);
            }
            let outcome = if k.is_multiple_of(7) {
                ProbeOutcome::failed(ErrorClass::Timeout, "slow")
            } else {
                let latency = Duration::from_micros(1_000 + 10 * u64::from(k));
                let mut o = ProbeOutcome {
                    latency: Some(latency),
                    status: Some(200),
                    ttfb: Some(latency / 2),
                    ..ProbeOutcome::default()
                };
                if k.is_multiple_of(11) {
                    o = ProbeOutcome {
                        status: Some(503),
                        ..ProbeOutcome::failed(ErrorClass::Status, "503")
                    };
                    o.latency = Some(latency);
                }
                o
            };
            stats.record(outcome, at_ds, at, RETENTION);
        }
        stats
    }

    /// The latency of probe `k` of [`ten_minutes`], if it had a complete response.
    fn latency_us(k: u32) -> Option<u64> {
        (!k.is_multiple_of(7)).then(|| 1_000 + 10 * u64::from(k))
    }

    fn assert_same(a: &Histogram<u64>, b: &Histogram<u64>) {
        assert_eq!(a.len(), b.len());
        for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "q={q}");
        }
        assert_eq!((a.min(), a.max()), (b.min(), b.max()));
    }

    #[test]
    fn latency_over_a_span_is_the_histogram_of_its_probes() {
        let stats = ten_minutes();
        let now_ds = 5_950;
        let mut all = new_histogram();
        let mut minute = new_histogram();
        for k in 0..120u32 {
            if let Some(us) = latency_us(k) {
                record_us(&mut all, us);
                // The last minute: from at_ds 5350 on, probes 107 to 119.
                if k * 50 >= now_ds - 600 {
                    record_us(&mut minute, us);
                }
            }
        }
        assert_same(&stats.latency_over(None, now_ds), &all);
        assert_same(&stats.latency_over(MINUTE, now_ds), &minute);
        assert_eq!(
            minute.len(),
            11,
            "13 probes, two of them (112, 119) timed out"
        );

        let all_time = stats.summary_over(None, now_ds);
        assert_eq!((all_time.probes, all_time.ok), (120, 120 - 18 - 9));
        assert_eq!(all_time.latency, LatencySummary::of(&all));
        let last_minute = stats.summary_over(MINUTE, now_ds);
        // 110 answered 503: a latency, but a failure.
        assert_eq!((last_minute.probes, last_minute.ok), (13, 10));
        assert_eq!(last_minute.latency, LatencySummary::of(&minute));
        // Nothing finished in the minute after the last probe.
        let later = stats.summary_over(MINUTE, now_ds + 700);
        assert_eq!((later.probes, later.latency), (0, None));
    }

    #[test]
    fn latency_between_takes_the_half_open_interval() {
        let stats = ten_minutes();
        // at_ds 100 (k = 2) to 400 (k = 8) excluded: k 2..=7, and 7 timed out.
        let h = stats.latency_between(100, 400);
        let mut direct = new_histogram();
        for k in 2..8 {
            if let Some(us) = latency_us(k) {
                record_us(&mut direct, us);
            }
        }
        assert_same(&h, &direct);
        assert_eq!(h.len(), 5);
        assert!(stats.latency_between(400, 400).is_empty());
    }

    #[test]
    fn phases_and_connections_over_a_span() {
        let stats = ten_minutes();
        let now_ds = 5_950;
        let all = stats.phases_over(None, now_ds);
        let counts = all.map(|p| p.count);
        // 12 connections, 6 of them resolved a name; TTFB on the successes only.
        assert_eq!(counts, [6, 12, 0, 120 - 18 - 9, 0]);
        assert_eq!(stats.connections_over(None, now_ds), 12);
        // The last minute holds one connection (k = 110), which had no DNS.
        let minute = stats.phases_over(MINUTE, now_ds);
        assert_eq!(minute.map(|p| p.count), [0, 1, 0, 10, 0]);
        assert_eq!(stats.connections_over(MINUTE, now_ds), 1);
        assert_eq!(minute[Phase::Connect.index()].p50, Some(0.31));
        let connect = stats.phase_over(Phase::Connect, None, now_ds);
        assert_eq!((connect.min(), connect.max()), (200, 310));
    }

    #[test]
    fn counts_errors_and_status_codes() {
        let stats = ten_minutes();
        assert_eq!((stats.probes(), stats.ok(), stats.failed()), (120, 93, 27));
        let errors: Vec<(ErrorClass, u64)> = stats.errors().collect();
        assert_eq!(errors, [(ErrorClass::Timeout, 18), (ErrorClass::Status, 9)]);
        assert_eq!(stats.error_count(ErrorClass::Dns), 0);
        let codes: Vec<(u16, u64)> = stats.status_codes().collect();
        assert_eq!(codes, [(200, 93), (503, 9)]);
        assert_eq!(stats.recent_probes().len(), 120);
        assert_eq!(stats.recent_errors().len(), crate::stats::RECENT_ERRORS);
        // The last probe (119) timed out: no latency.
        assert!(stats.last().is_some_and(|last| last.error.is_some()));
        assert_eq!(stats.last_latency(), None);
    }

    #[test]
    fn certificate_as_of_a_moment() {
        let mut stats = EndpointStats::with_rules(EndpointRules {
            state: StateRule::default(),
            min_cert_days: Some(7),
            canary: false,
        });
        let now = SystemTime::UNIX_EPOCH + DAY * 20_000;
        assert_eq!(stats.certificate(now), None);
        let not_after = now + DAY * 5 + Duration::from_secs(60);
        let outcome = ProbeOutcome {
            latency: Some(Duration::from_millis(3)),
            cert_not_after: Some(not_after),
            ..ProbeOutcome::default()
        };
        stats.record(outcome, 1, now, RETENTION);
        let soon = Certificate {
            not_after,
            days_left: 5,
            expires_soon: true,
        };
        assert_eq!(stats.certificate(now), Some(soon));
        let much_earlier = stats.certificate(now - DAY * 30).unwrap();
        assert_eq!(
            (much_earlier.days_left, much_earlier.expires_soon),
            (35, false)
        );
        assert_eq!(stats.certificate(now + DAY * 6).unwrap().days_left, -1);
    }
}
