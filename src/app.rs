//! The program: parse the command line, load the config, run the chosen mode, and
//! map the result to an exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::alert::AlertService;
use crate::cli::Cli;
use crate::config::{
    self, Config, ConfigError, ConfigErrors, Endpoint, ExportFormat, FailOn, LoadOptions,
};
use crate::demo::DemoServer;
use crate::engine::Engine;
use crate::hlog::HlogWriter;
use crate::metrics::MetricsServer;
use crate::signals::Signals;
use crate::snapshot::{self, Render as _};
use crate::stats::{self, Clock, State, StatsHandle};

/// Exit code of a usage or config error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a headless run with `--fail-on` whose endpoints ended too unhealthy.
pub const EXIT_UNHEALTHY: u8 = 3;

/// Runs probetop with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = crate::logging::init(cli.log_file.as_deref(), cli.headless) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(run(cli));
    // Stalled demo connections and the like must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// Runs probetop with parsed arguments.
pub async fn run(cli: Cli) -> ExitCode {
    // First of all, so that no signal during start-up meets the default action.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("error: cannot install the signal handlers: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let options = LoadOptions {
        config_path: cli.config.clone(),
        urls: cli.urls.clone(),
        interval: Some(cli.interval),
        timeout: Some(cli.timeout),
        export_dir: cli.export_dir.clone(),
        hlog: cli.hlog.clone(),
    };
    let mut config = match config::load(&options) {
        Ok(config) => config,
        Err(errors) => return usage_error(&errors),
    };
    let demo = if cli.demo {
        match start_demo(&mut config).await {
            Ok(demo) => Some(demo),
            Err(code) => return code,
        }
    } else {
        None
    };
    if config.endpoints.is_empty() {
        let mut message = String::from("no endpoints to probe");
        if let Some(source) = &config.source {
            message = format!("{} defines no [[endpoint]]", source.display());
        }
        eprintln!(
            "error: {message}\n\nGive probetop something to watch:\n  probetop https://example.com/health     URLs on the command line\n  probetop --config probetop.toml         [[endpoint]] tables in a config file\n  probetop --demo                         the built-in demo target"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if cli.check {
        return match print_check(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write to standard output: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    if !cli.headless && !std::io::stdout().is_terminal() {
        eprintln!(
            "error: standard output is not a terminal; use --headless (with --duration) to print a JSON snapshot instead"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let code = if cli.headless {
        run_headless(
            &config,
            cli.duration,
            cli.export_format,
            cli.metrics_addr,
            cli.fail_on,
            &mut signals,
        )
        .await
    } else {
        run_dashboard(&config, cli.duration, cli.metrics_addr, &mut signals).await
    };
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    code
}

fn usage_error(errors: &ConfigErrors) -> ExitCode {
    // Formatted first and written at once: stderr is unbuffered, and thousands of
    // errors written piece by piece cost a system call per piece.
    // The excerpts and values come from the file and the command line: cleaned of
    // escape sequences and cut to a sane width before they reach the terminal.
    let text = crate::text::terminal_safe(&errors.to_string());
    eprint!("{text}");
    ExitCode::from(EXIT_USAGE)
}

async fn start_demo(config: &mut Config) -> Result<DemoServer, ExitCode> {
    let demo = DemoServer::start().await.map_err(|e| {
        eprintln!("error: cannot start the demo server on 127.0.0.1: {e:#}");
        ExitCode::from(EXIT_FAILURE)
    })?;
    for endpoint in demo.endpoints() {
        if config.endpoints.iter().any(|e| e.name == endpoint.name) {
            let error = ConfigError::usage(format!(
                "endpoint name {:?} is reserved for --demo; rename it in the config",
                endpoint.name
            ));
            return Err(usage_error(&error.into()));
        }
        config.endpoints.push(endpoint);
    }
    tracing::info!(addr = %demo.addr(), "demo target started");
    Ok(demo)
}

/// Writes what `--check` found; a failed write (a closed pipe, a full disk) is the
/// caller's to report.
fn print_check(config: &Config) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "command line".to_string(), |p| p.display().to_string());
    let count = config.endpoints.len();
    let mut text = format!(
        "{source}: OK, {count} endpoint{}\n",
        if count == 1 { "" } else { "s" }
    );
    let name_width = config
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    // Writing into a String cannot fail.
    let _ = writeln!(
        text,
        "{:<name_width$}  {:>8}  {:>8}  URL",
        "NAME", "INTERVAL", "TIMEOUT"
    );
    for e in &config.endpoints {
        let _ = writeln!(
            text,
            "{:<name_width$}  {:>8}  {:>8}  {}",
            e.name,
            crate::text::duration(e.interval),
            crate::text::duration(e.timeout),
            e.url_as_written
        );
    }
    // Names and URLs are the config's: cleaned before they reach the terminal.
    let text = crate::text::terminal_safe(&text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A started engine with its statistics.
struct Running {
    engine: Engine,
    stats: StatsHandle,
    /// The statistics task; it ends once it has answered `finish`, or when the
    /// engine's recorders and the handle are gone.
    stats_thread: std::thread::JoinHandle<()>,
    /// End of `--duration`, if given.
    deadline: Option<std::time::Instant>,
    /// When the statistics started.
    started_at: std::time::SystemTime,
    /// The alerting, until [`launch`] hands it to the outputs: started before the
    /// engine, so that it watches the very first state change.
    alerts: Option<AlertService>,
}

/// Starts the statistics and the engine. `retention` is how long raw window entries
/// are kept (the dashboard summarises spans up to it).
fn start(
    config: &Config,
    duration: Option<Duration>,
    retention: Duration,
) -> anyhow::Result<Running> {
    let clock = Clock::now();
    let (recorder, stats, stats_thread) = stats::spawn(
        config
            .endpoints
            .iter()
            .map(|e| stats::EndpointRules {
                state: e.state_rule,
                min_cert_days: e.expect.min_cert_days,
                canary: e.canary,
            })
            .collect(),
        config.window,
        retention,
        clock,
    )?;
    let deadline = duration.map(|d| clock.start + d);
    let alerts = AlertService::start(config, &stats)
        .map_err(|e| anyhow::anyhow!("cannot start the alerting: {e}"))?;
    let engine = Engine::start(&config.endpoints, &recorder, clock, deadline)?;
    Ok(Running {
        engine,
        stats,
        stats_thread,
        deadline,
        started_at: clock.start_wall,
        alerts,
    })
}

impl Running {
    /// Waits until the engine ends by itself (its `--duration` deadline passed and the
    /// probes in flight finished) or a signal arrives, which cancels the probes in flight.
    async fn wait(&self, signals: &mut Signals) {
        let deadline = async {
            if let Some(deadline) = self.deadline {
                tokio::time::sleep_until(deadline.into()).await;
            }
        };
        tokio::select! {
            ((), ()) = async { tokio::join!(self.engine.wait(), deadline) } => {}
            signal = signals.recv() => {
                tracing::info!(signal = signal.name(), "signal received: cancelling probes in flight");
                self.engine.abort();
                self.engine.wait().await;
            }
        }
    }
}

async fn run_headless(
    config: &Config,
    duration: Option<Duration>,
    format: ExportFormat,
    metrics_addr: Option<std::net::SocketAddr>,
    fail_on: Option<FailOn>,
    signals: &mut Signals,
) -> ExitCode {
    let retention = retention_for(config, config.window);
    let (running, outputs) = match launch(config, duration, retention, metrics_addr).await {
        Ok(launched) => launched,
        Err(code) => return code,
    };
    running.wait(signals).await;
    outputs.finish().await;
    let code = print_snapshot(config.endpoints.clone(), &running.stats, format, fail_on).await;
    // It has answered `finish`, so it is ending: joining cannot block for long.
    join_stats_thread(running.stats_thread).await;
    code
}

/// One line of `--fail-on`'s report: `NAME: STATE: CLASS: MESSAGE` when the latest
/// probe failed, `NAME: STATE` otherwise (`unknown: no probe finished` when none did).
fn unhealthy_line(endpoint: &Endpoint, stats: &stats::EndpointStats) -> String {
    let state = stats.state().as_str();
    match stats.last() {
        None => format!("{}: {state}: no probe finished", endpoint.name),
        Some(last) => match &last.error {
            Some(error) => format!(
                "{}: {state}: {}: {}",
                endpoint.name,
                error.class.as_str(),
                error.message
            ),
            None => format!("{}: {state}", endpoint.name),
        },
    }
}

/// Waits for the statistics thread to end; a panic there is a bug worth a log line
/// (the snapshot was already taken, so the run's result stands).
async fn join_stats_thread(thread: std::thread::JoinHandle<()>) {
    match tokio::task::spawn_blocking(move || thread.join()).await {
        Ok(Ok(())) => {}
        Ok(Err(_panic)) => tracing::error!("the statistics thread panicked"),
        Err(error) => tracing::error!(%error, "joining the statistics thread failed"),
    }
}

/// How long raw window entries must be kept: `wanted`, and two hlog intervals
/// (interval histograms are built from them).
fn retention_for(config: &Config, wanted: Duration) -> Duration {
    match config.hlog {
        Some(_) => wanted.max(config.hlog_interval * 2),
        None => wanted,
    }
}

/// Starts the interval log when one is configured; a file that cannot be opened is
/// a usage error, reported before anything is shown.
fn start_hlog(config: &Config, running: &Running) -> Result<Option<HlogWriter>, ExitCode> {
    let Some(path) = &config.hlog else {
        return Ok(None);
    };
    HlogWriter::start(
        path,
        config.hlog_interval,
        config.endpoints.clone().into(),
        running.stats.clone(),
        running.started_at,
    )
    .map(Some)
    .map_err(|e| {
        running.engine.abort();
        eprintln!("error: cannot open the hlog file {}: {e}", path.display());
        ExitCode::from(EXIT_USAGE)
    })
}

/// Starts the statistics, the engine and the outputs; a failure is reported on
/// stderr and turned into the exit code.
async fn launch(
    config: &Config,
    duration: Option<Duration>,
    retention: Duration,
    metrics_addr: Option<std::net::SocketAddr>,
) -> Result<(Running, Outputs), ExitCode> {
    let mut running = start(config, duration, retention).map_err(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_FAILURE)
    })?;
    let mut outputs = Outputs::start(config, metrics_addr, &running).await?;
    outputs.alerts = running.alerts.take().map(|a| (a, running.stats.clone()));
    Ok((running, outputs))
}

/// What runs beside the engine and reads the statistics: the interval log and the
/// Prometheus endpoint, each when asked for.
struct Outputs {
    hlog: Option<HlogWriter>,
    metrics: Option<MetricsServer>,
    /// The alerting (started with the engine, see [`Running::alerts`]), and the
    /// statistics it reports to.
    alerts: Option<(AlertService, StatsHandle)>,
}

impl Outputs {
    /// Starts both; a file or address that cannot be used stops the run (exit 2).
    async fn start(
        config: &Config,
        metrics_addr: Option<std::net::SocketAddr>,
        running: &Running,
    ) -> Result<Self, ExitCode> {
        let hlog = start_hlog(config, running)?;
        let metrics = start_metrics(config, metrics_addr, running).await?;
        Ok(Outputs {
            hlog,
            metrics,
            alerts: None,
        })
    }

    /// Writes the last interval, closes the log, stops serving. Call once the
    /// engine has stopped, before the statistics finish.
    async fn finish(self) {
        finish_hlog(self.hlog).await;
        if let Some(metrics) = self.metrics {
            metrics.shutdown().await;
        }
        finish_alerts(self.alerts).await;
    }
}

/// Delivers the alerts of the run's last state changes (waiting a little for those
/// under way), so that their results reach the final snapshot. Call once the engine
/// has stopped, before the statistics finish.
async fn finish_alerts(alerts: Option<(AlertService, StatsHandle)>) {
    let Some((service, stats)) = alerts else {
        return;
    };
    // Every sample sent is recorded once this read returns, so every state change
    // is in the alerting's queue; `None` means the statistics ended already.
    let _ = stats.read(|_| ()).await;
    service.finish(crate::alert::EXIT_GRACE).await;
}

/// Starts the Prometheus endpoint when `--metrics-addr` is given; an address that
/// cannot be bound (a port in use) is a usage error, reported before anything is shown.
async fn start_metrics(
    config: &Config,
    addr: Option<std::net::SocketAddr>,
    running: &Running,
) -> Result<Option<MetricsServer>, ExitCode> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    match MetricsServer::start(
        addr,
        config.endpoints.clone().into(),
        running.stats.clone(),
        crate::metrics::Settings {
            buckets: config.metrics_buckets.clone(),
            phases: config.metrics_phases,
        },
    )
    .await
    {
        Ok(server) => {
            tracing::info!(addr = %server.addr(), "serving /metrics");
            Ok(Some(server))
        }
        Err(e) => {
            running.engine.abort();
            eprintln!("error: cannot serve metrics on {addr}: {e}");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// Writes the last interval and closes the log; a write error is reported, not fatal.
async fn finish_hlog(hlog: Option<HlogWriter>) {
    if let Some(hlog) = hlog
        && let Err(e) = hlog.finish().await
    {
        tracing::warn!("the hlog could not be written: {e}");
        eprintln!("warning: the hlog could not be written: {e}");
    }
}

async fn print_snapshot(
    endpoints: Vec<Endpoint>,
    stats: &StatsHandle,
    format: ExportFormat,
    fail_on: Option<FailOn>,
) -> ExitCode {
    let Some(copy) = stats.finish().await else {
        eprintln!("error: the statistics task ended early");
        return ExitCode::from(EXIT_FAILURE);
    };
    let unhealthy: Vec<String> = endpoints
        .iter()
        .zip(copy.endpoints())
        .filter(|(_, s)| match fail_on {
            Some(FailOn::Down) => matches!(s.state(), State::Down | State::Unknown),
            Some(FailOn::Degraded) => !matches!(s.state(), State::Up),
            None => false,
        })
        .map(|(e, s)| unhealthy_line(e, s))
        .collect();
    let built =
        tokio::task::spawn_blocking(move || format.render(&snapshot::build(&endpoints, &copy)))
            .await;
    match built {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            if write!(out, "{json}").and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_FAILURE);
            }
            if unhealthy.is_empty() {
                ExitCode::SUCCESS
            } else {
                let report = format!(
                    "probetop: --fail-on {}: {} endpoint{} too unhealthy\n{}\n",
                    fail_on.map(FailOn::name).unwrap_or_default(),
                    unhealthy.len(),
                    if unhealthy.len() == 1 { "" } else { "s" },
                    unhealthy.join("\n")
                );
                eprint!("{}", crate::text::terminal_safe(&report));
                ExitCode::from(EXIT_UNHEALTHY)
            }
        }
        Err(e) => {
            eprintln!("error: building the snapshot failed: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The live dashboard.
async fn run_dashboard(
    config: &Config,
    duration: Option<Duration>,
    metrics_addr: Option<std::net::SocketAddr>,
    signals: &mut Signals,
) -> ExitCode {
    // The dashboard can summarise up to its longest span, so keep raw entries that long.
    let retention = retention_for(config, crate::ui::model::Span::LONGEST.max(config.window));
    let (running, outputs) = match launch(config, duration, retention, metrics_addr).await {
        Ok(launched) => launched,
        Err(code) => return code,
    };
    let result = crate::ui::run(crate::ui::Dashboard {
        endpoints: config.endpoints.clone().into(),
        stats: running.stats.clone(),
        engine: &running.engine,
        export_dir: config.export_dir.clone(),
        export_formats: config.export_formats.clone(),
        window: config.window,
        bell: config.bell,
        deadline: running.deadline,
        signals,
    })
    .await;
    // Quitting cancels everything in flight.
    running.engine.abort();
    running.engine.wait().await;
    outputs.finish().await;
    // Ending the statistics thread explicitly (rather than waiting for the last
    // recorder to go) lets it be joined, so a panic there is not lost.
    if running.stats.finish().await.is_some() {
        join_stats_thread(running.stats_thread).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the dashboard failed: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
