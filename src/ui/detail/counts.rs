//! The detail view's counts (probes, status codes, error classes) and its latest
//! errors.

use ratatui::style::Style;
use ratatui::text::{Line, Span as TextSpan};

use super::Ctx;
use crate::config::ProbeKind;
use crate::ui::format::{count, fit, utc_clock};
use crate::ui::model::DetailData;
use crate::ui::theme::Theme;
use crate::ui::widgets::clip;

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

/// The latest errors, newest first, with their UTC time of day.
pub(super) fn error_lines(data: &DetailData, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    if data.recent_errors.is_empty() {
        return vec![Line::styled("none", theme.dim())];
    }
    data.recent_errors
        .iter()
        .map(|(at, text)| {
            clip(
                vec![
                    TextSpan::styled(format!("{} ", utc_clock(*at)), theme.dim()),
                    // Already sanitised by the model.
                    TextSpan::raw(text.clone()),
                ],
                width,
            )
        })
        .collect()
}
