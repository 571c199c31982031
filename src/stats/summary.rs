//! Percentile summaries read from HDR histograms.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency summary in milliseconds, read from a histogram of microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Lowest value.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Highest value.
    pub max: f64,
}

impl LatencySummary {
    /// The names of its fields, in order: also the keys of its JSON object.
    pub const FIELDS: [&'static str; 7] = ["min", "mean", "p50", "p90", "p99", "p999", "max"];

    /// Its values, in the order of [`LatencySummary::FIELDS`].
    pub fn values(&self) -> [f64; 7] {
        [
            self.min, self.mean, self.p50, self.p90, self.p99, self.p999, self.max,
        ]
    }

    /// The summary of `histogram`, or `None` when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        // One pass over the counts for all four (the same values as one call each).
        let mut at = histogram.value_at_quantiles([0.50, 0.90, 0.99, 0.999]);
        let mut next = || ms(at.next().unwrap_or(0));
        let (p50, p90, p99, p999) = (next(), next(), next(), next());
        Some(LatencySummary {
            min: ms(histogram.min()),
            mean: round3(histogram.mean() / 1000.0),
            p50,
            p90,
            p99,
            p999,
            max: ms(histogram.max()),
        })
    }
}

/// Probes, successes and latency over a span of time.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSummary {
    /// Finished probes.
    pub probes: u64,
    /// Successful probes.
    pub ok: u64,
    /// Latency of the complete responses, or `None` without any.
    pub latency: Option<LatencySummary>,
}

/// How often a phase happened and its percentiles in milliseconds (`None` when it
/// never happened).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct PhaseSummary {
    /// Times it happened.
    pub count: u64,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl PhaseSummary {
    /// The summary of `histogram` (microseconds).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let count = histogram.len();
        if count == 0 {
            return PhaseSummary::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let mut at = histogram.value_at_quantiles([0.50, 0.90, 0.99]);
        let mut next = || Some(ms(at.next().unwrap_or(0)));
        let (p50, p90, p99) = (next(), next(), next());
        PhaseSummary {
            count,
            p50,
            p90,
            p99,
        }
    }
}

/// Rounds to three decimals: microsecond resolution for millisecond values.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = crate::stats::new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 100).unwrap();
        }
        let s = LatencySummary::of(&h).unwrap();
        assert_eq!(s.min, 0.1);
        assert!((s.p50 - 50.0).abs() < 0.05, "{s:?}");
        assert!((s.p99 - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
        assert!(LatencySummary::of(&crate::stats::new_histogram()).is_none());
    }

    #[test]
    fn fields_name_the_values_as_serde_does() {
        let mut h = crate::stats::new_histogram();
        for us in [100u64, 2_000, 30_000] {
            h.record(us).unwrap();
        }
        let s = LatencySummary::of(&h).unwrap();
        let json = serde_json::to_value(s).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), LatencySummary::FIELDS.len());
        for (key, value) in LatencySummary::FIELDS.iter().zip(s.values()) {
            assert_eq!(json[key].as_f64(), Some(value), "{key}");
        }
    }
}
