//! The rolling window: recent probes kept as compact raw entries.
//!
//! Raw entries (20 bytes each) cost memory in proportion to the probes in the
//! window — 300 for a 1 s interval over 5 minutes, 3.6 KB — where a ring of
//! per-slice histograms would cost tens of KB per endpoint whatever the rate.
//! Window percentiles are computed from a histogram built from the entries when
//! a view asks, so they are exact to the histogram's precision, never a guess.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::clock::duration_to_ds;
use super::{LatencySummary, PhaseSummary, SpanSummary, histogram_up_to, new_histogram, record_us};
use crate::probe::{ConnectionPhases, Phase, ProbeOutcome};

/// Value of a duration that was not measured.
const NONE: u32 = u32::MAX;

fn to_us(duration: Option<Duration>) -> u32 {
    duration.map_or(NONE, |d| u32::try_from(d.as_micros()).unwrap_or(NONE - 1))
}

fn from_us(micros: u32) -> Option<u32> {
    (micros != NONE).then_some(micros)
}

/// One finished probe in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowEntry {
    /// When it finished, in deciseconds since the start.
    pub at_ds: u32,
    /// Its latency in microseconds, or `u32::MAX` without a complete response.
    latency_us: u32,
    /// Its time to first byte in microseconds, or `u32::MAX`.
    ttfb_us: u32,
    /// Its body transfer time in microseconds, or `u32::MAX`.
    transfer_us: u32,
    /// Whether it succeeded.
    pub ok: bool,
}

impl WindowEntry {
    /// Its latency in microseconds, when a complete response arrived.
    pub fn latency_us(&self) -> Option<u32> {
        from_us(self.latency_us)
    }
}

/// One new connection in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionEntry {
    at_ds: u32,
    dns_us: u32,
    connect_us: u32,
    tls_us: u32,
}

/// The probes and connections of the last `retention`, as raw entries.
#[derive(Debug, Clone, Default)]
pub struct Window {
    entries: VecDeque<WindowEntry>,
    connections: VecDeque<ConnectionEntry>,
}

/// The phase summaries of a span, indexed by [`Phase::index`].
pub type PhaseSummaries = [PhaseSummary; Phase::ALL.len()];

/// A histogram of some microsecond values, sized for the slowest up front: growing
/// it sample by sample would reallocate and copy the counts several times.
fn histogram_of(values: impl Iterator<Item = u32> + Clone) -> Histogram<u64> {
    let slowest = values.clone().max().unwrap_or(1);
    let mut histogram = histogram_up_to(u64::from(slowest));
    for us in values {
        record_us(&mut histogram, u64::from(us));
    }
    histogram
}

/// The first decisecond within `span` before `now_ds`.
fn oldest_in(now_ds: u32, span: Duration) -> u32 {
    now_ds.saturating_sub(duration_to_ds(span))
}

impl Window {
    /// Adds a probe that finished at `at_ds` and drops entries older than `retention`.
    pub fn push(&mut self, at_ds: u32, outcome: &ProbeOutcome, retention: Duration) {
        self.entries.push_back(WindowEntry {
            at_ds,
            latency_us: to_us(outcome.latency),
            ttfb_us: to_us(outcome.ttfb),
            transfer_us: to_us(outcome.transfer),
            ok: outcome.is_ok(),
        });
        self.trim(at_ds, retention);
    }

    /// Adds a connection opened at `at_ds` and drops entries older than `retention`.
    pub fn push_connection(&mut self, at_ds: u32, phases: &ConnectionPhases, retention: Duration) {
        self.connections.push_back(ConnectionEntry {
            at_ds,
            dns_us: to_us(phases.dns),
            connect_us: to_us(phases.connect),
            tls_us: to_us(phases.tls),
        });
        self.trim(at_ds, retention);
    }

    fn trim(&mut self, now_ds: u32, retention: Duration) {
        let oldest = oldest_in(now_ds, retention);
        while self.entries.front().is_some_and(|e| e.at_ds < oldest) {
            self.entries.pop_front();
        }
        while self.connections.front().is_some_and(|e| e.at_ds < oldest) {
            self.connections.pop_front();
        }
        // Give back memory after a burst (a faster interval, say).
        if self.entries.capacity() > 64 && self.entries.capacity() > 4 * self.entries.len() {
            self.entries.shrink_to(2 * self.entries.len());
        }
        if self.connections.capacity() > 64
            && self.connections.capacity() > 4 * self.connections.len()
        {
            self.connections.shrink_to(2 * self.connections.len());
        }
    }

    /// The probes that finished within `span` before `now_ds`.
    fn probes_in(&self, now_ds: u32, span: Duration) -> impl Iterator<Item = &WindowEntry> + Clone {
        let oldest = oldest_in(now_ds, span);
        self.entries.iter().filter(move |e| e.at_ds >= oldest)
    }

    /// The connections opened within `span` before `now_ds`.
    fn connections_in(
        &self,
        now_ds: u32,
        span: Duration,
    ) -> impl Iterator<Item = &ConnectionEntry> + Clone {
        let oldest = oldest_in(now_ds, span);
        self.connections.iter().filter(move |e| e.at_ds >= oldest)
    }

    /// Connections opened (or tried) within `span` before `now_ds`.
    pub fn connection_count(&self, now_ds: u32, span: Duration) -> u64 {
        self.connections_in(now_ds, span).count() as u64
    }

    /// The durations of `phase` within `span` before `now_ds`: DNS, connect and TLS
    /// over the connections opened, TTFB and transfer over the probes.
    pub fn phase_histogram(&self, phase: Phase, now_ds: u32, span: Duration) -> Histogram<u64> {
        let connections = || self.connections_in(now_ds, span);
        let probes = || self.probes_in(now_ds, span);
        match phase {
            Phase::Dns => histogram_of(connections().filter_map(|e| from_us(e.dns_us))),
            Phase::Connect => histogram_of(connections().filter_map(|e| from_us(e.connect_us))),
            Phase::Tls => histogram_of(connections().filter_map(|e| from_us(e.tls_us))),
            Phase::Ttfb => histogram_of(probes().filter_map(|e| from_us(e.ttfb_us))),
            Phase::Transfer => histogram_of(probes().filter_map(|e| from_us(e.transfer_us))),
        }
    }

    /// Count and percentiles of each phase within `span` before `now_ds`: the
    /// summaries of [`Window::phase_histogram`], read from the sorted values.
    pub fn phase_summaries(&self, now_ds: u32, span: Duration) -> PhaseSummaries {
        let connections = || self.connections_in(now_ds, span);
        let probes = || self.probes_in(now_ds, span);
        Phase::ALL.map(|phase| {
            let mut values: Vec<u32> = match phase {
                Phase::Dns => connections().filter_map(|e| from_us(e.dns_us)).collect(),
                Phase::Connect => connections()
                    .filter_map(|e| from_us(e.connect_us))
                    .collect(),
                Phase::Tls => connections().filter_map(|e| from_us(e.tls_us)).collect(),
                Phase::Ttfb => probes().filter_map(|e| from_us(e.ttfb_us)).collect(),
                Phase::Transfer => probes().filter_map(|e| from_us(e.transfer_us)).collect(),
            };
            PhaseSummary::of_values(&mut values)
        })
    }

    /// The last `now_ds` at which the probes within `span` are still those within it
    /// at `now_ds` (without new ones): the oldest of them leaves the span after it.
    /// `u32::MAX` when none is in the span (none can enter it as time passes).
    pub fn probes_unchanged_until(&self, now_ds: u32, span: Duration) -> u32 {
        self.probes_in(now_ds, span)
            .map(|e| e.at_ds)
            .min()
            .map_or(u32::MAX, |oldest| {
                oldest.saturating_add(duration_to_ds(span))
            })
    }

    /// Entries from oldest to newest.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &WindowEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// The latency of the complete responses within `span` before `now_ds`.
    pub fn latency_histogram(&self, now_ds: u32, span: Duration) -> Histogram<u64> {
        histogram_of(
            self.probes_in(now_ds, span)
                .filter_map(WindowEntry::latency_us),
        )
    }

    /// The latency of the complete responses that finished in `[from_ds, to_ds)`.
    ///
    /// Grown from an empty histogram rather than sized up front: its encoding goes
    /// into the interval log, and the range is part of the encoding.
    pub fn latency_between(&self, from_ds: u32, to_ds: u32) -> Histogram<u64> {
        let mut histogram = new_histogram();
        for us in self
            .entries
            .iter()
            .filter(|e| (from_ds..to_ds).contains(&e.at_ds))
            .filter_map(WindowEntry::latency_us)
        {
            record_us(&mut histogram, u64::from(us));
        }
        histogram
    }

    /// Probes, successes and latency within `span` before `now_ds`.
    ///
    /// The overview asks this of every endpoint whose entries changed: the latencies
    /// are summarised from their sorted values, which reads exactly what their
    /// histogram would (see [`LatencySummary::of_values`]) at a fraction of the cost.
    pub fn summary(&self, now_ds: u32, span: Duration) -> SpanSummary {
        let (mut probes, mut ok) = (0, 0);
        let mut latencies = Vec::with_capacity(self.entries.len());
        for entry in self.probes_in(now_ds, span) {
            probes += 1;
            ok += u64::from(entry.ok);
            if let Some(us) = entry.latency_us() {
                latencies.push(us);
            }
        }
        SpanSummary {
            probes,
            ok,
            latency: LatencySummary::of_values(&mut latencies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ErrorClass;

    fn outcome(ok: bool, latency_ms: Option<u64>) -> ProbeOutcome {
        let mut o = if ok {
            ProbeOutcome::default()
        } else {
            ProbeOutcome::failed(ErrorClass::Status, "503")
        };
        o.latency = latency_ms.map(Duration::from_millis);
        o
    }

    #[test]
    fn phases_count_connections_and_probes_separately() {
        let span = Duration::from_secs(60);
        let mut w = Window::default();
        for i in 0..10u32 {
            let mut o = outcome(true, Some(12));
            o.ttfb = Some(Duration::from_millis(10));
            o.transfer = Some(Duration::from_millis(2));
            w.push(i, &o, span);
        }
        // One connection to an IP address (no DNS), one to a name; only one had TLS.
        let first = ConnectionPhases {
            dns: None,
            connect: Some(Duration::from_micros(300)),
            tls: Some(Duration::from_millis(4)),
        };
        let second = ConnectionPhases {
            dns: Some(Duration::from_micros(800)),
            connect: Some(Duration::from_micros(500)),
            tls: None,
        };
        w.push_connection(1, &first, span);
        w.push_connection(5, &second, span);
        let p = w.phase_summaries(10, span);
        let counts: Vec<u64> = p.iter().map(|s| s.count).collect();
        assert_eq!(counts, [1, 2, 1, 10, 10]);
        assert!((p[Phase::Ttfb.index()].p50.unwrap() - 10.0).abs() < 0.01);
        assert!((p[Phase::Tls.index()].p99.unwrap() - 4.0).abs() < 0.01);
        assert!((p[Phase::Dns.index()].p50.unwrap() - 0.8).abs() < 0.001);
        // The first connection leaves a 5 s window before the second.
        assert_eq!(w.connection_count(10, span), 2);
        assert_eq!(w.connection_count(55, Duration::from_secs(5)), 1);
        let recent = w.phase_summaries(55, Duration::from_secs(5));
        assert_eq!(recent[Phase::Connect.index()].count, 1);
        assert_eq!(recent[Phase::Tls.index()].count, 0);
        assert_eq!(recent[Phase::Tls.index()].p50, None);
    }

    #[test]
    fn old_entries_leave_the_window() {
        let span = Duration::from_secs(10);
        let mut w = Window::default();
        for s in 0..30u32 {
            w.push(s * 10, &outcome(s % 2 == 0, Some(u64::from(s))), span);
        }
        // Entries from 19 s to 29 s remain (at most 11 of them, never more than the span holds).
        assert_eq!(w.entries().len(), 11);
        let summary = w.summary(290, span);
        assert_eq!(summary.probes, 11);
        assert_eq!(summary.ok, 5);
        let latency = summary.latency.unwrap();
        assert!((latency.min - 19.0).abs() < 0.02, "{latency:?}");
        assert!((latency.max - 29.0).abs() < 0.02);
        // Later, with nothing new, the window empties as time moves on.
        assert_eq!(w.summary(1000, span).probes, 0);
    }

    #[test]
    fn failures_without_response_have_no_latency() {
        let mut w = Window::default();
        w.push(1, &outcome(false, None), Duration::from_secs(60));
        let s = w.summary(1, Duration::from_secs(60));
        assert_eq!((s.probes, s.ok), (1, 0));
        assert!(s.latency.is_none());
        assert_eq!(w.entries().next().unwrap().latency_us(), None);
    }
}
