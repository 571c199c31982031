//! Command-line interface: the clap definitions of DESIGN.md §1.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{ExportFormat, FailOn, defaults, parse_duration};

/// Live terminal dashboard for HTTP(S) endpoint latency.
// `args_conflicts_with_subcommands`: a first argument that names a subcommand is
// one (`probetop merge a.json`); anything else is a URL as before (`probetop
// http://x`), and options of the probing run cannot be mixed into `merge`.
#[derive(Debug, Clone, Parser)]
#[command(name = "probetop", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A subcommand instead of probing.
    #[command(subcommand)]
    pub command: Option<Command>,

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

    /// Continue the all-time statistics of this snapshot (JSON), per endpoint name;
    /// a directory: its newest probetop-*.json.
    #[arg(long, value_name = "SNAPSHOT")]
    pub resume: Option<PathBuf>,

    /// Name of this vantage point in snapshots (default: the host name).
    #[arg(long, value_name = "NAME", value_parser = crate::snapshot::vantage::validate)]
    pub vantage: Option<String>,
}

/// What probetop can do besides probing.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Merge the snapshots of several vantage points into one, on stdout.
    ///
    /// Per endpoint name, counters are summed and histograms added exactly; each
    /// vantage point's own numbers stay under `vantages`.
    Merge(MergeArgs),
}

/// `probetop merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The snapshots (JSON), one per vantage point.
    #[arg(value_name = "SNAPSHOT", required = true)]
    pub files: Vec<PathBuf>,

    /// Format of the merged snapshot: json, csv or md.
    #[arg(long, value_name = "FMT", default_value_t = defaults::STDOUT_FORMAT, value_parser = str::parse::<ExportFormat>)]
    pub export_format: ExportFormat,
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

    #[test]
    fn merge_is_a_subcommand_beside_the_urls() {
        let cli = Cli::try_parse_from(["probetop", "http://x/", "https://y/"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.urls, ["http://x/", "https://y/"]);
        let cli = Cli::try_parse_from([
            "probetop",
            "merge",
            "a.json",
            "b.json",
            "--export-format",
            "md",
        ])
        .unwrap();
        let Some(Command::Merge(merge)) = cli.command else {
            panic!("not a merge: {cli:?}");
        };
        assert_eq!(
            merge.files,
            [PathBuf::from("a.json"), PathBuf::from("b.json")]
        );
        assert_eq!(merge.export_format, ExportFormat::Markdown);
        assert!(Cli::try_parse_from(["probetop", "merge"]).is_err());
        // After an option, `merge` is taken for a URL (the app refuses it with a hint).
        let cli = Cli::try_parse_from(["probetop", "--headless", "merge", "a.json"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.urls, ["merge", "a.json"]);
        let cli =
            Cli::try_parse_from(["probetop", "--resume", "a.json", "--vantage", "eu-1"]).unwrap();
        assert_eq!(cli.resume, Some(PathBuf::from("a.json")));
        assert_eq!(cli.vantage.as_deref(), Some("eu-1"));
        assert!(Cli::try_parse_from(["probetop", "--vantage", "eu 1"]).is_err());
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
