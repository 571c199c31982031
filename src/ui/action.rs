//! What a key can ask the dashboard to do, whatever key it is: the key table
//! ([`super::keymap`]) says which key asks for which action in which mode, the
//! state ([`super::state`]) what each action does.

/// What a key asks the dashboard to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Quit.
    Quit,
    /// Select the endpoint above.
    Up,
    /// Select the endpoint below.
    Down,
    /// Move the selection a page up.
    PageUp,
    /// Move the selection a page down.
    PageDown,
    /// Select the first endpoint.
    First,
    /// Select the last endpoint.
    Last,
    /// Open the detail view of the selected endpoint.
    Open,
    /// Close the detail view; in the overview, clear the filter.
    Back,
    /// Start typing the name filter.
    Filter,
    /// Next row order.
    Sort,
    /// Next span of the statistics shown.
    Window,
    /// Pause or resume probing.
    Pause,
    /// Ask whether to reset the statistics.
    AskReset,
    /// Write a snapshot to the export directory.
    Export,
    /// Open the help overlay.
    Help,
    /// Close the help overlay.
    CloseHelp,
    /// Stop typing the filter, keeping it.
    KeepFilter,
    /// Stop typing the filter, clearing it.
    ClearFilter,
    /// Delete the filter's last character.
    DeleteChar,
    /// Add the typed character to the filter.
    TypeChar,
    /// Yes, reset the statistics.
    Reset,
    /// No, keep the statistics.
    CancelReset,
    /// Scroll the help overlay a line up.
    ScrollHelpUp,
    /// Scroll the help overlay a line down.
    ScrollHelpDown,
    /// Scroll the help overlay a page up.
    ScrollHelpPageUp,
    /// Scroll the help overlay a page down.
    ScrollHelpPageDown,
    /// Halve the selected endpoint's interval (probe twice as often).
    Faster,
    /// Double the selected endpoint's interval.
    Slower,
}

impl Action {
    /// Every action, for the tests that check each is bound.
    pub const ALL: [Action; 29] = [
        Action::Quit,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::First,
        Action::Last,
        Action::Open,
        Action::Back,
        Action::Filter,
        Action::Sort,
        Action::Window,
        Action::Pause,
        Action::AskReset,
        Action::Export,
        Action::Help,
        Action::CloseHelp,
        Action::KeepFilter,
        Action::ClearFilter,
        Action::DeleteChar,
        Action::TypeChar,
        Action::Reset,
        Action::CancelReset,
        Action::ScrollHelpUp,
        Action::ScrollHelpDown,
        Action::ScrollHelpPageUp,
        Action::ScrollHelpPageDown,
        Action::Faster,
        Action::Slower,
    ];
}
