//! The one key table: every key, the modes it applies in, the [`Action`] it asks
//! for, and how the help overlay and the footers show it.
//!
//! Dispatch ([`lookup`], used by `UiState::on_key`), the help overlay
//! ([`help_lines`]), the footers ([`overview_footer`], [`detail_footer`]) and the prompts that name a mode's
//! keys ([`hint`]) are all read from [`BINDINGS`], so a key is written once and the
//! help cannot drift from what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::ExportFormat;
use crate::config::defaults::EXPORT_FORMATS;

pub use super::action::Action;
use super::mode::{Mode, Screen};

/// Which key events a binding takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// This key, whatever modifiers are held: Shift comes with `G`, and a key
    /// that works bare should work with a stray modifier too.
    Code(KeyCode),
    /// This character with Ctrl held.
    Ctrl(char),
    /// Any character typed without Ctrl or Alt (Alt+key is what arrives when Esc
    /// and a key are typed quickly: never text).
    Text,
    /// Any key at all: the fallback of a mode, after its other bindings.
    Any,
}

impl Key {
    /// Whether `event` is this key.
    pub fn matches(self, event: &KeyEvent) -> bool {
        match self {
            Key::Code(code) => event.code == code,
            Key::Ctrl(c) => {
                event.code == KeyCode::Char(c) && event.modifiers.contains(KeyModifiers::CONTROL)
            }
            Key::Text => {
                matches!(event.code, KeyCode::Char(_))
                    && !event
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
            Key::Any => true,
        }
    }

    /// How the help overlay and the prompts name the key.
    pub fn name(self) -> String {
        match self {
            Key::Code(KeyCode::Up) => "↑".into(),
            Key::Code(KeyCode::Down) => "↓".into(),
            Key::Code(KeyCode::PageUp) => "PgUp".into(),
            Key::Code(KeyCode::PageDown) => "PgDn".into(),
            // Spelled out rather than crossterm's names, which differ on macOS.
            Key::Code(KeyCode::Home) => "Home".into(),
            Key::Code(KeyCode::End) => "End".into(),
            Key::Code(KeyCode::Enter) => "Enter".into(),
            Key::Code(KeyCode::Esc) => "Esc".into(),
            Key::Code(KeyCode::Backspace) => "Backspace".into(),
            Key::Code(KeyCode::Char(c)) => c.to_string(),
            Key::Code(code) => code.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Text => "text".into(),
            Key::Any => "any other key".into(),
        }
    }

    /// How the footers name the key, where room is short.
    pub fn short_name(self) -> String {
        match self {
            Key::Code(KeyCode::Enter) => "⏎".into(),
            _ => self.name(),
        }
    }
}

/// A set of modes a binding applies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes(u8);

impl Modes {
    /// The overview, browsing.
    pub const OVERVIEW: Modes = Modes(1);
    /// The detail view, browsing.
    pub const DETAIL: Modes = Modes(1 << 1);
    /// Typing the filter.
    pub const FILTER: Modes = Modes(1 << 2);
    /// The help overlay.
    pub const HELP: Modes = Modes(1 << 3);
    /// The reset question.
    pub const CONFIRM: Modes = Modes(1 << 4);
    /// Both screens without an overlay or the filter being typed.
    pub const BROWSE: Modes = Modes::OVERVIEW.and(Modes::DETAIL);
    /// Every mode.
    pub const ALL: Modes = Modes(0b1_1111);

    /// Both sets.
    pub const fn and(self, other: Modes) -> Modes {
        Modes(self.0 | other.0)
    }

    /// The set holding only `mode`.
    pub fn of(mode: Mode) -> Modes {
        match mode {
            Mode::Overview => Modes::OVERVIEW,
            Mode::Detail(_) => Modes::DETAIL,
            Mode::Filter => Modes::FILTER,
            Mode::Help(_) => Modes::HELP,
            Mode::ConfirmReset(_) => Modes::CONFIRM,
        }
    }

    /// Whether `mode` is in the set.
    pub fn includes(self, mode: Mode) -> bool {
        self.0 & Modes::of(mode).0 != 0
    }
}

/// Where a help line shows in the footers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Footer {
    /// Not in the footers.
    No,
    /// In both footers, as this word.
    Always(&'static str),
    /// First in the detail view's footer only, as this word.
    DetailOnly(&'static str),
}

/// How a binding shows in the help overlay and the prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Help {
    /// Starts a line of the help overlay: what the line's keys do, and where the
    /// line shows in the footers (under the keys before the first [`Help::Apart`]).
    Line {
        /// What the keys do.
        text: &'static str,
        /// Where the line shows in the footers.
        footer: Footer,
    },
    /// One more key on the line above, after a space.
    Then,
    /// One more key on the line above, after a gap: a second set of keys for the
    /// same things.
    Apart,
    /// Not in the overlay, but named where its mode says what its keys do (the
    /// reset question, the filter line, the help box's last line).
    Hint,
    /// Named nowhere: a second key for fingers used to it.
    Silent,
}

/// One entry of the key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The key.
    pub key: Key,
    /// The modes it applies in.
    pub modes: Modes,
    /// What it does there.
    pub action: Action,
    /// How it is shown.
    pub help: Help,
}

const fn bind(key: Key, modes: Modes, action: Action, help: Help) -> Binding {
    Binding {
        key,
        modes,
        action,
        help,
    }
}

const fn line(text: &'static str, footer: Footer) -> Help {
    Help::Line { text, footer }
}

const fn code(code: KeyCode) -> Key {
    Key::Code(code)
}

const fn char(c: char) -> Key {
    Key::Code(KeyCode::Char(c))
}

const BROWSE: Modes = Modes::BROWSE;
/// The arrows move the selection while the filter is typed too, so the rows it
/// matches can be walked without leaving it.
const MOVING: Modes = Modes::BROWSE.and(Modes::FILTER);
const OVERVIEW: Modes = Modes::OVERVIEW;
const FILTER: Modes = Modes::FILTER;
const HELP: Modes = Modes::HELP;
const CONFIRM: Modes = Modes::CONFIRM;

/// Every key. Dispatch takes the first binding of the mode that matches, so a
/// mode's [`Key::Any`] comes after its other keys; the help overlay shows the lines
/// in this order, and the footers their words.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &{
    use Action as A;
    use Footer::{Always, DetailOnly, No};
    use Help::{Apart, Hint, Silent, Then};
    use KeyCode::{Backspace, Down, End, Enter, Esc, Home, PageDown, PageUp, Up};
    [
        bind(code(Up),        MOVING,   A::Up,       line("move the selection", Always("move"))),
        bind(code(Down),      MOVING,   A::Down,     Then),
        bind(char('j'),       BROWSE,   A::Down,     Apart),
        bind(char('k'),       BROWSE,   A::Up,       Then),
        bind(code(PageUp),    BROWSE,   A::PageUp,   line("move a page", No)),
        bind(code(PageDown),  BROWSE,   A::PageDown, Then),
        bind(code(Home),      BROWSE,   A::First,    line("first / last endpoint", No)),
        bind(code(End),       BROWSE,   A::Last,     Then),
        bind(char('g'),       BROWSE,   A::First,    Apart),
        bind(char('G'),       BROWSE,   A::Last,     Then),
        bind(code(Enter),     OVERVIEW, A::Open,     line("open the detail view", Always("detail"))),
        bind(code(Esc),       BROWSE,   A::Back,
            line("close the detail view; clear the filter", DetailOnly("back"))),
        bind(code(Backspace), BROWSE,   A::Back,     Silent),
        bind(char('/'),       BROWSE,   A::Filter,   line("filter by name as you type", Always("filter"))),
        bind(char('s'),       BROWSE,   A::Sort,
            line("sort: config, name, state, p99, error rate", Always("sort"))),
        bind(char('w'),       BROWSE,   A::Window,   line("window: 1m, 5m, 15m, all-time", Always("window"))),
        bind(char('p'),       BROWSE,   A::Pause,    line("pause / resume probing", Always("pause"))),
        bind(char('+'),       BROWSE,   A::Faster,
            line("probe faster / slower (interval ÷2 / ×2)", No)),
        bind(char('-'),       BROWSE,   A::Slower,   Then),
        // `=` is `+` without Shift on most layouts.
        bind(char('='),       BROWSE,   A::Faster,   Silent),
        bind(char('r'),       BROWSE,   A::AskReset, line("reset statistics (asks first)", Always("reset"))),
        bind(char('e'),       BROWSE,   A::Export,
            line("export a snapshot", Always("export"))),
        bind(char('?'),       BROWSE,   A::Help,     line("this help", Always("help"))),
        bind(char('q'),       BROWSE.and(HELP), A::Quit, line("quit", Always("quit"))),
        // Before every mode's fallback: Ctrl-C quits whatever is asked or typed.
        bind(Key::Ctrl('c'),  Modes::ALL, A::Quit,   Apart),

        bind(char('?'),       HELP,     A::CloseHelp,   Hint),
        bind(code(Esc),       HELP,     A::CloseHelp,   Hint),
        bind(code(Enter),     HELP,     A::CloseHelp,   Silent),
        bind(code(Up),        HELP,     A::ScrollHelpUp,       Hint),
        bind(code(Down),      HELP,     A::ScrollHelpDown,     Hint),
        bind(char('j'),       HELP,     A::ScrollHelpDown,     Hint),
        bind(char('k'),       HELP,     A::ScrollHelpUp,       Hint),
        bind(code(PageUp),    HELP,     A::ScrollHelpPageUp,   Hint),
        bind(code(PageDown),  HELP,     A::ScrollHelpPageDown, Hint),

        bind(code(Enter),     FILTER,   A::KeepFilter,  Hint),
        bind(code(Esc),       FILTER,   A::ClearFilter, Hint),
        bind(code(Backspace), FILTER,   A::DeleteChar,  Silent),
        bind(Key::Text,       FILTER,   A::TypeChar,    Silent),

        bind(char('y'),       CONFIRM,  A::Reset,       Hint),
        bind(char('Y'),       CONFIRM,  A::Reset,       Silent),
        bind(code(Enter),     CONFIRM,  A::Reset,       Hint),
        bind(Key::Any,        CONFIRM,  A::CancelReset, Hint),
    ]
};

/// What `event` does in `mode`, if anything.
pub fn lookup(mode: Mode, event: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.modes.includes(mode) && b.key.matches(event))
        .map(|b| b.action)
}

/// The keys named for `action` in `mode`, joined by "or": `y or Enter`.
pub fn hint(mode: Mode, action: Action) -> String {
    BINDINGS
        .iter()
        .filter(|b| b.action == action && b.modes.includes(mode) && b.help != Help::Silent)
        .map(|b| b.key.name())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The first key named for `action` in `mode`.
pub fn first_key(mode: Mode, action: Action) -> String {
    BINDINGS
        .iter()
        .find(|b| b.action == action && b.modes.includes(mode) && b.help != Help::Silent)
        .map_or_else(String::new, |b| b.key.name())
}

/// What the filter's keys do, for the line being typed and the help.
pub fn filter_hint() -> String {
    format!(
        "{} keeps, {} clears",
        hint(Mode::Filter, Action::KeepFilter),
        hint(Mode::Filter, Action::ClearFilter)
    )
}

/// The reset question, with its answers.
pub fn reset_question() -> String {
    let over = Mode::ConfirmReset(Screen::Overview);
    format!(
        "Reset all statistics? {} = yes, {} = no",
        hint(over, Action::Reset),
        hint(over, Action::CancelReset)
    )
}

/// How the help overlay is closed.
pub fn close_help_hint() -> String {
    format!(
        "{} closes this help",
        hint(Mode::Help(Screen::Overview), Action::CloseHelp)
    )
}

/// The keys that scroll the help overlay, in table order: `↑ ↓ j k PgUp PgDn`.
pub fn help_scroll_keys() -> String {
    use Action::{ScrollHelpDown, ScrollHelpPageDown, ScrollHelpPageUp, ScrollHelpUp};
    BINDINGS
        .iter()
        .filter(|b| {
            b.modes.includes(Mode::Help(Screen::Overview))
                && [
                    ScrollHelpUp,
                    ScrollHelpDown,
                    ScrollHelpPageUp,
                    ScrollHelpPageDown,
                ]
                .contains(&b.action)
        })
        .map(|b| b.key.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The keys that close the help overlay: `? or Esc`.
pub fn close_help_keys() -> String {
    hint(Mode::Help(Screen::Overview), Action::CloseHelp)
}

/// What the export key writes, as the help says it: `JSON and CSV`.
pub fn formats_text(formats: &[ExportFormat]) -> String {
    let names: Vec<&str> = formats
        .iter()
        .map(|f| match f {
            ExportFormat::Json => "JSON",
            ExportFormat::Csv => "CSV",
            ExportFormat::Markdown => "Markdown",
        })
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A line of the help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLine {
    /// The keys, as shown: `↑ ↓  j k`.
    pub keys: String,
    /// What they do.
    pub text: String,
}

/// The help overlay's key lines, in table order, for the default export formats.
pub fn help_lines() -> Vec<HelpLine> {
    help_lines_for(&EXPORT_FORMATS)
}

/// The help overlay's key lines, in table order, naming the `formats` the export
/// key writes. A key that opens a mode of its own tells that mode's keys too.
pub fn help_lines_for(formats: &[ExportFormat]) -> Vec<HelpLine> {
    let mut lines: Vec<HelpLine> = Vec::new();
    for b in BINDINGS {
        match (b.help, lines.last_mut()) {
            (Help::Line { text, .. }, _) => lines.push(HelpLine {
                keys: b.key.name(),
                text: match b.action {
                    Action::Filter => format!("{text} ({})", filter_hint()),
                    Action::Export if !formats.is_empty() => {
                        format!("{text} ({})", formats_text(formats))
                    }
                    _ => text.to_string(),
                },
            }),
            (Help::Then, Some(last)) => {
                last.keys.push(' ');
                last.keys.push_str(&b.key.name());
            }
            (Help::Apart, Some(last)) => {
                last.keys.push_str("  ");
                last.keys.push_str(&b.key.name());
            }
            _ => {}
        }
    }
    lines
}

/// An item of a footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterItem {
    /// The keys, short and without gaps: `↑↓`.
    pub keys: String,
    /// One word for what they do.
    pub text: &'static str,
}

/// The overview's footer.
pub fn overview_footer() -> Vec<FooterItem> {
    footer(false)
}

/// The detail view's footer: its own keys first, then the overview's.
pub fn detail_footer() -> Vec<FooterItem> {
    footer(true)
}

fn footer(detail: bool) -> Vec<FooterItem> {
    // (footer, keys until the first gap), one per help line.
    let mut lines: Vec<(Footer, String, bool)> = Vec::new();
    for b in BINDINGS {
        match (b.help, lines.last_mut()) {
            (Help::Line { footer, .. }, _) => lines.push((footer, b.key.short_name(), true)),
            (Help::Then, Some((_, keys, true))) => keys.push_str(&b.key.short_name()),
            (Help::Apart, Some((_, _, open))) => *open = false,
            _ => {}
        }
    }
    let item = |keys: &String, text| FooterItem {
        keys: keys.clone(),
        text,
    };
    let own = lines.iter().filter_map(|(footer, keys, _)| match footer {
        Footer::DetailOnly(text) if detail => Some(item(keys, *text)),
        _ => None,
    });
    let shared = lines.iter().filter_map(|(footer, keys, _)| match footer {
        Footer::Always(text) => Some(item(keys, *text)),
        _ => None,
    });
    own.chain(shared).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// One mode of each kind the table knows.
    const MODES: [Mode; 5] = [
        Mode::Overview,
        Mode::Detail(0),
        Mode::Filter,
        Mode::Help(Screen::Overview),
        Mode::ConfirmReset(Screen::Detail(0)),
    ];

    /// A key event that `key` takes.
    fn event_for(key: Key) -> KeyEvent {
        match key {
            Key::Code(code) => KeyEvent::from(code),
            Key::Ctrl(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
            Key::Text => KeyEvent::from(KeyCode::Char('x')),
            Key::Any => KeyEvent::from(KeyCode::F(5)),
        }
    }

    /// Fails to compile when an action is added without a thought for this test.
    fn listed(action: Action) -> bool {
        use Action::*;
        match action {
            Quit | Up | Down | PageUp | PageDown | First | Last | Open | Back | Filter | Sort
            | Window | Pause | AskReset | Export | Help | CloseHelp | KeepFilter | ClearFilter
            | DeleteChar | TypeChar | Reset | CancelReset | ScrollHelpUp | ScrollHelpDown
            | ScrollHelpPageUp | ScrollHelpPageDown | Faster | Slower => {
                Action::ALL.contains(&action)
            }
        }
    }

    #[test]
    fn every_action_is_reachable_by_its_keys() {
        let bound: HashSet<Action> = BINDINGS.iter().map(|b| b.action).collect();
        for action in Action::ALL {
            assert!(listed(action));
            assert!(bound.contains(&action), "{action:?} has no key");
        }
        // No binding is shadowed by an earlier one: each key does what its entry
        // says in every mode the entry names (so no key is bound twice in a mode).
        for b in BINDINGS {
            for mode in MODES.into_iter().filter(|m| b.modes.includes(*m)) {
                assert_eq!(
                    lookup(mode, &event_for(b.key)),
                    Some(b.action),
                    "{:?} in {mode:?}",
                    b.key
                );
            }
        }
    }

    #[test]
    fn keys_of_one_mode_do_nothing_in_another() {
        let f5 = KeyEvent::from(KeyCode::F(5));
        assert_eq!(lookup(Mode::Overview, &f5), None);
        assert_eq!(lookup(Mode::Help(Screen::Overview), &f5), None);
        assert_eq!(lookup(Mode::Filter, &f5), None);
        assert_eq!(
            lookup(Mode::ConfirmReset(Screen::Overview), &f5),
            Some(Action::CancelReset)
        );
        let q = KeyEvent::from(KeyCode::Char('q'));
        assert_eq!(lookup(Mode::Filter, &q), Some(Action::TypeChar));
        assert_eq!(
            lookup(Mode::Help(Screen::Detail(1)), &q),
            Some(Action::Quit)
        );
        let enter = KeyEvent::from(KeyCode::Enter);
        assert_eq!(lookup(Mode::Detail(0), &enter), None);
        let alt = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::ALT);
        assert_eq!(lookup(Mode::Filter, &alt), None, "Alt+key is not text");
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in MODES {
            assert_eq!(lookup(mode, &ctrl_c), Some(Action::Quit), "{mode:?}");
        }
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Mode::Overview, &shift_g), Some(Action::Last));
    }

    #[test]
    fn the_help_is_built_from_the_table() {
        let lines: Vec<(String, String)> =
            help_lines().into_iter().map(|l| (l.keys, l.text)).collect();
        let expected = [
            ("↑ ↓  j k", "move the selection"),
            ("PgUp PgDn", "move a page"),
            ("Home End  g G", "first / last endpoint"),
            ("Enter", "open the detail view"),
            ("Esc", "close the detail view; clear the filter"),
            ("/", "filter by name as you type (Enter keeps, Esc clears)"),
            ("s", "sort: config, name, state, p99, error rate"),
            ("w", "window: 1m, 5m, 15m, all-time"),
            ("p", "pause / resume probing"),
            ("+ -", "probe faster / slower (interval ÷2 / ×2)"),
            ("r", "reset statistics (asks first)"),
            ("e", "export a snapshot (JSON and CSV)"),
            ("?", "this help"),
            ("q  Ctrl-C", "quit"),
        ];
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        assert_eq!(lines, expected);
        assert_eq!(close_help_hint(), "? or Esc closes this help");
        assert_eq!(
            reset_question(),
            "Reset all statistics? y or Enter = yes, any other key = no"
        );
        assert_eq!(filter_hint(), "Enter keeps, Esc clears");
        assert_eq!(first_key(Mode::Overview, Action::Quit), "q");
        assert_eq!(help_scroll_keys(), "↑ ↓ j k PgUp PgDn");
        assert_eq!(close_help_keys(), "? or Esc");
    }

    #[test]
    fn the_help_names_the_configured_formats() {
        let export = |formats: &[ExportFormat]| {
            help_lines_for(formats)
                .into_iter()
                .find(|l| l.keys == "e")
                .map(|l| l.text)
                .unwrap()
        };
        use ExportFormat::{Csv, Json, Markdown};
        assert_eq!(export(&[Json, Csv]), "export a snapshot (JSON and CSV)");
        assert_eq!(export(&[Markdown]), "export a snapshot (Markdown)");
        assert_eq!(
            export(&[Csv, Json, Markdown]),
            "export a snapshot (CSV, JSON and Markdown)"
        );
        assert_eq!(export(&[]), "export a snapshot");
    }

    #[test]
    fn the_help_scrolls_with_the_moving_keys() {
        let help = Mode::Help(Screen::Detail(2));
        let press = |code| lookup(help, &KeyEvent::from(code));
        assert_eq!(press(KeyCode::Up), Some(Action::ScrollHelpUp));
        assert_eq!(press(KeyCode::Char('k')), Some(Action::ScrollHelpUp));
        assert_eq!(press(KeyCode::Down), Some(Action::ScrollHelpDown));
        assert_eq!(press(KeyCode::Char('j')), Some(Action::ScrollHelpDown));
        assert_eq!(press(KeyCode::PageUp), Some(Action::ScrollHelpPageUp));
        assert_eq!(press(KeyCode::PageDown), Some(Action::ScrollHelpPageDown));
        // Outside the help the same keys still move the selection.
        let down = KeyEvent::from(KeyCode::Down);
        assert_eq!(lookup(Mode::Overview, &down), Some(Action::Down));
        assert_eq!(lookup(Mode::Filter, &down), Some(Action::Down));
    }

    #[test]
    fn the_footers_are_built_from_the_table() {
        let words = |items: Vec<FooterItem>| -> Vec<String> {
            items
                .into_iter()
                .map(|i| format!("{} {}", i.keys, i.text))
                .collect()
        };
        let overview = [
            "↑↓ move",
            "⏎ detail",
            "/ filter",
            "s sort",
            "w window",
            "p pause",
            "r reset",
            "e export",
            "? help",
            "q quit",
        ];
        assert_eq!(words(overview_footer()), overview);
        let detail = words(detail_footer());
        assert_eq!(detail[0], "Esc back");
        assert_eq!(detail[1..], overview);
        // Every key a footer shows works there (the detail view shows the
        // overview's keys after its own, `⏎` included, which does nothing there).
        for item in overview_footer() {
            let key = BINDINGS
                .iter()
                .find(|b| b.key.short_name() == item.keys.chars().next().unwrap().to_string())
                .expect("a footer key is in the table");
            assert!(key.modes.includes(Mode::Overview), "{item:?}");
        }
    }
}
