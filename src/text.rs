//! How probetop prints numbers, times and durations in its text formats: the
//! snapshot's CSV and Markdown, and the `--check` listing. One place, so that the
//! files of one snapshot never disagree with each other or with the JSON. Also the
//! one sanitiser for text that reaches a terminal ([`clean`], [`terminal_safe`]) and
//! [`say`], which writes a report to stderr that way.
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

/// `text` with every control character (C0, C1, DEL — so escape sequences cannot
/// start) and every invisible direction or zero-width mark removed; line breaks and
/// tabs become spaces. Text from an endpoint or a config can then neither steer the
/// terminal nor disguise itself.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect()
}

/// The longest line [`terminal_safe`] lets through, in characters.
pub const MAX_TERMINAL_LINE: usize = 400;

/// A report for a terminal outside the dashboard (`--check`, errors, `--fail-on`):
/// each line [`clean`]ed, and cut at [`MAX_TERMINAL_LINE`] characters, so neither
/// an escape sequence in an endpoint's name nor a 50 MB line reaches the terminal.
pub fn terminal_safe(report: &str) -> String {
    let mut safe = String::with_capacity(report.len().min(1 << 20));
    for (i, line) in report.split('\n').enumerate() {
        if i > 0 {
            safe.push('\n');
        }
        let mut chars = line.chars();
        let head: String = chars.by_ref().take(MAX_TERMINAL_LINE).collect();
        safe.push_str(&clean(&head));
        if chars.next().is_some() {
            safe.push('…');
        }
    }
    safe
}

/// Writes `report` to standard error, [`terminal_safe`] and ending in one newline,
/// in one write (stderr is unbuffered: a piece at a time costs a system call each).
///
/// A failed write is ignored: `eprintln!` would panic instead (exit 101) when
/// stderr is closed or full, and a report about the run must not undo the run's
/// result; with stderr gone there is no one left to tell, and the exit code still
/// says what happened.
pub fn say(report: &str) {
    use std::io::Write as _;
    let mut text = terminal_safe(report.trim_end_matches('\n'));
    text.push('\n');
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// RFC 3339 in UTC, to the second: the snapshot's times.
///
/// Any time at all, since a certificate's expiry is whatever its issuer wrote:
/// before 1970 too (`humantime`'s formatter panics there, which took exports and
/// headless runs down with it), and clamped to years 0000 to 9999, RFC 3339's.
pub fn timestamp(at: SystemTime) -> String {
    // Whole seconds, rounded down (towards the past) either side of 1970.
    let seconds = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            i64::try_from(whole).map_or(i64::MIN, |s| -s)
        }
    };
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    let seconds = seconds.clamp(-62_167_219_200, 253_402_300_799);
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(seconds) else {
        // Unreachable within the clamp; a placeholder rather than a panic.
        return "0000-01-01T00:00:00Z".into();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A duration as the config writes it: `250ms`, `1s`, `1m 30s`.
pub fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_any_time_never_panic() {
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(
            timestamp(epoch + Duration::from_secs(1_795_301_100)),
            "2026-11-21T22:45:00Z"
        );
        assert_eq!(timestamp(epoch), "1970-01-01T00:00:00Z");
        // A second and a half before 1970 rounds towards the past, as after it.
        assert_eq!(
            timestamp(epoch - Duration::from_millis(1500)),
            "1969-12-31T23:59:58Z"
        );
        assert_eq!(
            timestamp(epoch - Duration::from_secs(86_400 * 365 * 20)),
            "1950-01-06T00:00:00Z"
        );
        // Past RFC 3339's years: clamped.
        let far = Duration::from_secs(400_000_000_000);
        assert_eq!(timestamp(epoch + far), "9999-12-31T23:59:59Z");
        if let Some(before) = epoch.checked_sub(far) {
            assert_eq!(timestamp(before), "0000-01-01T00:00:00Z");
        }
    }

    #[test]
    fn strips_escape_sequences_and_invisible_marks() {
        assert_eq!(clean("ok\x1b[2J\x1b]0;pwned\x07!"), "ok[2J]0;pwned!");
        assert_eq!(
            clean("a\u{202E}b\u{200B}c\u{9b}d\u{061C}\u{2063}e"),
            "abcde"
        );
        assert_eq!(clean("line\nbreak\ttab"), "line break tab");
        assert_eq!(clean("ünïcödé ✓"), "ünïcödé ✓");
    }

    #[test]
    fn terminal_reports_keep_their_lines_and_lose_escapes_and_excess() {
        let hostile = "name \u{1b}]0;pwned\u{7}\u{1b}[2J: down\nnext line\n";
        assert_eq!(
            terminal_safe(hostile),
            "name ]0;pwned[2J: down\nnext line\n"
        );
        let long = "x".repeat(50 * MAX_TERMINAL_LINE);
        let cut = terminal_safe(&format!("a\n{long}\nb"));
        assert_eq!(cut, format!("a\n{}…\nb", "x".repeat(MAX_TERMINAL_LINE)));
    }

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
