//! Command-line interface: the clap definitions of DESIGN.md §1.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{ExportFormat, FailOn, defaults, parse_duration};

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
    #[arg(short, long, value_name = "DUR", default_value = defaults::INTERVAL_TEXT, value_parser = parse_duration)]
    pub interval: Duration,

    /// Probe timeout for URLs given on the command line.
    #[arg(short, long, value_name = "DUR", default_value = defaults::TIMEOUT_TEXT, value_parser = parse_duration)]
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
    #[arg(long, value_name = "STATE", value_enum, requires = "headless")]
    pub fail_on: Option<FailOn>,

    /// Format of the headless snapshot on stdout: json, csv or md.
    // Parsed by `FromStr` rather than as a `ValueEnum`, for its error message.
    #[arg(long, value_name = "FMT", default_value_t = defaults::STDOUT_FORMAT, value_parser = str::parse::<ExportFormat>)]
    pub export_format: ExportFormat,

    /// Where snapshots go (default: [export] dir, else ./probetop-snapshots).
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Write an HdrHistogram interval log to this file (see [export] hlog_interval; an
    /// older log there is kept as FILE.1).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,

    /// Diagnostics go to this file (the UI owns the terminal).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn defaults_come_from_the_config_and_help_shows_them() {
        let cli = Cli::try_parse_from(["probetop"]).unwrap();
        assert_eq!(cli.interval, defaults::INTERVAL);
        assert_eq!(cli.timeout, defaults::TIMEOUT);
        assert_eq!(cli.export_format, defaults::STDOUT_FORMAT);
        let help = Cli::command().render_long_help().to_string();
        for shown in [
            format!("[default: {}]", defaults::INTERVAL_TEXT),
            format!("[default: {}]", defaults::TIMEOUT_TEXT),
            format!("[default: {}]", defaults::STDOUT_FORMAT),
            // Written out in the doc comment, since the file's `[export] dir` comes first.
            format!("else ./{})", defaults::EXPORT_DIR),
        ] {
            assert!(help.contains(&shown), "{shown} in:\n{help}");
        }
    }

    #[test]
    fn fail_on_takes_its_names() {
        let cli = Cli::try_parse_from(["probetop", "--headless", "--fail-on", "degraded"]).unwrap();
        assert_eq!(cli.fail_on, Some(FailOn::Degraded));
        assert!(Cli::try_parse_from(["probetop", "--headless", "--fail-on", "up"]).is_err());
    }

    /// The dashboard has no exit code to fail with: asking for one is a usage error,
    /// not an option silently ignored.
    #[test]
    fn fail_on_needs_headless() {
        let error = Cli::try_parse_from(["probetop", "--fail-on", "down"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(error.to_string().contains("--headless"), "{error}");
    }
}
