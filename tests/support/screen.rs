//! Drawing the dashboard's views into ratatui's `TestBackend` and reading the result
//! as text: what every view test needs, from fixed data at a fixed time.

use std::time::{Duration, SystemTime};

use probetop::config::Endpoint;
use probetop::ui::model::{DetailData, OverviewData};
use probetop::ui::state::UiState;
use probetop::ui::theme::Theme;
use probetop::ui::view::{self, FrameLayout, ViewInput};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// 2026-11-21T22:45:00Z: every time in the view fixtures is fixed.
pub const TAKEN_AT_SECS: u64 = 1_795_301_100;

/// `secs` after 1970.
pub fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A state showing `data`, as the dashboard has it after fresh data (over the span
/// `data` was computed for).
pub fn state_for(data: &OverviewData) -> UiState {
    let mut state = UiState::new(data.span);
    state.refresh_rows(data);
    state
}

/// What a view draws from: `state` over `data` (and `detail`), `endpoints` as
/// configured, 20.5 probes a second, probing not paused.
pub fn input<'a>(
    state: &'a UiState,
    data: &'a OverviewData,
    detail: Option<&'a DetailData>,
    endpoints: &'a [Endpoint],
    theme: Theme,
) -> ViewInput<'a> {
    ViewInput {
        state,
        data,
        detail,
        endpoints,
        rate: Some(20.5),
        paused: false,
        theme,
    }
}

/// Draws one frame of `width`×`height`: the buffer, and the layout the view reports.
pub fn draw(width: u16, height: u16, input: &ViewInput<'_>) -> (Buffer, Option<FrameLayout>) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    let mut layout = None;
    terminal
        .draw(|frame| layout = view::draw(frame, input))
        .expect("drawing");
    (terminal.backend().buffer().clone(), layout)
}

/// One frame of `width`×`height`, as text ([`text`]).
pub fn screen(width: u16, height: u16, input: &ViewInput<'_>) -> String {
    text(&draw(width, height, input).0)
}

/// The buffer as text, one line per row, trailing spaces trimmed.
pub fn text(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
