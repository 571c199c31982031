//! The detail view of one endpoint: latency over time (`chart`), the percentile
//! curve (`percentiles`), counts and the latest errors (`counts`), and the
//! endpoint's settings and expectations (`settings`); with room, also where the
//! time goes per phase (`phases`), the certificate and the state changes
//! (`health`).
//!
//! Panels are dropped, lowest priority first, when the terminal is too small for
//! them, so the view stays readable from 40×8 up; the extras go before the core
//! panels shrink (`layout`, `panels`). On wide terminals the panels sit in two
//! columns. The view only draws `DetailData`: no clock, no I/O, nothing expensive.

mod chart;
mod counts;
mod health;
mod layout;
mod panels;
mod percentiles;
mod phases;
mod settings;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span as TextSpan};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::format::fit;
use super::keymap;
use super::model::DetailData;
use super::sanitize::clean;
use super::state::{Mode, UiState};
use super::theme::Theme;
use super::widgets::{clip, footer_spans, message, reset_question};
use crate::config::{Endpoint, ProbeKind};
use crate::stats::State;
use health::{degraded_reason, has_certificate};
use panels::{draw_one_column, draw_text_panel, draw_two_columns};
use settings::settings_lines;

/// From this width on, the panels sit in two columns.
const TWO_COLUMNS_FROM: u16 = 80;

/// Draws the detail of `endpoint` into `area`; `data` is `None` until it has come,
/// `paused` whether probing is paused.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &UiState,
    paused: bool,
    data: Option<&DetailData>,
    endpoint: &Endpoint,
    theme: &Theme,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let width = area.width as usize;
    frame.render_widget(
        Paragraph::new(title_line(paused, data, endpoint, theme, width)),
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
        settings: settings_lines(
            endpoint,
            data.and_then(|d| d.last_response),
            data.and_then(|d| d.file_interval),
            theme,
        ),
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
    paused: bool,
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
    if paused {
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
    let mut spans = footer_spans(keymap::detail_footer(), theme);
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
    if let Mode::ConfirmReset(_) = state.mode {
        return Some(reset_question(theme, width));
    }
    let status = state.status.as_ref()?;
    Some(clip(vec![message(status, theme)], width))
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
