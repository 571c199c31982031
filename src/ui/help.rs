//! The help overlay: every key, in a box over the current screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;

/// Every key and what it does.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn", "move a page"),
    ("Home End  g G", "first / last endpoint"),
    ("Enter", "open the detail view"),
    ("Esc", "close the detail view; clear the filter"),
    ("/", "filter by name as you type (Enter keeps, Esc clears)"),
    ("s", "sort: config, name, state, p99, error rate"),
    ("w", "window: 1m, 5m, 15m, all-time"),
    ("p", "pause / resume probing"),
    ("r", "reset statistics (asks first)"),
    ("e", "export a snapshot (JSON and CSV)"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
    ("mouse", "wheel scrolls, click selects"),
];

/// Draws the help box centred in `area`.
pub fn draw(frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
    let key_width = KEYS
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let text_width = KEYS
        .iter()
        .map(|(_, t)| t.chars().count())
        .max()
        .unwrap_or(0);
    let width = ((key_width + text_width + 6) as u16).min(area.width);
    let height = ((KEYS.len() + 4) as u16).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line<'static>> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<key_width$}  "), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("? or Esc closes this help", theme.dim()));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" keys ", theme.title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
