//! Number and text formatting shared by the views.

use std::time::{Duration, SystemTime};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Milliseconds in at most 6 columns: `0.123`, `12.3`, `123`, `1234`, `12.3s`.
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else if value < 10_000.0 {
        format!("{value:.0}")
    } else {
        format!("{:.1}s", value / 1000.0)
    }
}

/// An optional millisecond value, `-` when absent.
pub fn opt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), ms)
}

/// A run time as `1d 02:03:04` or `02:03:04`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Large counts compactly: `999`, `12.3k`, `4.5M`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `text` cut or padded to exactly `width` columns (left-aligned), with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        let mut out = text.to_string();
        out.push_str(&" ".repeat(width - text.width()));
        return out;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
        used += 1;
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// `text` cut in the middle or padded to exactly `width` columns (left-aligned):
/// `tls-sel…gned-a`. Names that differ only at their end (`…-a`, `…-b`) or only at
/// their start stay distinguishable, which a cut at the end would lose.
pub fn fit_middle(text: &str, width: usize) -> String {
    if text.width() <= width || width < 4 {
        return fit(text, width);
    }
    // One column for the ellipsis; the head gets the odd one.
    let room = width - 1;
    let mut tail: Vec<char> = Vec::new();
    let mut tail_used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if tail_used + w > room / 2 {
            break;
        }
        tail.push(c);
        tail_used += w;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + tail_used > room {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out.extend(tail.into_iter().rev());
    out.push_str(&" ".repeat(room - used - tail_used));
    out
}

/// `text` right-aligned in `width` columns (cut with `fit` when too long).
pub fn right(text: &str, width: usize) -> String {
    if text.width() >= width {
        fit(text, width)
    } else {
        format!("{}{text}", " ".repeat(width - text.width()))
    }
}

/// Milliseconds for an axis label: as short as possible (`0`, `2.5`, `250`, `12.5s`).
pub fn axis_ms(value: f64) -> String {
    if value >= 10_000.0 {
        return ms(value);
    }
    let text = format!("{value:.2}");
    // Trailing zeros only widen the axis; `2.50` and `2.5` say the same.
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A span of seconds as `45s`, `5m`, `7m30s`, `1h`, `2h15m` (axis labels).
pub fn short_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The UTC time of day of `at` as `HH:MM:SS`.
///
/// Computed here rather than sliced from `humantime::format_rfc3339_seconds`, which
/// panics on times before 1970 and fails after 9999: a view must never panic on data.
pub fn utc_clock(at: SystemTime) -> String {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => {
            let s = since.as_secs() % 86_400;
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
        // Before 1970: no time of day to tell.
        Err(_) => "--:--:--".to_string(),
    }
}

/// The UTC date of `at` as `YYYY-MM-DD` (`----------` before 1970).
///
/// Computed here for the same reason as [`utc_clock`]: no formatting call that can
/// panic or fail on an odd certificate date.
pub fn utc_date(at: SystemTime) -> String {
    let Ok(since) = at.duration_since(SystemTime::UNIX_EPOCH) else {
        return "----------".to_string();
    };
    let (year, month, day) = civil_from_days(since.as_secs() / 86_400);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Year, month and day of the `days`-th day after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fit_their_columns() {
        assert_eq!(ms(0.1234), "0.12");
        assert_eq!(ms(52.04), "52.0");
        assert_eq!(ms(250.4), "250");
        assert_eq!(ms(12_500.0), "12.5s");
        assert_eq!(elapsed(Duration::from_secs(3723)), "01:02:03");
        assert_eq!(elapsed(Duration::from_secs(90_061)), "1d 01:01:01");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("日本語", 5), "日本…");
        assert_eq!(right("7", 3), "  7");
    }

    #[test]
    fn middle_cuts_keep_both_ends() {
        assert_eq!(fit_middle("tls-selfsigned-a", 14), "tls-sel…gned-a");
        assert_eq!(fit_middle("tls-selfsigned-b", 12), "tls-se…ned-b");
        assert_eq!(fit_middle("short", 8), "short   ");
        assert_eq!(fit_middle("abcdefgh", 3), "ab…");
        // Wide characters never overflow the column: padded where one does not fit.
        assert_eq!(fit_middle("日本語のなまえ", 8), "日本…え ");
        for width in 0..20 {
            let cut = fit_middle("checkout-service-eu-west", width);
            assert_eq!(cut.width(), width, "{cut:?}");
        }
    }

    #[test]
    fn axis_labels_and_clock_times() {
        assert_eq!(axis_ms(0.0), "0");
        assert_eq!(axis_ms(2.5), "2.5");
        assert_eq!(axis_ms(1.25), "1.25");
        assert_eq!(axis_ms(250.0), "250");
        assert_eq!(axis_ms(20_000.0), "20.0s");
        assert_eq!(short_duration(45.0), "45s");
        assert_eq!(short_duration(300.0), "5m");
        assert_eq!(short_duration(450.0), "7m30s");
        assert_eq!(short_duration(3600.0), "1h");
        assert_eq!(short_duration(8100.0), "2h15m");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3723);
        assert_eq!(utc_clock(at), "01:02:03");
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(utc_clock(before), "--:--:--");
        assert_eq!(utc_date(SystemTime::UNIX_EPOCH), "1970-01-01");
        assert_eq!(utc_date(at), "1970-01-04");
        assert_eq!(utc_date(before), "----------");
        // 2026-11-21T22:45:00Z, a leap day and the day after it.
        let day = |secs: u64| utc_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(day(1_795_301_100), "2026-11-21");
        assert_eq!(day(951_782_400), "2000-02-29");
        assert_eq!(day(951_868_800), "2000-03-01");
    }
}
