//! The detail view's counts (probes, status codes, error classes) and its latest
//! errors, the newest in full.

use ratatui::style::Style;
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::{Paragraph, Wrap};

use super::Ctx;
use crate::config::ProbeKind;
use crate::ui::format::{count, fit, utc_clock};
use crate::ui::model::DetailData;
use crate::ui::theme::Theme;
use crate::ui::widgets::clip;

/// The counts panel's heading: its counts are all-time whatever the window (the
/// title's `window 5m` is the span of the latency panels).
pub(super) const COUNTS_HEADING: &str = "counts, all-time";

/// Width of the key column of the counts panel.
const COUNT_KEY_WIDTH: usize = 7;

/// A dim key of the counts panel, whose keys are short and whose lines are long.
fn count_key(name: &str, theme: &Theme) -> TextSpan<'static> {
    TextSpan::styled(fit(name, COUNT_KEY_WIDTH), theme.dim())
}

/// Probes, then status codes, then error classes: as many lines as fit.
pub(super) fn counts_lines(data: &DetailData, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let [probes, ok, failed, skipped] = data.counts;
    let flagged = |n: u64, style: Style| if n > 0 { style } else { Style::new() };
    let mut probes_line = Line::from(vec![
        count_key("probes", theme),
        TextSpan::raw(count(probes)),
        TextSpan::raw("  ok "),
        TextSpan::raw(count(ok)),
        TextSpan::raw("  failed "),
        TextSpan::styled(count(failed), flagged(failed, theme.failure())),
        TextSpan::raw("  skipped "),
        TextSpan::styled(count(skipped), flagged(skipped, theme.warning())),
    ]);
    // Only a run with canaries can excuse a probe: shown once one was.
    if data.excused > 0 {
        probes_line.push_span(TextSpan::raw("  excused "));
        probes_line.push_span(TextSpan::styled(count(data.excused), theme.warning()));
    }
    let mut lines = vec![probes_line];
    // tcp:// and tls:// probes get no status code: "no response yet" would mislead.
    if ctx.kind == ProbeKind::Http {
        lines.push(status_line_of(data, ctx));
    }
    let mut errors = vec![count_key("errors", theme)];
    if data.errors.is_empty() {
        errors.push(TextSpan::styled("none", theme.dim()));
    }
    for (class, n) in &data.errors {
        errors.push(TextSpan::styled(
            format!("{class} {}", count(*n)),
            theme.failure(),
        ));
        errors.push(TextSpan::raw("  "));
    }
    lines.push(Line::from(errors));
    lines
}

/// Responses by status code, the unexpected ones in the failure style.
fn status_line_of(data: &DetailData, ctx: &Ctx<'_>) -> Line<'static> {
    let theme = ctx.theme;
    let mut codes = vec![count_key("status", theme)];
    if data.status_codes.is_empty() {
        codes.push(TextSpan::styled("no response yet", theme.dim()));
    }
    for (code, n) in &data.status_codes {
        let style = if ctx.endpoint.expect.accepts_status(*code) {
            Style::new()
        } else {
            theme.failure()
        };
        codes.push(TextSpan::styled(format!("{code}×{}", count(*n)), style));
        codes.push(TextSpan::raw("  "));
    }
    Line::from(codes)
}

/// The latest errors, newest first, with their UTC time of day: the latest in full
/// when `rows` hold it wrapped ([`latest_error_rows`]; the panel wraps it), the
/// older ones (and a latest that does not fit) cut to one line each, so that a cut
/// shows as one.
pub(super) fn error_lines(
    data: &DetailData,
    width: usize,
    rows: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let whole = usize::from(latest_error_rows(data, width as u16)) <= rows;
    if data.recent_errors.is_empty() {
        return vec![Line::styled("none", theme.dim())];
    }
    data.recent_errors
        .iter()
        .enumerate()
        .map(|(i, (at, text))| {
            let spans = vec![
                TextSpan::styled(format!("{} ", utc_clock(*at)), theme.dim()),
                // Already sanitised by the model.
                TextSpan::styled(
                    text.clone(),
                    if i == 0 {
                        theme.failure()
                    } else {
                        Style::new()
                    },
                ),
            ];
            if i == 0 && whole {
                Line::from(spans)
            } else {
                clip(spans, width)
            }
        })
        .collect()
}

/// The rows the latest error takes, wrapped at `width` (1 without errors).
pub(super) fn latest_error_rows(data: &DetailData, width: u16) -> u16 {
    let Some((at, text)) = data.recent_errors.first() else {
        return 1;
    };
    let line = Line::raw(format!("{} {text}", utc_clock(*at)));
    let rows = Paragraph::new(line).wrap(WRAP).line_count(width.max(1));
    u16::try_from(rows).unwrap_or(u16::MAX).max(1)
}

/// How the errors panel wraps: words kept whole where they fit, spaces kept (the
/// message is shown as it is).
pub(super) const WRAP: Wrap = Wrap { trim: false };
