//! Per-endpoint statistics: HDR histograms (all-time and rolling window), counters,
//! state, and the projection the views read from them.
//!
//! One thread owns every statistic ([`spawn`]); probes send it samples through an
//! unbounded channel that it alone drains, so recording never waits for a reader and
//! no lock is shared with the views, which send it closures to run instead. Those
//! closures read a [`StatsStore`] through its methods and [`EndpointStats`]' (latency,
//! phases and connections over a span, counts, state, certificate…): every view asks
//! the same questions, answered in one place.
//!
//! Data flows one way: this module reads [`crate::probe`]'s outcome types and nothing
//! of the views (`ui`, `snapshot`, `metrics`, `hlog`) or the engine.

mod actor;
mod clock;
mod compact;
mod compact_counts;
mod endpoint;
mod events;
mod health;
mod prefetch;
mod resume;
mod set;
mod state;
mod store;
mod summary;
mod window;

pub use actor::{Recorder, Sample, SampleKind, StatsHandle, spawn};
pub use clock::{Clock, duration_to_ds};
pub use compact::CompactHistogram;
pub use compact_counts::Counts;
pub use endpoint::{Certificate, EndpointStats, LastProbe, RECENT_ERRORS, RecentError};
pub use events::{
    ALERTS_KEPT, AlertDelivery, EVENT_QUEUE, EventSender, Observer, Recorded, StateChange,
    StatsEvent, event_queue,
};
pub use health::{DEEP_QUEUE, LATE_TICK, Overload, OverloadReason, QueueDepth};
pub use prefetch::{prefetch, prefetch_all, prefetch_arc, prefetch_arc_counts};
pub use resume::{AllTime, Resume};
pub use set::{EndpointId, EndpointSet, Positions};
pub use state::{EndpointRules, State, StateRule, TRANSITIONS, Transition};
pub use store::StatsStore;
pub use summary::{LatencySummary, PhaseSummary, SpanSummary, SpanTally};
pub use window::{PhaseSummaries, WindowEntry};

use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant digits of every latency histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A new, empty latency histogram in microseconds.
///
/// Auto-resizing makes the range grow with the slowest latency seen instead of
/// reserving 60 s up front. Long-lived per-endpoint histograms are kept encoded
/// ([`CompactHistogram`]), so the counts array only exists while one is read.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is a valid precision")
}

/// A histogram like [`new_histogram`], already sized for values up to `highest` µs.
pub fn histogram_up_to(highest: u64) -> Histogram<u64> {
    let mut histogram =
        Histogram::new_with_bounds(1, highest.clamp(2, MAX_RECORDED_US), SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| new_histogram());
    histogram.auto(true);
    histogram
}

/// Largest latency recorded, in microseconds (one hour): a bound on how far a
/// histogram grows, whatever a broken clock or a stalled process reports.
pub const MAX_RECORDED_US: u64 = 3_600_000_000;

const _: () = assert!(MAX_RECORDED_US < u32::MAX as u64);

/// Records `duration` in microseconds.
pub fn record_duration(histogram: &mut Histogram<u64>, duration: Duration) {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(MAX_RECORDED_US);
    record_us(histogram, micros);
}

/// A duration in whole microseconds, capped at [`MAX_RECORDED_US`].
pub fn duration_to_us(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros().min(u128::from(MAX_RECORDED_US))).unwrap_or(u32::MAX)
}

/// Records `micros`, growing the histogram as needed. (`saturating_record` alone would
/// clamp to the current range instead of growing it.)
pub fn record_us(histogram: &mut Histogram<u64>, micros: u64) {
    let micros = micros.min(MAX_RECORDED_US);
    if histogram.record(micros).is_err() {
        histogram.saturating_record(micros);
    }
}

/// The largest count the V2 encoding holds: it writes counts as zig-zag `i64`s.
const V2_MAX_COUNT: u64 = i64::MAX as u64;

/// `histogram` as the V2 encoding can hold it: itself, or, when a count is above
/// `i64::MAX`, a copy with such counts capped there, as [`Counts::write_v2`] caps
/// them. Recording cannot get there, but adding up histograms can: additions
/// saturate, and a snapshot read back (`--resume`, `merge`) may carry counts of up
/// to `i64::MAX` each. Without the cap, encoding such a histogram would fail.
pub fn v2_encodable(histogram: &Histogram<u64>) -> std::borrow::Cow<'_, Histogram<u64>> {
    // No count exceeds the total, so a total within range is the common, free answer.
    if histogram.len() <= V2_MAX_COUNT {
        return std::borrow::Cow::Borrowed(histogram);
    }
    let mut capped = Histogram::new_from(histogram);
    for value in histogram.iter_recorded() {
        // Within the source's range, so the copy (same bounds, auto-resizing as the
        // source is) takes it; a failure would only lose that bucket's count.
        let _ = capped.record_n(
            value.value_iterated_to(),
            value.count_at_value().min(V2_MAX_COUNT),
        );
    }
    std::borrow::Cow::Owned(capped)
}

/// A fixed-seed xorshift generator for the statistics' property tests: the same
/// cases every run.
#[cfg(test)]
pub(crate) fn test_rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_grow_to_fit_slow_samples() {
        let mut h = new_histogram();
        record_duration(&mut h, Duration::from_micros(5));
        record_duration(&mut h, Duration::from_millis(250));
        record_duration(&mut h, Duration::from_secs(30));
        assert_eq!(h.len(), 3);
        assert_eq!(h.value_at_quantile(0.5) / 1000, 250);
        assert_eq!(h.max() / 1_000_000, 30);
    }
}
