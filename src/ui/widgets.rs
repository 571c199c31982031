//! Pieces both screens draw: lines cut to the terminal's width, the footer of keys
//! (from the key table), the reset question and the latest message.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::format::fit;
use super::keymap::{self, FooterItem};
use super::state::Status;
use super::theme::Theme;

/// A line of spans cut to `width` columns, the span that crosses the edge ending in
/// an ellipsis.
pub fn clip(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    use unicode_width::UnicodeWidthStr;
    let mut out = Vec::with_capacity(spans.len());
    let mut used = 0;
    for span in spans {
        let w = span.content.width();
        if used + w <= width {
            used += w;
            out.push(span);
        } else {
            let room = width - used;
            if room > 0 {
                out.push(Span::styled(fit(&span.content, room), span.style));
            }
            break;
        }
    }
    Line::from(out)
}

/// The keys of a footer (from [`keymap::overview_footer`] or
/// [`keymap::detail_footer`]), uncut: spans alternate key and meaning, and each
/// meaning ends in a gap.
pub fn footer_spans(items: Vec<FooterItem>, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for item in items {
        spans.push(Span::styled(item.keys, theme.key()));
        spans.push(Span::raw(format!(" {}  ", item.text)));
    }
    spans
}

/// The keys of a footer cut to `width` columns: whole keys only (a cut meaning or
/// a key without one tells nothing), with single gaps between them when the double
/// ones would leave keys out.
pub fn footer_fitted(items: Vec<FooterItem>, theme: &Theme, width: usize) -> Line<'static> {
    use unicode_width::UnicodeWidthStr;
    let width_of = |gap: usize| {
        items
            .iter()
            .map(|i| i.keys.width() + 1 + i.text.width() + gap)
            .sum::<usize>()
            .saturating_sub(gap)
    };
    let gap = if width_of(2) <= width { 2 } else { 1 };
    let mut spans = Vec::new();
    let mut used = 0;
    for item in items {
        let w = item.keys.width() + 1 + item.text.width();
        let sep = if spans.is_empty() { 0 } else { gap };
        if used + sep + w > width {
            break;
        }
        if sep > 0 {
            spans.push(Span::raw(" ".repeat(sep)));
        }
        spans.push(Span::styled(item.keys, theme.key()));
        spans.push(Span::raw(format!(" {}", item.text)));
        used += sep + w;
    }
    Line::from(spans)
}

/// The reset question, in the warning style, for the status line.
pub fn reset_question(theme: &Theme, width: usize) -> Line<'static> {
    Line::styled(fit(&keymap::reset_question(), width), theme.warning())
}

/// The latest message, in the failure style when it reports a problem.
pub fn message(status: &Status, theme: &Theme) -> Span<'static> {
    let style = if status.is_error {
        theme.failure()
    } else {
        Style::new()
    };
    Span::styled(status.text.clone(), style)
}
