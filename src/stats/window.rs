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

use std::sync::atomic::{AtomicU64, Ordering};

use super::clock::duration_to_ds;
use super::{
    LatencySummary, PhaseSummary, SpanSummary, SpanTally, histogram_up_to, new_histogram, record_us,
};
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

/// How much longer than the retention probes stay: long enough that a [`SpanTally`]
/// refreshed at least this often can still take away the probes that left its span
/// (a longer gap only makes it count again from scratch). Views never see them.
const TALLY_MARGIN: Duration = Duration::from_secs(10);

/// Ids of windows, so that a [`SpanTally`] never continues in another one (a reset
/// endpoint's fresh window, another endpoint's, a copy that may change apart from
/// its original).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The probes and connections of the last `retention`, as raw entries.
///
/// Probes are kept in the order of their `at_ds`, so the ones of a span are a range
/// found by binary search.
#[derive(Debug)]
pub struct Window {
    id: u64,
    entries: VecDeque<WindowEntry>,
    connections: VecDeque<ConnectionEntry>,
    /// Probes ever pushed and dropped: the push sequence number of `entries[i]` is
    /// `dropped + i`.
    pushed: u64,
    dropped: u64,
    /// The oldest `at_ds` still within the retention (probes before it are kept for
    /// tallies only).
    kept_from_ds: u32,
    /// How many probes at the front are older than `kept_from_ds`.
    margin: usize,
}

impl Clone for Window {
    /// A copy with an id of its own.
    fn clone(&self) -> Self {
        Window {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            entries: self.entries.clone(),
            connections: self.connections.clone(),
            pushed: self.pushed,
            dropped: self.dropped,
            kept_from_ds: self.kept_from_ds,
            margin: self.margin,
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            entries: VecDeque::new(),
            connections: VecDeque::new(),
            pushed: 0,
            dropped: 0,
            kept_from_ds: 0,
            margin: 0,
        }
    }
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
    ///
    /// Probes reach the statistics in the order they finished, so `at_ds` only grows;
    /// should one ever arrive earlier than the newest kept, it counts as of the
    /// newest's decisecond, which keeps the order binary searches rely on.
    pub fn push(&mut self, at_ds: u32, outcome: &ProbeOutcome, retention: Duration) {
        let at_ds = at_ds.max(self.entries.back().map_or(0, |e| e.at_ds));
        self.pushed += 1;
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
        self.kept_from_ds = self.kept_from_ds.max(oldest);
        let oldest_for_tallies = oldest_in(now_ds, retention + TALLY_MARGIN);
        while self
            .entries
            .front()
            .is_some_and(|e| e.at_ds < oldest_for_tallies)
        {
            self.entries.pop_front();
            self.dropped += 1;
            self.margin = self.margin.saturating_sub(1);
        }
        while self
            .entries
            .get(self.margin)
            .is_some_and(|e| e.at_ds < self.kept_from_ds)
        {
            self.margin += 1;
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

    /// The position in `entries` of the first probe that finished at or after `ds`.
    fn first_from(&self, ds: u32) -> usize {
        self.entries.partition_point(|e| e.at_ds < ds)
    }

    /// [`Window::first_from`], searched forward from `hint` (where it was a moment
    /// ago) when that is a few steps: the entries near the hint are in cache, where
    /// a binary search over thousands of endpoints' windows misses it at every step.
    fn first_from_near(&self, ds: u32, hint: usize) -> usize {
        const STEPS: usize = 16;
        let before_is_older = hint == 0 || self.entries.get(hint - 1).is_some_and(|e| e.at_ds < ds);
        if hint <= self.entries.len() && before_is_older {
            for (i, e) in self.entries.range(hint..).take(STEPS).enumerate() {
                if e.at_ds >= ds {
                    return hint + i;
                }
            }
            if hint + STEPS >= self.entries.len() {
                return self.entries.len();
            }
        }
        self.first_from(ds)
    }

    /// The probes that finished within `span` before `now_ds` (never before the
    /// retention).
    fn probes_in(
        &self,
        now_ds: u32,
        span: Duration,
    ) -> std::collections::vec_deque::Iter<'_, WindowEntry> {
        let oldest = oldest_in(now_ds, span).max(self.kept_from_ds);
        self.entries.range(self.first_from(oldest)..)
    }

    /// Brings `tally` to the probes within `span` before `now_ds` and returns their
    /// summary (the same as [`Window::summary`]): only the probes that entered or
    /// left the span since its last count are added or taken away, unless it counted
    /// another window or span, or time went back, or the probes to take away are
    /// gone (refreshed less often than [`TALLY_MARGIN`]); then it counts afresh.
    pub fn tally(&self, tally: &mut SpanTally, now_ds: u32, span: Duration) -> SpanSummary {
        let oldest = oldest_in(now_ds, span).max(self.kept_from_ds);
        let hint = if tally.window == self.id {
            usize::try_from(tally.lo.saturating_sub(self.dropped)).unwrap_or(0)
        } else {
            0
        };
        let lo = self.dropped + self.first_from_near(oldest, hint) as u64;
        let hi = self.pushed;
        let continues = tally.window == self.id
            && tally.span == span
            && (self.dropped..=lo).contains(&tally.lo)
            && tally.hi <= hi;
        let entry = |seq: u64| &self.entries[(seq - self.dropped) as usize];
        if !continues {
            tally.restart(self.id, span, lo);
            tally.fill((lo..hi).map(|seq| {
                let e = entry(seq);
                (e.ok, e.latency_us())
            }));
            tally.hi = hi;
        }
        // The probes that left the span and those that entered it, a pair at a time
        // where both came (one of each, every refresh of an endpoint at 1 Hz).
        let mut left = (tally.lo..lo.min(tally.hi)).map(entry);
        let mut entered = (tally.hi.max(lo)..hi).map(entry);
        loop {
            match (left.next(), entered.next()) {
                (Some(l), Some(e)) => {
                    tally.replace((l.ok, l.latency_us()), (e.ok, e.latency_us()));
                }
                (Some(l), None) => tally.remove(l.ok, l.latency_us()),
                (None, Some(e)) => tally.add(e.ok, e.latency_us()),
                (None, None) => break,
            }
        }
        (tally.lo, tally.hi) = (lo, hi);
        tally.oldest_ds = (lo < hi).then(|| entry(lo).at_ds);
        tally.summary()
    }

    /// Asks the CPU for what [`Window::tally`] of `tally` will read first: the
    /// newest entry (the one that entered), the oldest it counted (the one that
    /// left), and the tally's own entries (see [`super::prefetch`]).
    pub fn prefetch_tally(&self, tally: &SpanTally) {
        for seq in [self.pushed.wrapping_sub(1), tally.lo] {
            if let Some(entry) = seq
                .checked_sub(self.dropped)
                .and_then(|at| self.entries.get(usize::try_from(at).ok()?))
            {
                super::prefetch(entry);
            }
        }
        tally.prefetch();
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
            .next()
            .map_or(u32::MAX, |oldest| {
                oldest.at_ds.saturating_add(duration_to_ds(span))
            })
    }

    /// Which window this is and how many probes were ever pushed to it: the same
    /// window with `k` more pushes has exactly `k` more probes at the end of
    /// [`Window::entries`] (a copy or a reset endpoint's window has another id).
    pub fn sequence(&self) -> (u64, u64) {
        (self.id, self.pushed)
    }

    /// Entries of the retention, from oldest to newest.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &WindowEntry> + ExactSizeIterator {
        self.entries.range(self.margin..)
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
            .entries()
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
        let in_span = self.probes_in(now_ds, span);
        let mut latencies = Vec::with_capacity(in_span.len());
        for entry in in_span {
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

    #[test]
    fn a_tally_answers_as_the_span_sorted_again_does() {
        // A fixed-seed generator: the same cases every run. Probes arrive at random
        // gaps (several in one decisecond too), refreshes come at random moments
        // (some further apart than the margin, some going back in time), and the span
        // changes now and then, also to the retention itself.
        let mut next = crate::stats::test_rng(0x2545_F491_4F6C_DD1D_u64);
        let retention = Duration::from_secs(60);
        let spans = [Duration::from_secs(5), Duration::from_secs(30), retention];
        for case in 0..60 {
            let mut w = Window::default();
            let mut tally = SpanTally::default();
            let mut span = spans[case % spans.len()];
            let mut at = 0u32;
            for step in 0..400 {
                at += (next() % 25) as u32;
                let ok = !next().is_multiple_of(5);
                let latency = (!next().is_multiple_of(4)).then(|| next() % (1 << (next() % 24)));
                let mut o = outcome(ok, None);
                o.latency = latency.map(Duration::from_micros);
                w.push(at, &o, retention);
                if next().is_multiple_of(3) {
                    if next().is_multiple_of(17) {
                        span = spans[(next() % 3) as usize];
                    }
                    let now = match next() % 20 {
                        0 => at.saturating_sub(30),
                        1 => at + 200,
                        _ => at + (next() % 10) as u32,
                    };
                    assert_eq!(
                        w.tally(&mut tally, now, span),
                        w.summary(now, span),
                        "case {case}, step {step}, now {now}, span {span:?}"
                    );
                    assert_eq!(
                        tally.unchanged_until(),
                        w.probes_unchanged_until(now, span),
                        "case {case}, step {step}"
                    );
                    let oldest_kept = w.entries.iter().position(|e| e.at_ds >= w.kept_from_ds);
                    assert_eq!(w.margin, oldest_kept.unwrap_or(w.entries.len()));
                }
            }
        }
    }

    #[test]
    fn a_tally_starts_over_in_another_window() {
        let span = Duration::from_secs(60);
        let mut w = Window::default();
        w.push(1, &outcome(true, Some(5)), span);
        let mut tally = SpanTally::default();
        assert_eq!(w.tally(&mut tally, 1, span).probes, 1);
        // A reset endpoint gets a fresh window: the tally must not keep the old probe.
        let mut fresh = Window::default();
        fresh.push(2, &outcome(true, Some(7)), span);
        assert_eq!(fresh.tally(&mut tally, 2, span), fresh.summary(2, span));
        assert_eq!(w.tally(&mut tally, 2, span), w.summary(2, span));
        let mut copy = w.clone();
        assert_eq!(copy.tally(&mut tally, 2, span).probes, 1);
        copy.push(3, &outcome(false, None), span);
        w.push(3, &outcome(true, Some(9)), span);
        assert_eq!(w.tally(&mut tally, 3, span), w.summary(3, span));
        assert_eq!(copy.tally(&mut tally, 3, span), copy.summary(3, span));
    }

    #[test]
    fn probes_kept_for_tallies_stay_out_of_every_view() {
        let retention = Duration::from_secs(10);
        let mut w = Window::default();
        for s in 0..30u32 {
            w.push(s * 10, &outcome(true, Some(1)), retention);
        }
        // 19 s … 29 s are within the retention; the margin's older ones are not shown.
        assert_eq!(w.entries().next().map(|e| e.at_ds), Some(190));
        assert_eq!(w.summary(290, Duration::from_secs(3600)).probes, 11);
        assert_eq!(w.latency_between(0, 300).len(), 11);
    }
}
