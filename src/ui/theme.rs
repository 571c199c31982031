//! Colours and symbols, with and without colour.

use ratatui::style::{Color, Modifier, Style};

use crate::probe::Phase;
use crate::stats::State;

/// How the dashboard looks. Every state has a symbol as well as a colour, so the
/// screen reads the same without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether to use colour at all.
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// The symbol of a state.
    pub fn symbol(state: State) -> &'static str {
        match state {
            State::Up => "●",
            State::Degraded => "◐",
            State::Down => "✖",
            State::Unknown => "○",
        }
    }

    /// The symbol a phase is drawn with in the stacked bar and its legend: a shade or
    /// pattern of its own, so the phases stay apart without colour.
    pub fn phase_symbol(phase: Phase) -> char {
        match phase {
            Phase::Dns => '░',
            Phase::Connect => '▒',
            Phase::Tls => '▓',
            Phase::Ttfb => '█',
            Phase::Transfer => '▚',
        }
    }

    /// The colour of a phase (on top of its symbol).
    pub fn phase(&self, phase: Phase) -> Style {
        self.fg(match phase {
            Phase::Dns => Color::Magenta,
            Phase::Connect => Color::Blue,
            Phase::Tls => Color::Yellow,
            Phase::Ttfb => Color::Cyan,
            Phase::Transfer => Color::Green,
        })
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// The style of a state's symbol and name.
    pub fn state(&self, state: State) -> Style {
        match state {
            State::Up => self.fg(Color::Green),
            State::Degraded => self.fg(Color::Yellow),
            State::Down => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            State::Unknown => self.fg(Color::DarkGray),
        }
    }

    /// Failures in sparklines and charts.
    pub fn failure(&self) -> Style {
        self.fg(Color::Red)
    }

    /// Latency bars and lines.
    pub fn latency(&self) -> Style {
        self.fg(Color::Cyan)
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    /// Titles and headings.
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row: reverse video works without colour too.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Keys in the footer and help.
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// probetop's own alarm (overloaded): red, and bold so it stands out without colour.
    pub fn alarm(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Warnings (paused, insecure, errors in the status line).
    pub fn warning(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
}
