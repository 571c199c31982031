//! How probetop prints numbers, times and durations in its text formats: the
//! snapshot's CSV and Markdown, and the `--check` listing. One place, so that the
//! files of one snapshot never disagree with each other or with the JSON.
//!
//! Integers print with `Display`, which is how the JSON prints them too; only
//! fractional numbers need care. (The dashboard fits numbers into columns instead:
//! that is `ui::format`'s job.)

use std::time::{Duration, SystemTime};

use crate::stats::LatencySummary;

/// `x` exactly as serde_json prints it in the JSON file.
///
/// Rust's `{}` would print `1` where the JSON has `1.0`: the same value, but not the
/// same text, and a diff of the two exports should show no difference.
pub fn number(x: f64) -> String {
    serde_json::to_string(&x).expect("serialising an f64 cannot fail")
}

/// `x` as [`number`] prints it, or `absent` (the format's mark for the JSON's null).
pub fn number_or(x: Option<f64>, absent: &str) -> String {
    x.map_or_else(|| absent.to_string(), number)
}

/// The values of a latency summary in [`LatencySummary::FIELDS`] order, each printed
/// as [`number`], or `absent` seven times when there is no summary.
pub fn latency_numbers(summary: Option<&LatencySummary>, absent: &str) -> Vec<String> {
    match summary {
        Some(s) => s.values().into_iter().map(number).collect(),
        None => vec![absent.to_string(); LatencySummary::FIELDS.len()],
    }
}

/// RFC 3339 in UTC, to the second: the snapshot's times.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A duration as the config writes it: `250ms`, `1s`, `1m 30s`.
pub fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_in_the_json() {
        for x in [0.0, 1.0, 0.123, 12.5, 1234.567, 0.001, 60_000.0] {
            let json = serde_json::json!({ "x": x }).to_string();
            assert_eq!(json, format!("{{\"x\":{}}}", number(x)), "{x}");
        }
        assert_eq!(number(1.0), "1.0");
        assert_eq!(number(0.123), "0.123");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number_or(None, "–"), "–");
        assert_eq!(number_or(Some(2.0), ""), "2.0");
    }

    #[test]
    fn latency_numbers_follow_the_fields() {
        let summary = LatencySummary {
            min: 1.0,
            mean: 2.5,
            p50: 2.0,
            p90: 3.0,
            p99: 4.0,
            p999: 4.5,
            max: 5.0,
        };
        assert_eq!(
            latency_numbers(Some(&summary), ""),
            ["1.0", "2.5", "2.0", "3.0", "4.0", "4.5", "5.0"]
        );
        assert_eq!(latency_numbers(None, "–"), ["–"; 7]);
    }

    #[test]
    fn times_and_durations() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_301_100);
        assert_eq!(timestamp(at), "2026-11-21T22:45:00Z");
        assert_eq!(duration(Duration::from_millis(250)), "250ms");
        assert_eq!(duration(Duration::from_secs(90)), "1m 30s");
    }
}
