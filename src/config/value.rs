//! The value types of the configuration: what a key or a flag can say, with the names
//! it is written with in the file and on the command line.

use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;

/// A file format of the snapshot (`export.formats`, `--export-format`).
///
/// How each one is written is the snapshot's business (`snapshot::Render`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum ExportFormat {
    /// The JSON document of DESIGN.md.
    Json,
    /// One row per endpoint.
    Csv,
    /// Tables to paste into an incident note.
    #[value(name = "md")]
    Markdown,
}

impl ExportFormat {
    /// Its name in the file and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Markdown => "md",
        }
    }

    /// The format called `name` (`json`, `csv`, `md`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::value_variants()
            .iter()
            .copied()
            .find(|format| format.name() == name)
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The command line's wording; the file's (with its quoted names) is the validator's.
impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::from_name(text)
            .ok_or_else(|| format!("unknown format {text:?}: expected json, csv or md"))
    }
}

/// Which root certificates a TLS connection trusts, beside its `ca_file` (`tls_roots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsRoots {
    /// The operating system's trust store and Mozilla's roots (the webpki roots).
    #[default]
    SystemAndWebpki,
    /// Mozilla's roots only, the same on every machine.
    Webpki,
    /// The operating system's trust store only (a company CA installed there, say).
    System,
}

impl TlsRoots {
    /// Its name in the file.
    pub const fn name(self) -> &'static str {
        match self {
            TlsRoots::SystemAndWebpki => "system+webpki",
            TlsRoots::Webpki => "webpki",
            TlsRoots::System => "system",
        }
    }

    /// Whether the operating system's store is read.
    pub const fn system(self) -> bool {
        matches!(self, TlsRoots::SystemAndWebpki | TlsRoots::System)
    }

    /// Whether Mozilla's roots are trusted.
    pub const fn webpki(self) -> bool {
        matches!(self, TlsRoots::SystemAndWebpki | TlsRoots::Webpki)
    }
}

impl fmt::Display for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsRoots {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [
            TlsRoots::SystemAndWebpki,
            TlsRoots::Webpki,
            TlsRoots::System,
        ]
        .into_iter()
        .find(|roots| roots.name() == text)
        .ok_or_else(|| {
            format!(
                "invalid tls_roots {text:?}: expected \"system+webpki\", \"webpki\" or \"system\""
            )
        })
    }
}

/// How a probe gets its connection (`connection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectionMode {
    /// Keep connections alive between probes (what most clients do).
    #[default]
    Reuse,
    /// Open a new connection for every probe, so every probe pays the full cost.
    Fresh,
}

impl FromStr for ConnectionMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "reuse" => Ok(ConnectionMode::Reuse),
            "fresh" => Ok(ConnectionMode::Fresh),
            other => Err(format!(
                "invalid connection mode {other:?}: expected \"reuse\" or \"fresh\""
            )),
        }
    }
}

/// A forced HTTP version (`http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge on plain HTTP, no fallback over TLS).
    Http2,
}

impl FromStr for HttpVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "1.1" => Ok(HttpVersion::Http1),
            "2" => Ok(HttpVersion::Http2),
            other => Err(format!(
                "invalid HTTP version {other:?}: expected \"1.1\" or \"2\""
            )),
        }
    }
}

/// Which end states of a headless run count as a failure (`--fail-on`): `down`, an
/// endpoint down (or that never finished a probe); `degraded`, one degraded or down.
// No doc comments on the variants: clap would show them in `--help` as a list of one
// value a line instead of the flag's `[possible values: down, degraded]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum FailOn {
    // An endpoint that is down, or never finished a probe.
    Down,
    // An endpoint that is degraded or down, or never finished a probe.
    Degraded,
}

impl FailOn {
    /// Its name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            FailOn::Down => "down",
            FailOn::Degraded => "degraded",
        }
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many consecutive results it takes to change a known state (`down_after`,
/// `up_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRule {
    /// Consecutive failures that turn an up (or degraded) endpoint down.
    pub down_after: u32,
    /// Consecutive successes that bring a down endpoint back up.
    pub up_after: u32,
}

impl Default for StateRule {
    fn default() -> Self {
        super::defaults::STATE_RULE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_clap() {
        for format in ExportFormat::value_variants() {
            let clap_name = format.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(clap_name.as_deref(), Some(format.name()));
            assert_eq!(format.name().parse::<ExportFormat>(), Ok(*format));
        }
        for fail_on in FailOn::value_variants() {
            let clap_name = fail_on
                .to_possible_value()
                .map(|v| v.get_name().to_string());
            assert_eq!(clap_name.as_deref(), Some(fail_on.name()));
        }
    }

    #[test]
    fn unknown_names_say_what_is_expected() {
        assert_eq!(
            "pdf".parse::<ExportFormat>(),
            Err("unknown format \"pdf\": expected json, csv or md".into())
        );
        assert_eq!("2".parse::<HttpVersion>(), Ok(HttpVersion::Http2));
        assert!(
            "3".parse::<HttpVersion>()
                .unwrap_err()
                .contains("expected \"1.1\" or \"2\"")
        );
        assert_eq!("fresh".parse::<ConnectionMode>(), Ok(ConnectionMode::Fresh));
        assert!(
            "keep-alive"
                .parse::<ConnectionMode>()
                .unwrap_err()
                .contains("expected \"reuse\" or \"fresh\"")
        );
    }
}
