//! Number and text formatting shared by the views.

use std::time::Duration;

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

/// `text` right-aligned in `width` columns (cut with `fit` when too long).
pub fn right(text: &str, width: usize) -> String {
    if text.width() >= width {
        fit(text, width)
    } else {
        format!("{}{text}", " ".repeat(width - text.width()))
    }
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
}
