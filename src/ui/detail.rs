//! The detail view of one endpoint: latency over time, the percentile curve, counts,
//! the latest errors, and the endpoint's settings and expectations; with room, also
//! where the time goes per phase (`detail_phases`), the certificate and the
//! state changes (`detail_health`).
//!
//! Panels are dropped, lowest priority first, when the terminal is too small for
//! them, so the view stays readable from 40×8 up; the extras go before the core
//! panels shrink (`detail_layout`). On wide terminals the panels sit in two
//! columns. The view only draws `DetailData`: no clock, no I/O, nothing expensive.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::detail_health::{certificate_lines, degraded_reason, has_certificate, transition_lines};
use super::detail_layout::{Panel, Want, allocate, height_of};
use super::detail_phases;
use super::detail_settings::settings_lines;
use super::format::{axis_ms, count, fit, ms, right, short_duration, utc_clock};
use super::model::{DetailData, Span};
use super::overview::{clip, footer};
use super::sanitize::clean;
use super::sparkline::FAILURE_MARK;
use super::state::UiState;
use super::theme::Theme;
use crate::config::{Endpoint, ProbeKind};
use crate::stats::State;

/// From this width on, the panels sit in two columns.
const TWO_COLUMNS_FROM: u16 = 80;
/// Width of the key column of the counts panel.
const COUNT_KEY_WIDTH: usize = 7;
/// Width of a percentile label (`p99.99`).
const LABEL_WIDTH: usize = 6;
/// The percentiles in order of importance: with little room, the first ones are shown.
const IMPORTANCE: [f64; 9] = [100.0, 50.0, 99.0, 90.0, 99.9, 0.0, 95.0, 75.0, 99.99];
/// The percentiles of the one-line summary, in display order.
const SUMMARY: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 100.0];
/// Eighth blocks, for bars with sub-cell resolution.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// Draws the detail of `endpoint` into `area`; `data` is `None` until it has come.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &UiState,
    data: Option<&DetailData>,
    endpoint: &Endpoint,
    theme: &Theme,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let width = area.width as usize;
    frame.render_widget(
        Paragraph::new(title_line(state, data, endpoint, theme, width)),
        row(area, 0),
    );
    // Bottom up: the footer always, the status line when there is something to say.
    let mut bottom = area.height;
    if bottom > 1 {
        bottom -= 1;
        frame.render_widget(Paragraph::new(footer_line(theme, width)), row(area, bottom));
    }
    if let Some(status) = status_line(state, theme, width)
        && bottom > 1
    {
        bottom -= 1;
        frame.render_widget(Paragraph::new(status), row(area, bottom));
    }
    let body = Rect {
        y: area.y + 1,
        height: bottom.saturating_sub(1),
        ..area
    };
    let ctx = Ctx {
        endpoint,
        theme,
        settings: settings_lines(endpoint, theme),
        kind: endpoint.kind(),
        certificate: data.is_some_and(|d| has_certificate(endpoint, d)),
    };
    match data {
        None => draw_loading(frame, body, &ctx),
        Some(data) if area.width >= TWO_COLUMNS_FROM => draw_two_columns(frame, body, data, &ctx),
        Some(data) => draw_one_column(frame, body, data, &ctx),
    }
}

/// What every panel may need besides the data.
struct Ctx<'a> {
    endpoint: &'a Endpoint,
    theme: &'a Theme,
    /// Computed once: the settings panel's height depends on them.
    settings: Vec<Line<'static>>,
    /// What a probe does: which phases apply.
    kind: ProbeKind,
    /// Whether the certificate panel applies.
    certificate: bool,
}

/// One row of `area`.
fn row(area: Rect, y: u16) -> Rect {
    Rect {
        y: area.y + y,
        height: 1,
        ..area
    }
}

/// Symbol, name, state, span, and the warnings that must not be missed.
fn title_line(
    state: &UiState,
    data: Option<&DetailData>,
    endpoint: &Endpoint,
    theme: &Theme,
    width: usize,
) -> Line<'static> {
    let shown = data.map_or(State::Unknown, |d| d.state);
    let mut rest = vec![TextSpan::raw("  ")];
    match data {
        Some(d) => {
            rest.push(TextSpan::styled(shown.as_str(), theme.state(shown)));
            rest.push(TextSpan::raw(format!("  window {}", d.span.label())));
        }
        None => rest.push(TextSpan::styled("loading…", theme.dim())),
    }
    if state.paused {
        rest.push(TextSpan::styled("  PAUSED", theme.warning()));
    }
    if endpoint.insecure {
        rest.push(TextSpan::styled(
            "  INSECURE (any certificate accepted)",
            theme.warning(),
        ));
    }
    let name = clean(&endpoint.name);
    let width_of = |spans: &[TextSpan<'static>]| spans.iter().map(|s| s.width()).sum::<usize>();
    // Why a degraded endpoint is degraded, right after the state, but only when it
    // fits whole: the warnings after it are said nowhere else, while the certificate
    // panel and the max_latency in the settings tell the reason too.
    if let Some(reason) = data.and_then(|d| degraded_reason(d, endpoint)) {
        let reason = TextSpan::styled(format!(": {reason}"), theme.state(shown));
        if width_of(&rest) + reason.width() + 2 + name.width().min(12) <= width {
            rest.insert(2, reason);
        }
    }
    // The name gives way first, so a long one cannot push the warnings off screen.
    let name_room = width.saturating_sub(width_of(&rest) + 2).max(12);
    let name = fit(&name, name_room).trim_end().to_string();
    let mut spans = vec![
        TextSpan::styled(format!("{} ", Theme::symbol(shown)), theme.state(shown)),
        TextSpan::styled(name, theme.title()),
    ];
    spans.extend(rest);
    clip(spans, width)
}

/// The overview's keys, after the one key that matters most here.
fn footer_line(theme: &Theme, width: usize) -> Line<'static> {
    let mut spans = vec![
        TextSpan::styled("Esc", theme.key()),
        TextSpan::raw(" back  "),
    ];
    spans.extend(footer(theme, width).spans);
    // The last key's trailing gap would otherwise be cut into an ellipsis.
    if let Some(last) = spans.last_mut() {
        *last = TextSpan::styled(last.content.trim_end().to_string(), last.style);
    }
    // Whole keys only: spans alternate key, meaning; a cut meaning or a key without
    // one tells nothing.
    let mut used = 0;
    let fitting = spans
        .iter()
        .take_while(|s| {
            used += s.width();
            used <= width
        })
        .count();
    spans.truncate(fitting - fitting % 2);
    Line::from(spans)
}

/// The reset question or the latest message, if any (keys work here too, so their
/// answers must show here too).
fn status_line(state: &UiState, theme: &Theme, width: usize) -> Option<Line<'static>> {
    if state.confirm_reset {
        return Some(Line::styled(
            fit(
                "Reset all statistics? y or Enter = yes, any other key = no",
                width,
            ),
            theme.warning(),
        ));
    }
    let status = state.status.as_ref()?;
    let style = if status.is_error {
        theme.failure()
    } else {
        Style::new()
    };
    Some(clip(
        vec![TextSpan::styled(status.text.clone(), style)],
        width,
    ))
}

/// Before the first data: say so, and show the settings, which need no data.
fn draw_loading(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
    if area.height == 0 {
        return;
    }
    frame.render_widget(
        Paragraph::new(Line::styled("loading…", ctx.theme.dim())),
        row(area, 0),
    );
    let rest = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if rest.height >= 2 {
        draw_text_panel(frame, rest, "settings", ctx.settings.clone(), ctx.theme);
    }
}

/// Rows of the percentiles panel before other panels grow: its heading and the five
/// most important percentiles.
const PERCENTILES_PREF: u16 = 6;
/// Rows of the state changes panel before other panels grow: heading and three.
const TRANSITIONS_PREF: u16 = 4;
/// Rows of the settings panel in the right column before the percentiles grow.
const SETTINGS_PREF: u16 = 8;

fn want_counts(ctx: &Ctx<'_>, grow: u8) -> Want {
    // Heading, probes, status codes (HTTP only), errors.
    let full = if ctx.kind == ProbeKind::Http { 4 } else { 3 };
    Want::core(Panel::Counts, 2, full, full, grow)
}

fn want_percentiles(data: &DetailData, grow: u8) -> Want {
    let max = if data.percentiles.is_empty() {
        2
    } else {
        1 + data.percentiles.len() as u16
    };
    Want::core(Panel::Percentiles, 2, max.min(PERCENTILES_PREF), max, grow)
}

fn want_chart(pref: u16, grow: u8) -> Want {
    Want::core(Panel::Chart, 6, pref, u16::MAX, grow)
}

fn want_errors(data: &DetailData, cap: u16, grow: u8) -> Want {
    let max = 1 + data.recent_errors.len().clamp(1, 100) as u16;
    Want::core(Panel::Errors, 2, max.min(cap.max(2)), max, grow)
}

fn want_settings(ctx: &Ctx<'_>, pref_cap: u16, grow: u8) -> Want {
    let max = 1 + ctx.settings.len().min(100) as u16;
    Want::core(Panel::Settings, 2, max.min(pref_cap.max(2)), max, grow)
}

/// The phases panel, whole or not at all (a table without its rows says nothing);
/// only its bar may be left out.
fn want_phases(data: &DetailData, ctx: &Ctx<'_>, grow: u8) -> Want {
    let full = detail_phases::height(data, ctx.kind);
    let min = detail_phases::min_height(data, ctx.kind);
    Want::core(Panel::Phases, min, full, full, grow).late()
}

/// The certificate panel, for endpoints with TLS; `None` for the others.
fn want_certificate(ctx: &Ctx<'_>, grow: u8) -> Option<Want> {
    ctx.certificate
        .then(|| Want::core(Panel::Certificate, 2, 2, 2, grow).late())
}

fn want_transitions(data: &DetailData, grow: u8) -> Want {
    let max = 1 + data.transitions.len().clamp(1, 100) as u16;
    Want::core(Panel::Transitions, 2, max.min(TRANSITIONS_PREF), max, grow).late()
}

/// Narrow terminals: one column, the most telling panels first. The percentiles fit
/// in one line when room is short, so the chart grows first: three rows of chart
/// say little, three percentile bars say most of what nine do. The extras, settings
/// included, come after the core panels.
fn draw_one_column(frame: &mut Frame<'_>, area: Rect, data: &DetailData, ctx: &Ctx<'_>) {
    let mut wants = vec![
        want_counts(ctx, 0),
        want_percentiles(data, 2),
        want_chart(10, 1),
        want_errors(data, 6, 3),
    ];
    wants.extend(want_certificate(ctx, 4));
    wants.extend([
        want_phases(data, ctx, 5),
        want_transitions(data, 6),
        want_settings(ctx, u16::MAX, 7).late(),
    ]);
    let order = [
        Panel::Counts,
        Panel::Certificate,
        Panel::Chart,
        Panel::Percentiles,
        Panel::Phases,
        Panel::Errors,
        Panel::Transitions,
        Panel::Settings,
    ];
    stack(
        frame,
        area,
        &order,
        &allocate(area.height, &wants),
        data,
        ctx,
    );
}

/// Wide terminals: on the left the time (latency over time, where it goes, the
/// latest errors), on the right the numbers, the certificate, the state changes and
/// the settings.
fn draw_two_columns(frame: &mut Frame<'_>, area: Rect, data: &DetailData, ctx: &Ctx<'_>) {
    // Wide enough for the counts line and the settings at 100 columns.
    let right_width = (area.width * 9 / 20).clamp(36, 60);
    let left = Rect {
        width: area.width - right_width - 1,
        ..area
    };
    let right = Rect {
        x: area.x + area.width - right_width,
        width: right_width,
        ..area
    };
    // The chart gets three sevenths of the column before the phases get any, and
    // everything they leave.
    let left_wants = [
        want_chart((left.height * 3 / 7).max(8), 0),
        want_errors(data, (left.height / 3).max(3), 1),
        want_phases(data, ctx, 2),
    ];
    let order = [Panel::Chart, Panel::Phases, Panel::Errors];
    stack(
        frame,
        left,
        &order,
        &allocate(left.height, &left_wants),
        data,
        ctx,
    );
    // The settings grow to their full length before the last percentile rows, after
    // the extras got their share.
    let mut right_wants = vec![
        want_counts(ctx, 0),
        want_percentiles(data, 2),
        want_settings(ctx, SETTINGS_PREF, 1),
    ];
    right_wants.extend(want_certificate(ctx, 3));
    right_wants.push(want_transitions(data, 4));
    let order = [
        Panel::Counts,
        Panel::Certificate,
        Panel::Percentiles,
        Panel::Transitions,
        Panel::Settings,
    ];
    stack(
        frame,
        right,
        &order,
        &allocate(right.height, &right_wants),
        data,
        ctx,
    );
}

/// Draws the panels of `order` top to bottom with their allocated heights.
fn stack(
    frame: &mut Frame<'_>,
    area: Rect,
    order: &[Panel],
    heights: &[(Panel, u16)],
    data: &DetailData,
    ctx: &Ctx<'_>,
) {
    let mut y = area.y;
    for &panel in order {
        let height = height_of(heights, panel);
        if height == 0 {
            continue;
        }
        let rect = Rect { y, height, ..area };
        y += height;
        draw_panel(frame, rect, panel, data, ctx);
    }
}

fn draw_panel(frame: &mut Frame<'_>, rect: Rect, panel: Panel, data: &DetailData, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let width = rect.width as usize;
    let rows = rect.height.saturating_sub(1) as usize;
    match panel {
        Panel::Chart => draw_chart(frame, rect, data, theme),
        Panel::Counts => {
            draw_text_panel(frame, rect, "counts", counts_lines(data, ctx), theme);
        }
        Panel::Percentiles => {
            let heading = format!("latency percentiles, {} (ms)", span_text(data.span));
            let lines = percentile_lines(&data.percentiles, rows, width, theme);
            draw_text_panel(frame, rect, &heading, lines, theme);
        }
        Panel::Errors => {
            let lines = error_lines(data, width, theme);
            draw_text_panel(
                frame,
                rect,
                "latest errors, newest first (UTC)",
                lines,
                theme,
            );
        }
        Panel::Settings => {
            draw_text_panel(frame, rect, "settings", ctx.settings.clone(), theme);
        }
        Panel::Phases => {
            let heading = detail_phases::heading(data, &span_text(data.span), width);
            let lines = detail_phases::lines(data, ctx.kind, width, theme);
            draw_text_panel(frame, rect, &heading, lines, theme);
        }
        Panel::Certificate => {
            let lines = certificate_lines(data, width, theme);
            draw_text_panel(frame, rect, "certificate", lines, theme);
        }
        Panel::Transitions => {
            let lines = transition_lines(&data.transitions, data.taken_at, theme);
            draw_text_panel(
                frame,
                rect,
                "state changes, newest first (UTC)",
                lines,
                theme,
            );
        }
    }
}

/// A panel's frame: a rule with its heading on top.
fn panel_block(heading: &str, theme: &Theme) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(theme.dim())
        .title(TextSpan::styled(format!(" {heading} "), theme.title()))
}

fn draw_text_panel(
    frame: &mut Frame<'_>,
    rect: Rect,
    heading: &str,
    lines: Vec<Line<'static>>,
    theme: &Theme,
) {
    let width = rect.width as usize;
    let lines: Vec<Line<'static>> = lines
        .into_iter()
        // Clipping rebuilds the line from its spans: keep the line's own style.
        .map(|line| {
            let style = line.style;
            clip(line.spans, width).style(style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(panel_block(heading, theme)),
        rect,
    );
}

fn span_text(span: Span) -> String {
    match span.duration() {
        Some(_) => format!("last {}", span.label()),
        None => "all-time".to_string(),
    }
}

/// A dim key of the counts panel, whose keys are short and whose lines are long.
fn count_key(name: &str, theme: &Theme) -> TextSpan<'static> {
    TextSpan::styled(fit(name, COUNT_KEY_WIDTH), theme.dim())
}

/// Probes, then status codes, then error classes: as many lines as fit.
fn counts_lines(data: &DetailData, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let [probes, ok, failed, skipped] = data.counts;
    let flagged = |n: u64, style: Style| if n > 0 { style } else { Style::new() };
    let probes_line = Line::from(vec![
        count_key("probes", theme),
        TextSpan::raw(count(probes)),
        TextSpan::raw("  ok "),
        TextSpan::raw(count(ok)),
        TextSpan::raw("  failed "),
        TextSpan::styled(count(failed), flagged(failed, theme.failure())),
        TextSpan::raw("  skipped "),
        TextSpan::styled(count(skipped), flagged(skipped, theme.warning())),
    ]);
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
fn percentile_lines(
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

/// The latest errors, newest first, with their UTC time of day.
fn error_lines(data: &DetailData, width: usize, theme: &Theme) -> Vec<Line<'static>> {
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

/// The time axis in seconds before now: the span, or for all-time the kept history.
fn history_seconds(data: &DetailData) -> f64 {
    match data.span.duration() {
        Some(d) => d.as_secs_f64(),
        None => data
            .series
            .iter()
            .map(|(ago, _, _)| *ago)
            .fold(Span::LONGEST.as_secs_f64(), f64::max),
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (a round axis top).
fn nice_ceiling(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 || value.is_infinite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Latency over time: successful probes as braille points at their latency, failures
/// as marks along the top edge (a failure has no latency, and drawing it as zero
/// would read as a fast probe).
fn draw_chart(frame: &mut Frame<'_>, rect: Rect, data: &DetailData, theme: &Theme) {
    let block = panel_block(
        &format!("latency (ms) over time, {FAILURE_MARK} = failed"),
        theme,
    );
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let history = history_seconds(data);
    let mut ok = Vec::new();
    let mut failed_at = Vec::new();
    for &(ago, latency, success) in &data.series {
        if !(0.0..=history).contains(&ago) {
            continue;
        }
        match (success, latency) {
            (true, Some(latency)) => ok.push((-ago, latency)),
            _ => failed_at.push(-ago),
        }
    }
    // Headroom above the slowest probe keeps the top row for the failure marks.
    let top = nice_ceiling(ok.iter().map(|(_, y)| *y).fold(0.0, f64::max) * 1.15);
    let failed: Vec<(f64, f64)> = failed_at.into_iter().map(|x| (x, top)).collect();
    let datasets = vec![
        Dataset::default()
            .data(&ok)
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.latency()),
        Dataset::default()
            .data(&failed)
            .marker(Marker::Custom(FAILURE_MARK))
            .graph_type(GraphType::Scatter)
            .style(theme.failure()),
    ];
    let x_axis = Axis::default()
        .bounds([-history, 0.0])
        .labels([
            format!("-{}", short_duration(history)),
            format!("-{}", short_duration(history / 2.0)),
            "now".to_string(),
        ])
        .labels_alignment(Alignment::Right)
        .style(theme.dim());
    let y_axis = Axis::default()
        .bounds([0.0, top])
        .labels([axis_ms(0.0), axis_ms(top / 2.0), axis_ms(top)])
        .labels_alignment(Alignment::Right)
        .style(theme.dim());
    let chart = Chart::new(datasets)
        .x_axis(x_axis)
        .y_axis(y_axis)
        .legend_position(None);
    frame.render_widget(chart, inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_axes_and_labels() {
        assert_eq!(bar(10.0, 10.0, 3), "███");
        assert_eq!(bar(5.0, 10.0, 3), "█▌");
        assert_eq!(bar(0.001, 10.0, 3), "▏");
        assert_eq!(bar(0.0, 10.0, 3), "");
        assert_eq!(nice_ceiling(3.4), 5.0);
        assert!((nice_ceiling(0.021) - 0.025).abs() < 1e-12);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(percentile_label(99.9), "p99.9");
        assert_eq!(percentile_label(50.0), "p50");
        assert_eq!(percentile_label(100.0), "max");
    }
}
