//! The value types of `[[alert]]`: which state changes fire, whom they go to, and in
//! which payload. Delivering them is the `alert` module's business.

use std::fmt;
use std::time::Duration;

/// A state an endpoint can enter that an alert may fire on (`on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    /// The endpoint went down.
    Down,
    /// The endpoint became degraded.
    Degraded,
    /// The endpoint came back up.
    Up,
}

impl AlertState {
    /// Every state, in the order the file's messages list them.
    pub const ALL: [AlertState; 3] = [AlertState::Down, AlertState::Degraded, AlertState::Up];

    /// Its name in the file.
    pub const fn name(self) -> &'static str {
        match self {
            AlertState::Down => "down",
            AlertState::Degraded => "degraded",
            AlertState::Up => "up",
        }
    }

    /// The state called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The payload of a webhook (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertFormat {
    /// `{"endpoint", "url", "state", "previous", "reason", "at"}`.
    Json,
    /// Slack's incoming webhook: `{"text": …}`.
    Slack,
    /// Discord's webhook: `{"content": …}`.
    Discord,
    /// ntfy: a plain text body with `Title`, `Priority` and `Tags` headers.
    Ntfy,
}

impl AlertFormat {
    /// Every format.
    pub const ALL: [AlertFormat; 4] = [
        AlertFormat::Json,
        AlertFormat::Slack,
        AlertFormat::Discord,
        AlertFormat::Ntfy,
    ];

    /// Its name in the file.
    pub const fn name(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Slack => "slack",
            AlertFormat::Discord => "discord",
            AlertFormat::Ntfy => "ntfy",
        }
    }

    /// The format called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Where an alert goes.
#[derive(Clone, PartialEq, Eq)]
pub enum AlertTarget {
    /// A program and its arguments, run without a shell (`command`).
    Command(Vec<String>),
    /// An HTTP(S) URL to POST to (`webhook`), `${VAR}` references resolved: it may
    /// hold a secret (a Slack hook's path), so it is never printed whole.
    Webhook(url::Url),
}

impl AlertTarget {
    /// How outputs and logs name it: a command by its program, a webhook by its
    /// scheme, host and port only. The path, query and credentials of a webhook may
    /// be secrets (a Slack hook's path is its key), so they are masked.
    pub fn label(&self) -> String {
        match self {
            AlertTarget::Command(argv) => argv.first().cloned().unwrap_or_default(),
            AlertTarget::Webhook(url) => {
                let host = url.host_str().unwrap_or("");
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                let masked = if url.path() == "/" && url.query().is_none() {
                    ""
                } else {
                    "…"
                };
                format!("{}://{host}{port}/{masked}", url.scheme())
            }
        }
    }
}

/// Written as [`AlertTarget::label`]: the webhook's secrets stay out of debug output.
impl fmt::Debug for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertTarget::Command(_) => write!(f, "Command({:?})", self.label()),
            AlertTarget::Webhook(_) => write!(f, "Webhook({:?})", self.label()),
        }
    }
}

/// One `[[alert]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The states entered that fire it.
    pub on: Vec<AlertState>,
    /// The endpoints it watches, by name; `None` for every endpoint.
    pub endpoints: Option<Vec<String>>,
    /// Whom it tells.
    pub target: AlertTarget,
    /// The webhook's payload (commands get environment variables whatever it says).
    pub format: AlertFormat,
    /// Fire again this often while the state lasts, if set.
    pub repeat: Option<Duration>,
}

impl Alert {
    /// Whether it fires for endpoint `name` entering `state`.
    pub fn fires(&self, name: &str, state: AlertState) -> bool {
        self.on.contains(&state)
            && self
                .endpoints
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name))
    }
}
