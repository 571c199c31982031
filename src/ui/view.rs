//! The whole frame: picks the screen, draws overlays, and handles tiny terminals.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::keymap::{self, Action};
use super::model::{DetailData, OverviewData};
use super::state::{Mode, Screen, UiState};
use super::theme::Theme;
use super::{detail, help, overview};
use crate::config::Endpoint;

/// The smallest terminal the dashboard draws in.
pub const MIN_WIDTH: u16 = 40;
/// The smallest terminal height the dashboard draws in.
pub const MIN_HEIGHT: u16 = 8;

/// Everything one frame shows.
pub struct ViewInput<'a> {
    /// The dashboard state.
    pub state: &'a UiState,
    /// The overview data.
    pub data: &'a OverviewData,
    /// The detail data, when the detail view is open and its data has come.
    pub detail: Option<&'a DetailData>,
    /// The endpoints' settings, in config order.
    pub endpoints: &'a [Endpoint],
    /// Probes per second over the last refresh, once known.
    pub rate: Option<f64>,
    /// Whether probing is paused (as the engine has it).
    pub paused: bool,
    /// Colours.
    pub theme: Theme,
}

/// What the frame learned about the layout, for scrolling and mouse clicks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Table rows that fit.
    pub page: usize,
    /// Screen row of the first table row.
    pub table_top: u16,
}

/// Draws one frame.
pub fn draw(frame: &mut Frame<'_>, input: &ViewInput<'_>) -> Option<FrameLayout> {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area);
        return None;
    }
    let layout = match input.state.screen() {
        Screen::Overview => {
            let (page, table_top) = overview::draw(
                frame,
                area,
                input.state,
                input.data,
                input.rate,
                input.paused,
                &input.theme,
            );
            Some(FrameLayout { page, table_top })
        }
        Screen::Detail(index) => {
            if let Some(endpoint) = input.endpoints.get(index) {
                let detail = input.detail.filter(|d| d.index == index);
                detail::draw(
                    frame,
                    area,
                    input.state,
                    input.paused,
                    detail,
                    endpoint,
                    &input.theme,
                );
            }
            None
        }
    };
    if let Mode::Help(_) = input.state.mode {
        help::draw(frame, area, input.state, &input.theme);
    }
    layout
}

fn draw_too_small(frame: &mut Frame<'_>, area: Rect) {
    let text = format!(
        "probetop: terminal too small ({}×{}); needs {MIN_WIDTH}×{MIN_HEIGHT}. {} quits.",
        area.width,
        area.height,
        keymap::first_key(Mode::Overview, Action::Quit)
    );
    frame.render_widget(
        Paragraph::new(Line::raw(text)).wrap(Wrap { trim: true }),
        area,
    );
}
