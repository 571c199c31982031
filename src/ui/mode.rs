//! The dashboard's modes: which screen shows, and which keys apply.
//!
//! The help overlay and the reset question are modes of their own that remember
//! the screen under them, because the mouse wheel keeps working under both (it may
//! even move the detail view to another endpoint) and closing them must return to
//! exactly that screen.

/// What the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The table of endpoints.
    Overview,
    /// One endpoint in depth (by config index).
    Detail(usize),
}

/// Where keys go, and what the screen shows under any overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The table of endpoints, keys moving the selection.
    Overview,
    /// Typing the name filter, in the overview: keys are text.
    Filter,
    /// One endpoint in depth (by config index).
    Detail(usize),
    /// The help overlay, over a screen; it swallows every key but its own.
    Help(Screen),
    /// Waiting for the answer to "reset all statistics?", asked over a screen.
    ConfirmReset(Screen),
}

impl Mode {
    /// The screen drawn in this mode (under the overlay, if any).
    pub fn screen(self) -> Screen {
        match self {
            Mode::Overview | Mode::Filter => Screen::Overview,
            Mode::Detail(index) => Screen::Detail(index),
            Mode::Help(screen) | Mode::ConfirmReset(screen) => screen,
        }
    }

    /// The same mode over `screen` instead: an overlay stays open, the filter keeps
    /// being typed (it is only ever over the overview).
    pub fn with_screen(self, screen: Screen) -> Mode {
        match self {
            Mode::Overview | Mode::Detail(_) => screen.into(),
            Mode::Filter => Mode::Filter,
            Mode::Help(_) => Mode::Help(screen),
            Mode::ConfirmReset(_) => Mode::ConfirmReset(screen),
        }
    }
}

impl From<Screen> for Mode {
    /// Browsing `screen`, no overlay.
    fn from(screen: Screen) -> Self {
        match screen {
            Screen::Overview => Mode::Overview,
            Screen::Detail(index) => Mode::Detail(index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_keep_their_screen() {
        let detail = Screen::Detail(3);
        assert_eq!(Mode::Help(detail).screen(), detail);
        assert_eq!(Mode::ConfirmReset(detail).screen(), detail);
        assert_eq!(Mode::Filter.screen(), Screen::Overview);
        assert_eq!(
            Mode::Help(detail).with_screen(Screen::Detail(4)),
            Mode::Help(Screen::Detail(4))
        );
        assert_eq!(
            Mode::Detail(3).with_screen(Screen::Detail(4)),
            Mode::Detail(4)
        );
        assert_eq!(Mode::Filter.with_screen(Screen::Detail(4)), Mode::Filter);
        assert_eq!(Mode::from(Screen::Overview), Mode::Overview);
    }
}
