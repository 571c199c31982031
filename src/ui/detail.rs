//! The detail view of one endpoint (placeholder until the full view lands).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

use super::model::DetailData;
use super::state::UiState;
use super::theme::Theme;
use crate::config::Endpoint;

/// Draws the detail of `endpoint` into `area`.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    _state: &UiState,
    data: Option<&DetailData>,
    endpoint: &Endpoint,
    _theme: &Theme,
) {
    let text = format!("{} {:?}", endpoint.name, data.map(|d| d.counts));
    frame.render_widget(Paragraph::new(text), area);
}
