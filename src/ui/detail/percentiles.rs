//! The detail view's percentile curve: a bar per percentile, or one line of the
//! main ones when room is short.

use ratatui::text::{Line, Span as TextSpan};

use crate::ui::format::{fit, ms, right};
use crate::ui::theme::Theme;
use crate::ui::widgets::clip;

/// Width of a percentile label (`p99.99`).
const LABEL_WIDTH: usize = 6;
/// The percentiles in order of importance: with little room, the first ones are shown.
const IMPORTANCE: [f64; 9] = [100.0, 50.0, 99.0, 90.0, 99.9, 0.0, 95.0, 75.0, 99.99];
/// The percentiles of the one-line summary, in display order.
const SUMMARY: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 100.0];
/// Eighth blocks, for bars with sub-cell resolution.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// `p50`, `p99.9`; `min` and `max` for the ends.
fn percentile_label(p: f64) -> String {
    if p <= 0.0 {
        "min".to_string()
    } else if p >= 100.0 {
        "max".to_string()
    } else {
        format!("p{p}")
    }
}

/// The percentile curve in `rows` lines: one line of the main percentiles when there
/// is a single row, else a bar per percentile (the most important ones when not all
/// fit), scaled to the maximum.
pub(super) fn percentile_lines(
    percentiles: &[(f64, f64)],
    rows: usize,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if percentiles.is_empty() {
        return vec![Line::styled("no complete response yet", theme.dim())];
    }
    if rows <= 1 {
        return vec![percentile_summary(percentiles, width, theme)];
    }
    let chosen: Vec<f64> = IMPORTANCE.iter().take(rows).copied().collect();
    let max = percentiles.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let bar_width = width.saturating_sub(LABEL_WIDTH + 1 + 6 + 1);
    percentiles
        .iter()
        .filter(|(p, _)| chosen.iter().any(|c| (c - p).abs() < 1e-9))
        .map(|&(p, value)| {
            Line::from(vec![
                TextSpan::styled(fit(&percentile_label(p), LABEL_WIDTH), theme.dim()),
                TextSpan::raw(format!(" {} ", right(&ms(value), 6))),
                TextSpan::styled(bar(value, max, bar_width), theme.latency()),
            ])
        })
        .collect()
}

/// `p50 1.10  p90 1.60  p99 3.00  p99.9 4.20  max 4.20`, leaving out the middle
/// percentiles first when the line is too long.
fn percentile_summary(percentiles: &[(f64, f64)], width: usize, theme: &Theme) -> Line<'static> {
    let value_of = |p: f64| {
        percentiles
            .iter()
            .find(|(q, _)| (q - p).abs() < 1e-9)
            .map(|(_, v)| *v)
    };
    let build = |skip: &[f64]| -> Vec<TextSpan<'static>> {
        let mut spans = Vec::new();
        for p in SUMMARY.iter().filter(|p| !skip.contains(p)) {
            if let Some(v) = value_of(*p) {
                spans.push(TextSpan::styled(
                    format!("{} ", percentile_label(*p)),
                    theme.dim(),
                ));
                spans.push(TextSpan::raw(format!("{}  ", ms(v))));
            }
        }
        spans
    };
    let fits = |spans: &Vec<TextSpan<'static>>| {
        spans.iter().map(|s| s.width()).sum::<usize>() <= width + 2
    };
    let spans = [&[][..], &[99.9], &[99.9, 90.0]]
        .into_iter()
        .map(build)
        .find(fits)
        .unwrap_or_else(|| build(&[99.9, 90.0]));
    clip(spans, width)
}

/// A bar of `value` out of `max` in `width` cells, in eighths of a cell; never empty
/// for a positive value, so small values still show.
fn bar(value: f64, max: f64, width: usize) -> String {
    if width == 0 || max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let eighths = ((value / max * (width * 8) as f64).round() as usize).clamp(1, width * 8);
    let mut out = "█".repeat(eighths / 8);
    if let Some(part) = (eighths % 8).checked_sub(1) {
        out.push(EIGHTHS[part]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_labels() {
        assert_eq!(bar(10.0, 10.0, 3), "███");
        assert_eq!(bar(5.0, 10.0, 3), "█▌");
        assert_eq!(bar(0.001, 10.0, 3), "▏");
        assert_eq!(bar(0.0, 10.0, 3), "");
        assert_eq!(percentile_label(99.9), "p99.9");
        assert_eq!(percentile_label(50.0), "p50");
        assert_eq!(percentile_label(100.0), "max");
    }
}
