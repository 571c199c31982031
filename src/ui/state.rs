//! The dashboard's state and how keys and the mouse change it: plain data and pure
//! transitions, tested without a terminal. Which key asks for what is the key
//! table's business ([`super::keymap`]); what each action does is here.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};

use super::keymap::{self, Action};
pub use super::mode::{Mode, Screen};
use super::model::{EndpointRow, OverviewData, Span};
use crate::config::ExportFormat;
use crate::config::defaults::EXPORT_FORMATS;
use crate::stats::State;

/// The order of the overview's rows; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Config order.
    Config,
    /// By name.
    Name,
    /// Worst state first: down, degraded, unknown, up.
    State,
    /// Slowest p99 over the span first.
    P99,
    /// Highest error rate over the span first.
    ErrorRate,
}

impl SortKey {
    /// The next key in the cycle.
    pub fn next(self) -> Self {
        match self {
            SortKey::Config => SortKey::Name,
            SortKey::Name => SortKey::State,
            SortKey::State => SortKey::P99,
            SortKey::P99 => SortKey::ErrorRate,
            SortKey::ErrorRate => SortKey::Config,
        }
    }

    /// A short label for the header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Config => "config",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::P99 => "p99",
            SortKey::ErrorRate => "errors",
        }
    }
}

/// Something the dashboard asks the rest of the program to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Quit.
    Quit,
    /// Pause probing if it runs, resume it if paused (the engine knows which).
    TogglePause,
    /// Forget all statistics.
    Reset,
    /// Write a snapshot to the export directory.
    Export,
    /// Halve (`true`) or double (`false`) the interval of the endpoint at this
    /// config index.
    StepInterval(usize, bool),
    /// Fetch fresh data now (the span or the detail endpoint changed).
    Refresh,
}

/// A one-line message at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The message (already safe to display).
    pub text: String,
    /// Whether it reports a problem.
    pub is_error: bool,
}

/// The dashboard's state.
#[derive(Debug, Clone)]
pub struct UiState {
    /// Which screen shows and where keys go.
    pub mode: Mode,
    /// The name filter.
    pub filter: String,
    /// Row order.
    pub sort: SortKey,
    /// Span of the statistics shown.
    pub span: Span,
    /// The selected endpoint (config index), which stays selected when rows move.
    pub selected: Option<usize>,
    /// First visible row (position in `visible`).
    pub offset: usize,
    /// Rows that fit on screen, as of the last frame.
    pub page: usize,
    /// Screen row of the first table row, as of the last frame (for mouse clicks).
    pub table_top: u16,
    /// Endpoints shown, in display order (config indices), after filter and sort.
    pub visible: Vec<usize>,
    /// The latest message (the event loop lets it expire).
    pub status: Option<Status>,
    /// Messages said through [`UiState::say`], so that the same message said again
    /// shows for its full time again.
    pub said: u64,
    /// The formats the export key writes, as configured (the help names them).
    pub export_formats: Vec<ExportFormat>,
    /// The help overlay's scroll position: its first row shown.
    pub help_offset: usize,
    /// Rows of the help overlay shown at once, and the most it can scroll, as of
    /// the last frame (see [`UiState::set_help_room`]).
    help_page: usize,
    help_max_offset: usize,
}

impl UiState {
    /// The initial state, showing `span`.
    pub fn new(span: Span) -> Self {
        UiState {
            mode: Mode::Overview,
            filter: String::new(),
            sort: SortKey::Config,
            span,
            selected: None,
            offset: 0,
            page: 10,
            table_top: 0,
            visible: Vec::new(),
            status: None,
            said: 0,
            export_formats: EXPORT_FORMATS.to_vec(),
            help_offset: 0,
            help_page: 1,
            help_max_offset: 0,
        }
    }

    /// Shows `text` on the status line (until the event loop lets it expire).
    pub fn say(&mut self, text: impl Into<String>, is_error: bool) {
        self.status = Some(Status {
            text: text.into(),
            is_error,
        });
        self.said += 1;
    }

    /// Sets how much of the help overlay the last frame showed: `shown` rows of
    /// `total`. Returns whether the scroll position had to move (the terminal grew,
    /// so the frame showed less than it could: another is due).
    pub fn set_help_room(&mut self, shown: usize, total: usize) -> bool {
        self.help_page = shown.max(1);
        self.help_max_offset = total.saturating_sub(shown);
        let before = self.help_offset;
        self.help_offset = self.help_offset.min(self.help_max_offset);
        before != self.help_offset
    }

    fn scroll_help(&mut self, delta: isize) {
        self.help_offset = self
            .help_offset
            .saturating_add_signed(delta)
            .min(self.help_max_offset);
    }

    /// Recomputes the visible rows from `data` after new data, a filter or sort change,
    /// keeping the selected endpoint selected and visible.
    pub fn refresh_rows(&mut self, data: &OverviewData) {
        let needle = self.filter.to_lowercase();
        let mut visible: Vec<usize> = data
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| needle.is_empty() || row.name.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect();
        let rows = &data.rows;
        match self.sort {
            SortKey::Config => {}
            SortKey::Name => visible.sort_by(|&a, &b| rows[a].name.cmp(&rows[b].name)),
            SortKey::State => visible.sort_by_key(|&i| state_rank(rows[i].state)),
            SortKey::P99 => visible.sort_by(|&a, &b| p99(&rows[b]).total_cmp(&p99(&rows[a]))),
            SortKey::ErrorRate => {
                visible.sort_by(|&a, &b| rows[b].error_rate().total_cmp(&rows[a].error_rate()))
            }
        }
        self.visible = visible;
        if self.selected.is_none_or(|s| !self.visible.contains(&s)) {
            self.selected = self.visible.first().copied();
        }
        self.keep_selection_visible();
    }

    /// Position of the selected endpoint in `visible`.
    pub fn selected_position(&self) -> Option<usize> {
        let selected = self.selected?;
        self.visible.iter().position(|&i| i == selected)
    }

    fn select_position(&mut self, position: usize) {
        if let Some(&index) = self
            .visible
            .get(position.min(self.visible.len().saturating_sub(1)))
        {
            self.selected = Some(index);
            self.keep_selection_visible();
        }
    }

    fn move_by(&mut self, delta: isize) {
        let current = self.selected_position().unwrap_or(0);
        let target = current.saturating_add_signed(delta);
        self.select_position(target);
        // The detail view, under an overlay too, follows the selection.
        if let Screen::Detail(_) = self.mode.screen()
            && let Some(selected) = self.selected
        {
            self.mode = self.mode.with_screen(Screen::Detail(selected));
        }
    }

    fn keep_selection_visible(&mut self) {
        let page = self.page.max(1);
        let position = self.selected_position().unwrap_or(0);
        if position < self.offset {
            self.offset = position;
        } else if position >= self.offset + page {
            self.offset = position + 1 - page;
        }
        let max_offset = self.visible.len().saturating_sub(page);
        self.offset = self.offset.min(max_offset);
    }

    /// Sets the number of rows that fit, as measured by the last frame; returns whether
    /// the scroll position had to move (then that frame showed a stale slice and
    /// another must be drawn).
    pub fn set_page(&mut self, page: usize, table_top: u16) -> bool {
        let before = (self.page, self.offset);
        self.page = page.max(1);
        self.table_top = table_top;
        self.keep_selection_visible();
        before.1 != self.offset
    }

    /// The screen shown (under the overlay, if any).
    pub fn screen(&self) -> Screen {
        self.mode.screen()
    }

    /// Applies a key; returns what the program must do, if anything.
    pub fn on_key(&mut self, key: KeyEvent, data: &OverviewData) -> Option<Effect> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let action = keymap::lookup(self.mode, &key)?;
        let typing = self.mode == Mode::Filter;
        let screen_before = self.screen();
        let effect = self.apply(action, key, data);
        // The filter applies as it is typed, and the rows it leaves are the ones
        // the arrows walk.
        if typing && effect.is_none() {
            self.refresh_rows(data);
        }
        // Moving in the detail view shows another endpoint: its data must be fetched.
        if effect.is_none()
            && matches!(self.screen(), Screen::Detail(_))
            && self.screen() != screen_before
        {
            return Some(Effect::Refresh);
        }
        effect
    }

    /// Does what `action` asks (`key` is the key that asked, for the text typed).
    fn apply(&mut self, action: Action, key: KeyEvent, data: &OverviewData) -> Option<Effect> {
        let page = self.page.max(1) as isize;
        match action {
            Action::Quit => return Some(Effect::Quit),
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::First => self.move_by(isize::MIN / 2),
            Action::Last => self.move_by(isize::MAX / 2),
            Action::Open => {
                if let (Screen::Overview, Some(selected)) = (self.screen(), self.selected) {
                    self.mode = Mode::Detail(selected);
                    return Some(Effect::Refresh);
                }
            }
            Action::Back => match self.screen() {
                Screen::Detail(_) => self.mode = Mode::Overview,
                Screen::Overview if !self.filter.is_empty() => {
                    self.filter.clear();
                    self.refresh_rows(data);
                }
                Screen::Overview => {}
            },
            Action::Filter => self.mode = Mode::Filter,
            // Said on the status line too: a narrow header leaves them out.
            Action::Sort => {
                self.sort = self.sort.next();
                self.refresh_rows(data);
                self.say(format!("sort: {}", self.sort.label()), false);
            }
            Action::Window => {
                self.span = self.span.next();
                let text = match self.span.duration() {
                    Some(_) => format!("window: last {}", self.span.label()),
                    None => "window: all-time".to_string(),
                };
                self.say(text, false);
                return Some(Effect::Refresh);
            }
            Action::Pause => return Some(Effect::TogglePause),
            Action::AskReset => self.mode = Mode::ConfirmReset(self.screen()),
            Action::Export => return Some(Effect::Export),
            Action::Faster | Action::Slower => {
                let target = match self.screen() {
                    Screen::Detail(index) => Some(index),
                    Screen::Overview => self.selected,
                };
                if let Some(index) = target {
                    return Some(Effect::StepInterval(index, action == Action::Faster));
                }
            }
            Action::Help => {
                self.mode = Mode::Help(self.screen());
                self.help_offset = 0;
            }
            Action::CloseHelp => self.mode = self.screen().into(),
            Action::KeepFilter => self.mode = Mode::Overview,
            Action::ClearFilter => {
                self.filter.clear();
                self.mode = Mode::Overview;
            }
            Action::DeleteChar => {
                self.filter.pop();
            }
            Action::TypeChar => {
                if let KeyCode::Char(c) = key.code {
                    self.filter.push(c);
                }
            }
            Action::Reset => {
                self.mode = self.screen().into();
                self.say("statistics reset", false);
                return Some(Effect::Reset);
            }
            Action::CancelReset => {
                self.mode = self.screen().into();
                self.say("reset cancelled", false);
            }
            Action::ScrollHelpUp => self.scroll_help(-1),
            Action::ScrollHelpDown => self.scroll_help(1),
            Action::ScrollHelpPageUp => self.scroll_help(-(self.help_page as isize)),
            Action::ScrollHelpPageDown => self.scroll_help(self.help_page as isize),
        }
        None
    }

    /// Follows the endpoints to their positions after a reload: `moved` gives each
    /// old config index its new one, or `None` for an endpoint that was removed (its
    /// detail view closes, and the selection moves to the first row).
    pub fn remap(&mut self, moved: impl Fn(usize) -> Option<usize>) {
        self.selected = self.selected.and_then(&moved);
        if let Screen::Detail(index) = self.screen() {
            self.mode = match moved(index) {
                Some(index) => self.mode.with_screen(Screen::Detail(index)),
                None => self.mode.with_screen(Screen::Overview),
            };
        }
        // The rows are recomputed from the new set's data right after.
        self.visible.clear();
    }

    /// Applies a mouse event: the wheel moves the selection (under the overlays
    /// too), a click selects a row of the overview.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Option<Effect> {
        let screen_before = self.screen();
        match mouse.kind {
            MouseEventKind::ScrollUp => self.move_by(-3),
            MouseEventKind::ScrollDown => self.move_by(3),
            MouseEventKind::Down(crossterm::event::MouseButton::Left)
                if self.screen() == Screen::Overview && !matches!(self.mode, Mode::Help(_)) =>
            {
                let row = mouse.row.checked_sub(self.table_top)? as usize;
                if row < self.page {
                    let position = self.offset + row;
                    if position < self.visible.len() {
                        self.select_position(position);
                    }
                }
            }
            _ => {}
        }
        // The wheel in the detail view shows another endpoint: fetch its data.
        (self.screen() != screen_before).then_some(Effect::Refresh)
    }
}

fn state_rank(state: State) -> u8 {
    match state {
        State::Down => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Up => 3,
    }
}

fn p99(row: &EndpointRow) -> f64 {
    row.latency.map_or(f64::NEG_INFINITY, |l| l.p99)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;
    use crossterm::event::{KeyEvent, KeyModifiers, MouseButton};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    fn row(name: &str, state: State, p99: Option<f64>, ok: u64, probes: u64) -> Arc<EndpointRow> {
        Arc::new(EndpointRow {
            name: name.into(),
            state,
            last_latency_ms: None,
            latency: p99.map(|p99| LatencySummary {
                min: 1.0,
                mean: 1.0,
                p50: 1.0,
                p90: 1.0,
                p99,
                p999: p99,
                max: p99,
            }),
            span_probes: probes,
            span_ok: ok,
            probes,
            skipped: 0,
            spark: Default::default(),
            last_result: String::new(),
            last_failed: false,
        })
    }

    fn data() -> OverviewData {
        OverviewData {
            elapsed: Duration::from_secs(10),
            taken_at: SystemTime::UNIX_EPOCH,
            total_probes: 40,
            lag_p99_ms: None,
            span: Span::FiveMinutes,
            overload: None,
            local_network_down: false,
            rows: vec![
                row("web", State::Up, Some(20.0), 10, 10),
                row("api", State::Down, None, 0, 10),
                row("db-api", State::Degraded, Some(90.0), 9, 10),
                row("cache", State::Unknown, Some(5.0), 5, 10),
            ],
        }
    }

    fn state() -> (UiState, OverviewData) {
        let data = data();
        let mut state = UiState::new(Span::FiveMinutes);
        state.refresh_rows(&data);
        (state, data)
    }

    fn key(state: &mut UiState, data: &OverviewData, code: KeyCode) -> Option<Effect> {
        state.on_key(KeyEvent::from(code), data)
    }

    fn names(state: &UiState, data: &OverviewData) -> Vec<String> {
        state
            .visible
            .iter()
            .map(|&i| data.rows[i].name.clone())
            .collect()
    }

    #[test]
    fn moving_stays_in_bounds() {
        let (mut s, d) = state();
        assert_eq!(s.selected, Some(0));
        key(&mut s, &d, KeyCode::Up);
        assert_eq!(s.selected, Some(0));
        key(&mut s, &d, KeyCode::Char('j'));
        key(&mut s, &d, KeyCode::Down);
        assert_eq!(s.selected, Some(2));
        key(&mut s, &d, KeyCode::End);
        assert_eq!(s.selected, Some(3));
        key(&mut s, &d, KeyCode::PageDown);
        assert_eq!(s.selected, Some(3));
        key(&mut s, &d, KeyCode::Home);
        assert_eq!(s.selected, Some(0));
        key(&mut s, &d, KeyCode::Char('k'));
        assert_eq!(s.selected, Some(0));
    }

    #[test]
    fn sort_cycles_and_keeps_the_selection() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Down); // "api"
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(s.sort, SortKey::Name);
        assert_eq!(names(&s, &d), ["api", "cache", "db-api", "web"]);
        assert_eq!(s.selected, Some(1), "still api");
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(names(&s, &d), ["api", "db-api", "cache", "web"]);
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(s.sort, SortKey::P99);
        assert_eq!(names(&s, &d), ["db-api", "web", "cache", "api"]);
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(s.sort, SortKey::ErrorRate);
        assert_eq!(names(&s, &d)[..2], ["api", "cache"]);
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(s.sort, SortKey::Config);
    }

    #[test]
    fn filter_as_you_type_and_escape_clears() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Char('/'));
        assert_eq!(s.mode, Mode::Filter);
        for c in "API".chars() {
            key(&mut s, &d, KeyCode::Char(c));
        }
        assert_eq!(names(&s, &d), ["api", "db-api"], "case-insensitive");
        assert_eq!(s.selected, Some(1), "selection moved onto a visible row");
        // While typing, `q` is text, not quit.
        assert_eq!(key(&mut s, &d, KeyCode::Char('q')), None);
        assert!(s.visible.is_empty());
        key(&mut s, &d, KeyCode::Backspace);
        key(&mut s, &d, KeyCode::Enter);
        assert_eq!(s.mode, Mode::Overview);
        assert_eq!(s.filter, "API");
        key(&mut s, &d, KeyCode::Esc);
        assert_eq!(s.filter, "");
        assert_eq!(s.visible.len(), 4);
        // Esc while typing clears too; Alt+key (Esc typed fast) is not text.
        key(&mut s, &d, KeyCode::Char('/'));
        s.on_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::ALT), &d);
        assert_eq!(s.filter, "");
        key(&mut s, &d, KeyCode::Char('x'));
        key(&mut s, &d, KeyCode::Esc);
        assert!(s.mode == Mode::Overview && s.filter.is_empty());
    }

    #[test]
    fn detail_opens_follows_the_selection_and_closes() {
        let (mut s, d) = state();
        assert_eq!(key(&mut s, &d, KeyCode::Enter), Some(Effect::Refresh));
        assert_eq!(s.mode, Mode::Detail(0));
        assert_eq!(key(&mut s, &d, KeyCode::Down), Some(Effect::Refresh));
        assert_eq!(s.mode, Mode::Detail(1));
        key(&mut s, &d, KeyCode::Esc);
        assert_eq!(s.mode, Mode::Overview);
    }

    #[test]
    fn window_pause_export_quit() {
        let (mut s, d) = state();
        assert_eq!(key(&mut s, &d, KeyCode::Char('w')), Some(Effect::Refresh));
        assert_eq!(s.span, Span::FifteenMinutes);
        key(&mut s, &d, KeyCode::Char('w'));
        key(&mut s, &d, KeyCode::Char('w'));
        assert_eq!(s.span, Span::OneMinute);
        // Whether that pauses or resumes is the engine's to know (the event loop's
        // tests check both).
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('p')),
            Some(Effect::TogglePause)
        );
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('p')),
            Some(Effect::TogglePause)
        );
        assert_eq!(key(&mut s, &d, KeyCode::Char('e')), Some(Effect::Export));
        assert_eq!(key(&mut s, &d, KeyCode::Char('q')), Some(Effect::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(s.on_key(ctrl_c, &d), Some(Effect::Quit));
    }

    #[test]
    fn reset_asks_first() {
        let (mut s, d) = state();
        assert_eq!(key(&mut s, &d, KeyCode::Char('r')), None);
        assert!(matches!(s.mode, Mode::ConfirmReset(_)));
        assert_eq!(key(&mut s, &d, KeyCode::Char('n')), None);
        assert!(!matches!(s.mode, Mode::ConfirmReset(_)));
        key(&mut s, &d, KeyCode::Char('r'));
        assert_eq!(key(&mut s, &d, KeyCode::Char('y')), Some(Effect::Reset));
    }

    #[test]
    fn help_opens_and_closes_and_swallows_keys() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Char('?'));
        assert!(matches!(s.mode, Mode::Help(_)));
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('p')),
            None,
            "no pause under help"
        );
        key(&mut s, &d, KeyCode::Esc);
        assert!(!matches!(s.mode, Mode::Help(_)));
    }

    #[test]
    fn the_help_scrolls_within_what_it_has() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Char('?'));
        // As the frame measured it: 5 rows of 18 shown.
        assert!(!s.set_help_room(5, 18));
        key(&mut s, &d, KeyCode::Down);
        key(&mut s, &d, KeyCode::Char('j'));
        assert_eq!(s.help_offset, 2);
        assert_eq!(s.selected, Some(0), "the selection stays");
        key(&mut s, &d, KeyCode::PageDown);
        assert_eq!(s.help_offset, 7);
        for _ in 0..20 {
            key(&mut s, &d, KeyCode::Down);
        }
        assert_eq!(s.help_offset, 13, "no further than the last row");
        key(&mut s, &d, KeyCode::Char('k'));
        assert_eq!(s.help_offset, 12, "every key moves it back at once");
        key(&mut s, &d, KeyCode::PageUp);
        key(&mut s, &d, KeyCode::PageUp);
        key(&mut s, &d, KeyCode::PageUp);
        assert_eq!(s.help_offset, 0);
        key(&mut s, &d, KeyCode::PageDown);
        // A taller terminal shows more: the position follows.
        assert!(s.set_help_room(16, 18));
        assert_eq!(s.help_offset, 2);
        // Opened again, it starts at the top.
        key(&mut s, &d, KeyCode::Esc);
        key(&mut s, &d, KeyCode::Char('?'));
        assert_eq!(s.help_offset, 0);
        assert!(matches!(s.mode, Mode::Help(_)));
    }

    #[test]
    fn sort_and_window_say_what_they_chose() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Char('s'));
        assert_eq!(s.status.as_ref().unwrap().text, "sort: name");
        let said = s.said;
        key(&mut s, &d, KeyCode::Char('w'));
        assert_eq!(s.status.as_ref().unwrap().text, "window: last 15m");
        key(&mut s, &d, KeyCode::Char('w'));
        assert_eq!(s.status.as_ref().unwrap().text, "window: all-time");
        assert_eq!(s.said, said + 2);
    }

    #[test]
    fn overlays_return_to_the_screen_they_opened_over() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Enter);
        key(&mut s, &d, KeyCode::Char('?'));
        assert_eq!(s.mode, Mode::Help(Screen::Detail(0)));
        // Enter closes the help; it opens nothing.
        assert_eq!(key(&mut s, &d, KeyCode::Enter), None);
        assert_eq!(s.mode, Mode::Detail(0));
        key(&mut s, &d, KeyCode::Char('r'));
        assert_eq!(s.mode, Mode::ConfirmReset(Screen::Detail(0)));
        assert_eq!(key(&mut s, &d, KeyCode::Esc), None, "any other key = no");
        assert_eq!(s.mode, Mode::Detail(0), "Esc answered, did not go back");
        assert_eq!(s.status.as_ref().unwrap().text, "reset cancelled");
        key(&mut s, &d, KeyCode::Char('r'));
        assert_eq!(key(&mut s, &d, KeyCode::Enter), Some(Effect::Reset));
        assert_eq!(s.mode, Mode::Detail(0));
        assert_eq!(s.status.as_ref().unwrap().text, "statistics reset");
        // Ctrl-C quits whatever is asked or typed; `q` only where it is no text.
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        key(&mut s, &d, KeyCode::Char('r'));
        assert_eq!(s.on_key(ctrl_c, &d), Some(Effect::Quit));
        key(&mut s, &d, KeyCode::Char('n'));
        // The filter is typed over the overview, even when asked for in the detail.
        assert_eq!(key(&mut s, &d, KeyCode::Char('/')), None);
        assert_eq!(s.mode, Mode::Filter);
        assert_eq!(s.on_key(ctrl_c, &d), Some(Effect::Quit));
        key(&mut s, &d, KeyCode::Enter);
        key(&mut s, &d, KeyCode::Char('?'));
        assert_eq!(s.mode, Mode::Help(Screen::Overview));
        assert_eq!(key(&mut s, &d, KeyCode::Char('q')), Some(Effect::Quit));
        key(&mut s, &d, KeyCode::Char('?'));
        assert_eq!(s.mode, Mode::Overview);
    }

    #[test]
    fn releases_are_ignored_and_arrows_walk_the_filtered_rows() {
        let (mut s, d) = state();
        let mut release = KeyEvent::from(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(s.on_key(release, &d), None);
        key(&mut s, &d, KeyCode::Char('/'));
        for c in "api".chars() {
            key(&mut s, &d, KeyCode::Char(c));
        }
        assert_eq!(s.selected, Some(1));
        key(&mut s, &d, KeyCode::Down);
        assert_eq!(s.selected, Some(2), "db-api, the next match");
        // Keys the filter has no use for change nothing.
        assert_eq!(key(&mut s, &d, KeyCode::PageUp), None);
        assert_eq!(s.selected, Some(2));
        assert_eq!(s.filter, "api");
    }

    /// A mouse event of `kind` at `row` (column 5).
    fn mouse(kind: MouseEventKind, row: u16) -> MouseEvent {
        MouseEvent {
            kind,
            column: 5,
            row,
            modifiers: KeyModifiers::NONE,
        }
    }

    #[test]
    fn the_wheel_works_under_the_overlays() {
        let (mut s, d) = state();
        s.set_page(10, 2);
        key(&mut s, &d, KeyCode::Enter);
        key(&mut s, &d, KeyCode::Char('?'));
        assert_eq!(
            s.on_mouse(mouse(MouseEventKind::ScrollDown, 0)),
            Some(Effect::Refresh)
        );
        assert_eq!(s.mode, Mode::Help(Screen::Detail(3)));
        key(&mut s, &d, KeyCode::Esc);
        key(&mut s, &d, KeyCode::Esc);
        assert_eq!(s.mode, Mode::Overview);
        // No click through the help box.
        key(&mut s, &d, KeyCode::Char('?'));
        s.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 2));
        assert_eq!(s.selected, Some(3));
        key(&mut s, &d, KeyCode::Esc);
        // The reset question stays asked while the wheel and clicks select.
        key(&mut s, &d, KeyCode::Char('r'));
        s.on_mouse(mouse(MouseEventKind::ScrollUp, 0));
        s.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 3));
        assert_eq!(s.selected, Some(1));
        assert_eq!(s.mode, Mode::ConfirmReset(Screen::Overview));
    }

    #[test]
    fn long_lists_scroll_with_the_selection() {
        let mut d = data();
        d.rows = (0..50)
            .map(|i| row(&format!("e{i:02}"), State::Up, None, 1, 1))
            .collect();
        let mut s = UiState::new(Span::FiveMinutes);
        s.refresh_rows(&d);
        s.set_page(10, 2);
        for _ in 0..25 {
            key(&mut s, &d, KeyCode::Down);
        }
        assert_eq!(s.selected, Some(25));
        assert!(s.offset <= 25 && 25 < s.offset + 10, "offset {}", s.offset);
        key(&mut s, &d, KeyCode::End);
        assert_eq!(s.offset, 40);
        key(&mut s, &d, KeyCode::PageUp);
        assert_eq!(s.selected, Some(39));
    }

    #[test]
    fn mouse_wheel_scrolls_and_click_selects() {
        let (mut s, d) = state();
        s.set_page(10, 2);
        s.on_mouse(mouse(MouseEventKind::ScrollDown, 0));
        assert_eq!(s.selected, Some(3));
        s.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 3));
        assert_eq!(
            s.selected,
            Some(1),
            "row 3 on screen is the second table row"
        );
        s.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 9));
        assert_eq!(
            s.selected,
            Some(1),
            "a click below the rows changes nothing"
        );
        // In the detail view the wheel shows another endpoint, whose data must come.
        key(&mut s, &d, KeyCode::Enter);
        assert_eq!(
            s.on_mouse(mouse(MouseEventKind::ScrollUp, 0)),
            Some(Effect::Refresh)
        );
        assert_eq!(s.mode, Mode::Detail(0));
    }

    #[test]
    fn plus_and_minus_ask_for_the_selected_or_shown_endpoint() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Down);
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('+')),
            Some(Effect::StepInterval(1, true))
        );
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('-')),
            Some(Effect::StepInterval(1, false))
        );
        key(&mut s, &d, KeyCode::Enter);
        key(&mut s, &d, KeyCode::Down);
        assert_eq!(s.mode, Mode::Detail(2));
        assert_eq!(
            key(&mut s, &d, KeyCode::Char('=')),
            Some(Effect::StepInterval(2, true))
        );
        // Typing the filter, they are text.
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Char('/'));
        assert_eq!(key(&mut s, &d, KeyCode::Char('+')), None);
        assert_eq!(s.filter, "+");
    }

    #[test]
    fn a_reload_moves_the_selection_and_closes_a_removed_detail() {
        let (mut s, d) = state();
        key(&mut s, &d, KeyCode::Down);
        key(&mut s, &d, KeyCode::Enter);
        assert_eq!(s.mode, Mode::Detail(1));
        // The endpoint at 0 was removed: 1 is now 0.
        s.remap(|i| i.checked_sub(1));
        assert_eq!((s.mode, s.selected), (Mode::Detail(0), Some(0)));
        s.mode = Mode::Help(Screen::Detail(0));
        s.remap(|_| None);
        assert_eq!((s.mode, s.selected), (Mode::Help(Screen::Overview), None));
        s.refresh_rows(&d);
        assert_eq!(s.selected, Some(0), "the first row once the rows come");
    }
}
