//! How the detail view lays its panels out: what each wants, one column or two,
//! and drawing each in the rows it got.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Ctx;
use super::chart::draw_chart;
use super::counts::{COUNTS_HEADING, WRAP, counts_lines, error_lines, latest_error_rows};
use super::health::{certificate_lines, transition_lines};
use super::layout::{Panel, Want, allocate, height_of};
use super::percentiles::percentile_lines;
use super::phases;
use crate::config::ProbeKind;
use crate::ui::model::{DetailData, Span};
use crate::ui::theme::Theme;
use crate::ui::widgets::clip;

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

/// Rows of the latest error the errors panel wants before other panels grow.
const LATEST_ERROR_PREF: u16 = 6;

/// The errors panel: its heading, the latest error wrapped in full (as much of it as
/// [`LATEST_ERROR_PREF`] before other panels grow), one line for each older one.
fn want_errors(data: &DetailData, width: u16, cap: u16, grow: u8) -> Want {
    let latest = latest_error_rows(data, width);
    let older = data.recent_errors.len().saturating_sub(1).min(100) as u16;
    let max = 1 + latest + older;
    let pref = max.min(cap.max(2)).max(1 + latest.min(LATEST_ERROR_PREF));
    Want::core(Panel::Errors, 2, pref.min(max), max, grow)
}

fn want_settings(ctx: &Ctx<'_>, pref_cap: u16, grow: u8) -> Want {
    let max = 1 + ctx.settings.len().min(100) as u16;
    Want::core(Panel::Settings, 2, max.min(pref_cap.max(2)), max, grow)
}

/// The phases panel, whole or not at all (a table without its rows says nothing);
/// only its bar may be left out.
fn want_phases(data: &DetailData, ctx: &Ctx<'_>, grow: u8) -> Want {
    let full = phases::height(data, ctx.kind);
    let min = phases::min_height(data, ctx.kind);
    Want::core(Panel::Phases, min, full, full, grow).late()
}

/// The certificate panel, for endpoints with TLS; `None` for the others.
fn want_certificate(ctx: &Ctx<'_>, grow: u8) -> Option<Want> {
    ctx.certificate
        .then(|| Want::core(Panel::Certificate, 2, 2, 2, grow).late())
}

fn want_transitions(data: &DetailData, grow: u8) -> Want {
    let max = 1 + (data.transitions.len() + data.alerts.len()).clamp(1, 100) as u16;
    Want::core(Panel::Transitions, 2, max.min(TRANSITIONS_PREF), max, grow).late()
}

/// Narrow terminals: one column, the most telling panels first. The percentiles fit
/// in one line when room is short, so the chart grows first: three rows of chart
/// say little, three percentile bars say most of what nine do. The extras, settings
/// included, come after the core panels.
pub(super) fn draw_one_column(frame: &mut Frame<'_>, area: Rect, data: &DetailData, ctx: &Ctx<'_>) {
    let mut wants = vec![
        want_counts(ctx, 0),
        want_percentiles(data, 2),
        want_chart(10, 1),
        want_errors(data, area.width, 6, 3),
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
pub(super) fn draw_two_columns(
    frame: &mut Frame<'_>,
    area: Rect,
    data: &DetailData,
    ctx: &Ctx<'_>,
) {
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
        want_errors(data, left.width, (left.height / 3).max(3), 1),
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
            draw_text_panel(frame, rect, COUNTS_HEADING, counts_lines(data, ctx), theme);
        }
        Panel::Percentiles => {
            let heading = format!("latency percentiles, {} (ms)", span_text(data.span));
            let lines = percentile_lines(&data.percentiles, rows, width, theme);
            draw_text_panel(frame, rect, &heading, lines, theme);
        }
        Panel::Errors => {
            // Wrapped: the latest error in full; the older ones are cut to fit a row.
            let lines = error_lines(data, width, rows, theme);
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(WRAP)
                    .block(panel_block("latest errors, newest first (UTC)", theme)),
                rect,
            );
        }
        Panel::Settings => {
            draw_text_panel(frame, rect, "settings", ctx.settings.clone(), theme);
        }
        Panel::Phases => {
            let heading = phases::heading(data, &span_text(data.span), width);
            let lines = phases::lines(data, ctx.kind, width, theme);
            draw_text_panel(frame, rect, &heading, lines, theme);
        }
        Panel::Certificate => {
            let lines = certificate_lines(data, width, theme);
            draw_text_panel(frame, rect, "certificate", lines, theme);
        }
        Panel::Transitions => {
            let mut lines = transition_lines(&data.transitions, data.taken_at, theme);
            let heading = if data.alerts.is_empty() {
                "state changes, newest first (UTC)"
            } else {
                // The deliveries first: they say whether anyone was told.
                let mut alerts = alert_lines(data, width, theme);
                alerts.append(&mut lines);
                lines = alerts;
                "alerts and state changes, newest first (UTC)"
            };
            draw_text_panel(frame, rect, heading, lines, theme);
        }
    }
}

/// The latest alert deliveries: time of day, then what went where and how it ended.
fn alert_lines(data: &DetailData, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    data.alerts
        .iter()
        .map(|(at, text, delivered)| {
            let style = if *delivered {
                theme.dim()
            } else {
                theme.failure()
            };
            clip(
                vec![
                    TextSpan::styled(
                        format!("{} ", crate::ui::format::utc_clock(*at)),
                        theme.dim(),
                    ),
                    // Already sanitised by the model.
                    TextSpan::styled(text.clone(), style),
                ],
                width,
            )
        })
        .collect()
}

/// A panel's frame: a rule with its heading on top.
pub(super) fn panel_block(heading: &str, theme: &Theme) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(theme.dim())
        .title(TextSpan::styled(format!(" {heading} "), theme.title()))
}

pub(super) fn draw_text_panel(
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
