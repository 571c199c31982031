//! The configuration model: what to probe and how, after validation.
//!
//! Config reads no other module of the crate (DESIGN.md §3): it owns its value types
//! (`value`), its defaults (`defaults`) and its durations (`duration`). `raw` is the
//! file as written, `validate` checks it job by job (with `locate` finding the spans
//! of keys in the parsed file), `load` reads the file and merges the command line,
//! and `error` reports problems with their file, line, column and key.

mod alert;
pub mod defaults;
mod duration;
mod error;
mod interpolate;
mod load;
mod locate;
pub mod mask;
mod raw;
mod validate;
mod value;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use alert::{Alert, AlertFormat, AlertState, AlertTarget};
pub use duration::{MAX_DURATION, MIN_DURATION, parse_duration};
pub use error::{ConfigError, ConfigErrors, Location};
pub use interpolate::interpolate;
pub use load::{LoadOptions, default_config_path, load};
pub use value::{ConnectionMode, ExportFormat, FailOn, HttpVersion, StateRule, TlsRoots};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
    /// Span of the rolling-window statistics.
    pub window: Duration,
    /// Where snapshots are written.
    pub export_dir: PathBuf,
    /// The formats the export key writes.
    pub export_formats: Vec<ExportFormat>,
    /// Whether every exit writes a snapshot (in `export_formats`) into `export_dir`.
    pub export_on_exit: bool,
    /// The HdrHistogram interval log to append to, if any.
    pub hlog: Option<PathBuf>,
    /// Time between two interval histograms in the log.
    pub hlog_interval: Duration,
    /// Upper bounds (seconds) of the Prometheus latency histogram buckets.
    pub metrics_buckets: Vec<f64>,
    /// Whether `/metrics` serves the per-phase histograms
    /// (`probetop_phase_duration_seconds`, `[metrics] phases`).
    pub metrics_phases: bool,
    /// What to probe, in file order, then command-line order. Shared: the statistics,
    /// the engine, the reloader and every output hold this one list (each copy of
    /// 50,000 endpoints cost tens of milliseconds of start-up).
    pub endpoints: Arc<[Endpoint]>,
    /// What to tell whom when an endpoint's state changes (`[[alert]]`), in file order.
    pub alerts: Vec<Alert>,
    /// Whether the dashboard rings the terminal bell when an endpoint goes down.
    pub bell: bool,
}

/// What a probe of an endpoint does, by its URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `http://` or `https://`: a request and its response.
    Http,
    /// `tcp://host:port`: resolve the name and open a TCP connection.
    Tcp,
    /// `tls://host:port`: like `tcp://`, then a TLS handshake.
    Tls,
}

/// One endpoint to watch.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Unique display name; defaults to the URL.
    pub name: String,
    /// What to request, `${VAR}` references resolved.
    pub url: url::Url,
    /// The URL as written, `${VAR}` references kept and secrets masked
    /// ([`mask::mask_url`]): what every output shows, so that a secret in the URL
    /// stays out of them.
    pub url_as_written: String,
    /// Time between scheduled probes.
    pub interval: Duration,
    /// Longest a probe may take, request to end of body.
    pub timeout: Duration,
    /// HTTP method.
    pub method: reqwest::Method,
    /// Extra request headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<String>,
    /// HTTP version: negotiated (`None`), or forced.
    pub http: Option<HttpVersion>,
    /// Whether redirects are followed (up to 10).
    pub follow_redirects: bool,
    /// Whether a redirect from https:// to http:// is followed.
    pub allow_downgrade: bool,
    /// Connect to this address instead of looking the URL's host up (the host still
    /// names the server in `Host` and SNI); the port is the URL's.
    pub resolve: Option<std::net::IpAddr>,
    /// Extra certificates (PEM) to trust: CAs, or a server's own certificate.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
    /// The root certificates trusted beside `ca_file`.
    pub tls_roots: TlsRoots,
    /// Reuse connections or open a fresh one per probe.
    pub connection: ConnectionMode,
    /// Most probes of this endpoint in flight at once; a tick beyond it is skipped.
    pub max_in_flight: u32,
    /// Largest response body read; a larger one is a `body` error.
    pub max_body_bytes: u64,
    /// Success conditions.
    pub expect: Expect,
    /// How many consecutive failures / successes change its state.
    pub state_rule: StateRule,
    /// A canary of probetop's own network: while every canary fails, the other
    /// endpoints' failures are excused (`canary`).
    pub canary: bool,
}

impl Endpoint {
    /// What a probe of this endpoint does.
    pub fn kind(&self) -> ProbeKind {
        match self.url.scheme() {
            "tcp" => ProbeKind::Tcp,
            "tls" => ProbeKind::Tls,
            _ => ProbeKind::Http,
        }
    }

    /// A GET of `url` named `name`, with every other setting at its default.
    pub fn new(name: &str, url: url::Url, interval: Duration, timeout: Duration) -> Self {
        Endpoint {
            name: name.to_string(),
            url_as_written: mask::mask_url(url.as_str()),
            url,
            interval,
            timeout,
            method: defaults::METHOD,
            headers: Vec::new(),
            body: None,
            http: None,
            follow_redirects: defaults::FOLLOW_REDIRECTS,
            allow_downgrade: defaults::ALLOW_DOWNGRADE,
            resolve: None,
            ca_file: None,
            insecure: defaults::INSECURE,
            tls_roots: defaults::TLS_ROOTS,
            connection: defaults::CONNECTION,
            max_in_flight: defaults::max_in_flight(interval, timeout),
            max_body_bytes: defaults::MAX_BODY_BYTES,
            expect: Expect::default(),
            state_rule: defaults::STATE_RULE,
            canary: defaults::CANARY,
        }
    }
}

/// An accepted status: one code, or a class of a hundred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this code.
    Code(u16),
    /// Any code of this hundred (`2` for `"2xx"`).
    Class(u16),
}

impl StatusMatch {
    /// Whether `status` matches.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            StatusMatch::Code(code) => code == status,
            StatusMatch::Class(class) => status / 100 == class,
        }
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusMatch::Code(code) => write!(f, "{code}"),
            StatusMatch::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// Success conditions of an endpoint.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Accepted statuses; `None` accepts any 2xx or 3xx.
    pub status: Option<Vec<StatusMatch>>,
    /// The body must contain this text.
    pub body_contains: Option<String>,
    /// The body must match this regular expression.
    pub body_regex: Option<regex::Regex>,
    /// The body must be JSON with these values at these JSON Pointers.
    pub json: Vec<(String, serde_json::Value)>,
    /// Response headers that must be present and match these regular expressions.
    pub headers: Vec<(String, regex::Regex)>,
    /// A slower (but otherwise good) response makes the endpoint degraded.
    pub max_latency: Option<Duration>,
    /// A certificate expiring in fewer days makes the endpoint degraded.
    pub min_cert_days: Option<u32>,
}

impl Expect {
    /// Whether `status` is an accepted status code.
    pub fn accepts_status(&self, status: u16) -> bool {
        match &self.status {
            Some(list) => list.iter().any(|m| m.accepts(status)),
            None => (200..400).contains(&status),
        }
    }

    /// Whether judging a response needs its body kept.
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || !self.json.is_empty()
    }
}
