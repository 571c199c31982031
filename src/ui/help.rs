//! The help overlay: every key, in a box over the current screen, read from the key
//! table. Lines too long for the box wrap; a box too tall for the terminal scrolls
//! (its keys are the table's too) and says which rows it shows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::keymap::{self, HelpLine};
use super::state::UiState;
use super::theme::Theme;
use super::widgets::clip;
use crate::config::ExportFormat;

/// What the mouse does: no key, so not in the key table.
const MOUSE: (&str, &str) = ("mouse", "wheel scrolls, click selects");

/// Narrower than this, text is cut rather than wrapped into a column of stubs.
const MIN_WRAP: usize = 12;

/// A row of the box: the keys on a line's first row, blank on the rows it wraps to.
struct Row {
    keys: String,
    text: String,
}

/// Where the box goes and what it shows, for a terminal of `area`.
struct Geometry {
    popup: Rect,
    key_width: usize,
    rows: Vec<Row>,
    /// Rows shown at once.
    shown: usize,
    /// Whether the rows do not all fit (then the box scrolls).
    scrolls: bool,
}

fn geometry(area: Rect, formats: &[ExportFormat]) -> Geometry {
    let mut lines = keymap::help_lines_for(formats);
    lines.push(HelpLine {
        keys: MOUSE.0.into(),
        text: MOUSE.1.into(),
    });
    let key_width = lines.iter().map(|l| l.keys.width()).max().unwrap_or(0);
    let text_width = lines.iter().map(|l| l.text.width()).max().unwrap_or(0);
    let width = (key_width + text_width + 6).min(area.width as usize);
    // Two borders, the gap after the keys, and a margin.
    let text_room = width.saturating_sub(key_width + 4);
    let mut rows = Vec::new();
    for HelpLine { keys, text } in lines {
        let wrapped = if text_room >= MIN_WRAP {
            wrap(&text, text_room)
        } else {
            vec![text]
        };
        for (i, text) in wrapped.into_iter().enumerate() {
            let keys = if i == 0 { keys.clone() } else { String::new() };
            rows.push(Row { keys, text });
        }
    }
    let height = area.height as usize;
    // Borders, a blank line and the closing hint; a box that scrolls gives up the
    // blank line.
    let scrolls = rows.len() + 4 > height;
    let (box_height, shown) = if scrolls {
        (height, height.saturating_sub(3))
    } else {
        (rows.len() + 4, rows.len())
    };
    let (width, box_height) = (width as u16, box_height as u16);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - box_height) / 2,
        width,
        height: box_height,
    };
    Geometry {
        popup,
        key_width,
        rows,
        shown,
        scrolls,
    }
}

/// How much of the help a terminal of `area` shows: (rows shown, rows in all), for
/// [`UiState::set_help_room`].
pub fn room(area: Rect, formats: &[ExportFormat]) -> (usize, usize) {
    let g = geometry(area, formats);
    (g.shown, g.rows.len())
}

/// `text` in lines of at most `width` columns, broken between words (a word longer
/// than a line is broken where the line ends).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let gap = usize::from(!line.is_empty());
        if line.width() + gap + word.width() <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if line.width() + c.width().unwrap_or(0) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws the help box centred in `area`, scrolled to `state.help_offset` (as far as
/// the rows go: the last frame's room may be stale).
pub fn draw(frame: &mut Frame<'_>, area: Rect, state: &UiState, theme: &Theme) {
    let g = geometry(area, &state.export_formats);
    let total = g.rows.len();
    let offset = state.help_offset.min(total.saturating_sub(g.shown));
    let inner_width = (g.popup.width as usize).saturating_sub(2);
    let key_width = g.key_width;
    let mut lines: Vec<Line<'static>> = g
        .rows
        .into_iter()
        .skip(offset)
        .take(g.shown)
        .map(|Row { keys, text }| {
            clip(
                vec![
                    Span::styled(format!("{keys:<key_width$}  "), theme.key()),
                    Span::raw(text),
                ],
                inner_width,
            )
        })
        .collect();
    let close = keymap::close_help_hint();
    let hint = if g.scrolls {
        let scroll = keymap::help_scroll_keys();
        let long = format!("{scroll} scroll, {close}");
        if long.width() <= inner_width {
            long
        } else {
            format!("{scroll} scroll, {} close", keymap::close_help_keys())
        }
    } else {
        lines.push(Line::raw(""));
        close
    };
    lines.push(clip(vec![Span::styled(hint, theme.dim())], inner_width));
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" keys ", theme.title()));
    if g.scrolls {
        let more_above = if offset > 0 { "↑ " } else { "" };
        let more_below = if offset + g.shown < total { " ↓" } else { "" };
        let last = (offset + g.shown).min(total);
        block = block.title_bottom(
            Line::styled(
                format!(" {more_above}{}–{last} of {total}{more_below} ", offset + 1),
                theme.dim(),
            )
            .right_aligned(),
        );
    }
    frame.render_widget(Clear, g.popup);
    frame.render_widget(Paragraph::new(lines).block(block), g.popup);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("fits as is", 10), ["fits as is"]);
    }
}
