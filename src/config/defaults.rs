//! Every default of the configuration, in one place: the file's keys, the command
//! line's flags (its `--help` shows them) and the modules that use them read them here.

use std::time::Duration;

use super::alert::{AlertFormat, AlertState};
use super::value::{ConnectionMode, ExportFormat, StateRule, TlsRoots};

/// Probe interval (`interval`, `--interval`).
pub const INTERVAL: Duration = Duration::from_secs(1);
/// [`INTERVAL`] as written on the command line, for clap's `default_value` (which
/// needs text); a test checks that the two agree.
pub const INTERVAL_TEXT: &str = "1s";
/// Probe timeout (`timeout`, `--timeout`).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// [`TIMEOUT`] as written on the command line; a test checks that the two agree.
pub const TIMEOUT_TEXT: &str = "5s";
/// Span of the rolling-window statistics (`window`).
pub const WINDOW: Duration = Duration::from_secs(300);
/// The shortest window accepted: a shorter one would summarise next to nothing.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Where snapshots are written (`export.dir`, `--export-dir`).
pub const EXPORT_DIR: &str = "probetop-snapshots";
/// The formats the export key writes (`export.formats`).
pub const EXPORT_FORMATS: [ExportFormat; 2] = [ExportFormat::Json, ExportFormat::Csv];
/// The format of the headless snapshot on stdout (`--export-format`).
pub const STDOUT_FORMAT: ExportFormat = ExportFormat::Json;
/// Whether every exit writes a snapshot into the export directory (`export.on_exit`).
pub const EXPORT_ON_EXIT: bool = false;
/// Time between two interval histograms in the HdrHistogram log (`export.hlog_interval`).
pub const HLOG_INTERVAL: Duration = Duration::from_secs(10);
/// Upper bounds (seconds) of the Prometheus latency histogram buckets
/// (`metrics.buckets`): 1 ms to 10 s.
pub const METRICS_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Whether `/metrics` serves a histogram per phase and endpoint (`metrics.phases`):
/// off, since they are five times the series of the latency histogram (80 of an
/// endpoint's 111 series), which at a thousand endpoints costs Prometheus more than
/// everything else together.
pub const METRICS_PHASES: bool = false;
/// Cap on a response body (`max_body_bytes`); a larger body is a `body` error.
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
/// Streaks that change an endpoint's state (`down_after`, `up_after`).
pub const STATE_RULE: StateRule = StateRule {
    down_after: 2,
    up_after: 1,
};
/// HTTP method (`method`).
pub const METHOD: reqwest::Method = reqwest::Method::GET;
/// Whether redirects are followed (`follow_redirects`).
pub const FOLLOW_REDIRECTS: bool = true;
/// Whether a redirect from https:// to http:// is followed (`allow_downgrade`).
pub const ALLOW_DOWNGRADE: bool = false;
/// Whether any certificate is accepted (`insecure`).
pub const INSECURE: bool = false;
/// The roots TLS trusts beside `ca_file` (`tls_roots`): the system's and Mozilla's,
/// as curl and browsers do, so a company CA installed on the machine is trusted.
pub const TLS_ROOTS: TlsRoots = TlsRoots::SystemAndWebpki;
/// How a probe gets its connection (`connection`).
pub const CONNECTION: ConnectionMode = ConnectionMode::Reuse;
/// Whether the dashboard rings the terminal bell when an endpoint goes down (`[ui] bell`).
pub const BELL: bool = true;
/// Whether an endpoint is a canary of probetop's own network (`canary`).
pub const CANARY: bool = false;
/// The states entered that fire an alert (`[[alert]] on`).
pub const ALERT_ON: [AlertState; 3] = [AlertState::Down, AlertState::Degraded, AlertState::Up];
/// The payload of an alert's webhook (`[[alert]] format`).
pub const ALERT_FORMAT: AlertFormat = AlertFormat::Json;

/// The largest default overlap cap (`max_in_flight` when not given).
pub const MAX_IN_FLIGHT_CAP: u32 = 1000;

/// The default overlap cap (`max_in_flight`): enough that timeouts alone never skip a
/// tick (up to [`MAX_IN_FLIGHT_CAP`] probes of one endpoint at once).
pub fn max_in_flight(interval: Duration, timeout: Duration) -> u32 {
    let ratio = timeout.as_nanos().div_ceil(interval.as_nanos().max(1));
    // One more than the ratio, so a probe finishing right at its timeout never
    // collides with the tick that is due at the same instant.
    u32::try_from(ratio + 1)
        .unwrap_or(u32::MAX)
        .clamp(1, MAX_IN_FLIGHT_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_texts_match_the_durations() {
        assert_eq!(super::super::parse_duration(INTERVAL_TEXT), Ok(INTERVAL));
        assert_eq!(super::super::parse_duration(TIMEOUT_TEXT), Ok(TIMEOUT));
    }

    #[test]
    fn default_overlap_cap_covers_the_timeout() {
        assert_eq!(
            max_in_flight(Duration::from_secs(1), Duration::from_secs(5)),
            6
        );
        assert_eq!(
            max_in_flight(Duration::from_secs(5), Duration::from_secs(1)),
            2
        );
    }
}
