//! The help overlay: every key, in a box over the current screen, read from the key
//! table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::keymap::{self, HelpLine};
use super::theme::Theme;

/// What the mouse does: no key, so not in the key table.
const MOUSE: (&str, &str) = ("mouse", "wheel scrolls, click selects");

/// Draws the help box centred in `area`.
pub fn draw(frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
    let mut keys = keymap::help_lines();
    keys.push(HelpLine {
        keys: MOUSE.0.into(),
        text: MOUSE.1.into(),
    });
    let key_width = keys
        .iter()
        .map(|l| l.keys.chars().count())
        .max()
        .unwrap_or(0);
    let text_width = keys
        .iter()
        .map(|l| l.text.chars().count())
        .max()
        .unwrap_or(0);
    let width = ((key_width + text_width + 6) as u16).min(area.width);
    let height = ((keys.len() + 4) as u16).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line<'static>> = keys
        .into_iter()
        .map(|HelpLine { keys, text }| {
            Line::from(vec![
                Span::styled(format!("{keys:<key_width$}  "), theme.key()),
                Span::raw(text),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(keymap::close_help_hint(), theme.dim()));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" keys ", theme.title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
