//! The rolling window: recent probes kept as compact raw entries.
//!
//! Raw entries (12 bytes each) cost memory in proportion to the probes in the
//! window — 300 for a 1 s interval over 5 minutes, 3.6 KB — where a ring of
//! per-slice histograms would cost tens of KB per endpoint whatever the rate.
//! Window percentiles are computed from a histogram built from the entries when
//! a view asks, so they are exact to the histogram's precision, never a guess.

use std::collections::VecDeque;
use std::time::Duration;

use super::clock::duration_to_ds;
use super::{LatencySummary, histogram_up_to, record_us};

/// Latency value of an entry without a complete response.
const NO_LATENCY: u32 = u32::MAX;

/// One finished probe in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowEntry {
    /// When it finished, in deciseconds since the start.
    pub at_ds: u32,
    /// Its latency in microseconds, or `u32::MAX` without a complete response.
    latency_us: u32,
    /// Whether it succeeded.
    pub ok: bool,
}

impl WindowEntry {
    /// Its latency in microseconds, when a complete response arrived.
    pub fn latency_us(&self) -> Option<u32> {
        (self.latency_us != NO_LATENCY).then_some(self.latency_us)
    }
}

/// The probes of the last `span`.
#[derive(Debug, Clone, Default)]
pub struct Window {
    entries: VecDeque<WindowEntry>,
}

/// Statistics over the rolling window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// Span of the window.
    pub seconds: u64,
    /// Finished probes in the window.
    pub probes: u64,
    /// Successful probes in the window.
    pub ok: u64,
    /// Latency of the complete responses in the window.
    pub latency: Option<LatencySummary>,
}

impl Window {
    /// Adds a probe that finished at `at_ds` and drops entries older than `span`.
    pub fn push(&mut self, at_ds: u32, latency: Option<Duration>, ok: bool, span: Duration) {
        let latency_us = latency.map_or(NO_LATENCY, |d| {
            u32::try_from(d.as_micros()).unwrap_or(NO_LATENCY - 1)
        });
        self.entries.push_back(WindowEntry {
            at_ds,
            latency_us,
            ok,
        });
        let oldest = at_ds.saturating_sub(duration_to_ds(span));
        while self.entries.front().is_some_and(|e| e.at_ds < oldest) {
            self.entries.pop_front();
        }
        // Give back memory after a burst (a faster interval, say).
        if self.entries.capacity() > 64 && self.entries.capacity() > 4 * self.entries.len() {
            self.entries.shrink_to(2 * self.entries.len());
        }
    }

    /// Entries from oldest to newest.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &WindowEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries = VecDeque::new();
    }

    /// Summary of the entries within `span` before `now_ds`.
    pub fn summary(&self, now_ds: u32, span: Duration) -> WindowSummary {
        let oldest = now_ds.saturating_sub(duration_to_ds(span));
        let in_span = || self.entries.iter().filter(move |e| e.at_ds >= oldest);
        // Sized for the slowest entry up front: growing it sample by sample would
        // reallocate and copy the counts several times per summary.
        let slowest = in_span()
            .filter_map(WindowEntry::latency_us)
            .max()
            .unwrap_or(1);
        let mut histogram = histogram_up_to(u64::from(slowest));
        let mut probes = 0;
        let mut ok = 0;
        for entry in in_span() {
            probes += 1;
            ok += u64::from(entry.ok);
            if let Some(us) = entry.latency_us() {
                record_us(&mut histogram, u64::from(us));
            }
        }
        WindowSummary {
            seconds: span.as_secs(),
            probes,
            ok,
            latency: LatencySummary::of(&histogram),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_entries_leave_the_window() {
        let span = Duration::from_secs(10);
        let mut w = Window::default();
        for s in 0..30u32 {
            w.push(
                s * 10,
                Some(Duration::from_millis(u64::from(s))),
                s % 2 == 0,
                span,
            );
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
        w.push(1, None, false, Duration::from_secs(60));
        let s = w.summary(1, Duration::from_secs(60));
        assert_eq!((s.probes, s.ok), (1, 0));
        assert!(s.latency.is_none());
        assert_eq!(w.entries().next().unwrap().latency_us(), None);
    }
}
