//! Command-line interface: the clap definitions of DESIGN.md §1.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Live terminal dashboard for HTTP(S) endpoint latency.
#[derive(Debug, Clone, Parser)]
#[command(name = "probetop", version, about, long_about = None)]
pub struct Cli {
    /// Watch these URLs too (with the interval and timeout below).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// TOML config; default: ./probetop.toml, else $XDG_CONFIG_HOME/probetop/config.toml.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Start the built-in demo target on 127.0.0.1 and watch it.
    #[arg(long)]
    pub demo: bool,

    /// Probe interval for URLs given on the command line.
    #[arg(short, long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Probe timeout for URLs given on the command line.
    #[arg(short, long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Validate the config, list the endpoints it defines, exit.
    #[arg(long)]
    pub check: bool,

    /// No UI: probe until --duration elapses or SIGINT/SIGTERM, then print the snapshot JSON.
    #[arg(long)]
    pub headless: bool,

    /// Stop after this long (headless or not).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// With --headless: exit 3 when any endpoint ends the run down (`down`), or
    /// degraded or down (`degraded`). An endpoint that never finished a probe counts
    /// as down.
    #[arg(long, value_name = "STATE", value_parser = ["down", "degraded"])]
    pub fail_on: Option<String>,

    /// Format of the headless snapshot on stdout: json, csv or md.
    #[arg(long, value_name = "FMT", default_value = "json", value_parser = parse_format)]
    pub export_format: crate::snapshot::Format,

    /// Where snapshots go (default: [export] dir, else ./probetop-snapshots).
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Append an HdrHistogram interval log to this file (see [export] hlog_interval).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,

    /// Diagnostics go to this file (the UI owns the terminal).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// Parses a snapshot format name.
pub fn parse_format(text: &str) -> Result<crate::snapshot::Format, String> {
    crate::snapshot::Format::from_name(text)
        .ok_or_else(|| format!("unknown format {text:?}: expected json, csv or md"))
}

/// The shortest duration accepted: a finer interval could not be kept by the timer
/// (1 ms granularity) and would only flood the target.
pub const MIN_DURATION: Duration = Duration::from_millis(1);
/// The longest duration accepted (a year): far beyond any useful interval or
/// timeout, and small enough that adding it to a clock never overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a humantime duration (`250ms`, `1s`, `5m`) between 1 ms and a year.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?}: {e} (examples: 250ms, 1s, 5m)"))?;
    if duration.is_zero() {
        return Err(format!("duration {text:?} must be greater than zero"));
    }
    if duration < MIN_DURATION {
        return Err(format!("duration {text:?} is shorter than 1ms"));
    }
    if duration > MAX_DURATION {
        return Err(format!("duration {text:?} is longer than a year"));
    }
    Ok(duration)
}
