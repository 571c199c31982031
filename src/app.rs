//! The program: parse the command line, load the config, run the chosen mode, and
//! map the result to an exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

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
use crate::reload::{self, Reloader};
use crate::signals::{Signal, Signals};
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
    if let Some(crate::cli::Command::Merge(args)) = &cli.command {
        // Reads files and prints: no runtime, no logging set-up needed.
        return crate::fleet::run(args);
    }
    if cli.urls.iter().any(|url| url == "merge") {
        // Options before it made clap take it for a URL.
        crate::text::say(
            "error: `merge` is a subcommand and comes first, without the options of a run: probetop merge A.json B.json …",
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if let Err(e) = crate::logging::init(cli.log_file.as_deref(), cli.headless) {
        crate::text::say(&format!("error: {e:#}"));
        return ExitCode::from(EXIT_USAGE);
    }
    // One thread: what runs here (the dashboard, the config watch, the demo and
    // `/metrics` servers, the signals) is light, and whatever is heavy runs on a
    // thread of its own (the probes, the statistics, the alerting) or in
    // `spawn_blocking` (exports, encoding a scrape, reading a reload). Worker
    // threads would only add wake-ups: each timer fired on a worker that then woke
    // the dashboard, each fetch went through a worker too (an idle dashboard: 8
    // worker wake-ups a second, for nothing).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            crate::text::say(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(run(cli));
    // Stalled demo connections and the like must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    crate::logging::flush();
    code
}

/// Runs probetop with parsed arguments.
pub async fn run(cli: Cli) -> ExitCode {
    // First of all, so that no signal during start-up meets the default action.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            crate::text::say(&format!("error: cannot install the signal handlers: {e}"));
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
    let source = reload::Source {
        options,
        extra: demo.as_ref().map(DemoServer::endpoints).unwrap_or_default(),
    };
    if config.endpoints.is_empty() {
        let mut message = String::from("no endpoints to probe");
        if let Some(source) = &config.source {
            message = format!("{} defines no [[endpoint]]", source.display());
        }
        crate::text::say(&format!(
            "error: {message}\n\nGive probetop something to watch:\n  probetop https://example.com/health     URLs on the command line\n  probetop --config probetop.toml         [[endpoint]] tables in a config file\n  probetop --demo                         the built-in demo target"
        ));
        return ExitCode::from(EXIT_USAGE);
    }
    if cli.check {
        return match print_check(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => stdout_failed("the check", &e),
        };
    }
    let resume = match carry_over(&cli, &config) {
        Ok(resume) => resume,
        Err(code) => return code,
    };
    if !cli.headless && !std::io::stdout().is_terminal() {
        crate::text::say(
            "error: standard output is not a terminal; use --headless (with --duration) to print a JSON snapshot instead",
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let code = if cli.headless {
        run_headless(&config, &cli, resume, &mut signals, source).await
    } else {
        run_dashboard(
            &config,
            cli.duration,
            cli.metrics_addr,
            resume,
            &mut signals,
            source,
        )
        .await
    };
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    code
}

/// `--vantage` and `--resume`: names this run's vantage point, then reads and checks
/// the snapshot to continue from (all of it, before anything is seeded). A snapshot
/// that cannot be used is a usage error.
fn carry_over(cli: &Cli, config: &Config) -> Result<Option<stats::Resume>, ExitCode> {
    if let Some(vantage) = &cli.vantage {
        snapshot::vantage::set(vantage.clone());
    }
    let Some(path) = &cli.resume else {
        return Ok(None);
    };
    match crate::resume::load(path, config) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                tracing::warn!("--resume {}: {warning}", path.display());
                // One line each: the warning quotes the snapshot's text, which may
                // hold line breaks of its own.
                crate::text::say(&crate::text::clean(&format!(
                    "warning: --resume {}: {warning}",
                    path.display()
                )));
            }
            Ok(Some(loaded.resume))
        }
        Err(e) => {
            crate::text::say(&crate::text::clean(&format!(
                "error: cannot resume from {}: {e}",
                path.display()
            )));
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

fn usage_error(errors: &ConfigErrors) -> ExitCode {
    // Formatted first and written at once: stderr is unbuffered, and thousands of
    // errors written piece by piece cost a system call per piece.
    // The excerpts and values come from the file and the command line: cleaned of
    // escape sequences and cut to a sane width before they reach the terminal.
    crate::text::say(&errors.to_string());
    ExitCode::from(EXIT_USAGE)
}

async fn start_demo(config: &mut Config) -> Result<DemoServer, ExitCode> {
    let demo = DemoServer::start().await.map_err(|e| {
        crate::text::say(&format!(
            "error: cannot start the demo server on 127.0.0.1: {e:#}"
        ));
        ExitCode::from(EXIT_FAILURE)
    })?;
    let extra = demo.endpoints();
    for endpoint in &extra {
        if config.endpoints.iter().any(|e| e.name == endpoint.name) {
            let error = ConfigError::usage(format!(
                "endpoint name {:?} is reserved for --demo; rename it in the config",
                endpoint.name
            ));
            return Err(usage_error(&error.into()));
        }
    }
    config.endpoints = config.endpoints.iter().cloned().chain(extra).collect();
    tracing::info!(addr = %demo.addr(), "demo target started");
    Ok(demo)
}

/// Reports on stderr, in one line, that `what` could not be written to stdout (a
/// full disk, a closed pipe), and returns the exit code of a failure.
fn stdout_failed(what: &str, error: &std::io::Error) -> ExitCode {
    crate::text::say(&format!(
        "error: cannot write {what} to standard output: {error}"
    ));
    ExitCode::from(EXIT_FAILURE)
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
    // Cleaned one by one (not only the whole text below): a line break in a name
    // would otherwise start a row of its own.
    let names: Vec<String> = config
        .endpoints
        .iter()
        .map(|e| crate::text::clean(&e.name))
        .collect();
    let name_width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    // Writing into a String cannot fail.
    let _ = writeln!(
        text,
        "{:<name_width$}  {:>8}  {:>8}  URL",
        "NAME", "INTERVAL", "TIMEOUT"
    );
    for (e, name) in config.endpoints.iter().zip(&names) {
        let _ = writeln!(
            text,
            "{name:<name_width$}  {:>8}  {:>8}  {}",
            crate::text::duration(e.interval),
            crate::text::duration(e.timeout),
            crate::text::clean(&e.url_as_written)
        );
    }
    // Warnings go to stderr: stdout stays the report scripts read, and the config
    // is still valid. Each file once, however many endpoints share it.
    let mut warned = std::collections::HashSet::new();
    let mut warnings = String::new();
    for e in config.endpoints.iter() {
        if let Some(path) = &e.ca_file
            && warned.insert(path)
            && let Some(warning) = crate::probe::ca_file_warning(path)
        {
            let _ = writeln!(warnings, "warning: {warning}");
        }
    }
    // File names and certificate names are the user's or a server's: cleaned too.
    if !warnings.is_empty() {
        crate::text::say(&warnings);
    }
    // Names and URLs are the config's: cleaned before they reach the terminal.
    let text = crate::text::terminal_safe(&text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A started engine with its statistics.
struct Running {
    /// Shared with the reloader, which changes its endpoints.
    engine: std::sync::Arc<Engine>,
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
/// are kept (the dashboard summarises spans up to it); `resume`, when given, seeds
/// the statistics before the first probe.
fn start(
    config: &Config,
    duration: Option<Duration>,
    retention: Duration,
    resume: Option<stats::Resume>,
    alerts: tokio::sync::watch::Receiver<crate::alert::Rules>,
) -> anyhow::Result<Running> {
    // Before the clock starts: reading the system's trust store is no tick's lag.
    crate::probe::preload_roots(&config.endpoints);
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
    if let Some(resume) = resume {
        // Queued ahead of every sample: the engine has not started yet.
        stats.resume(resume);
    }
    // Before the engine starts, so that no probe goes unheard.
    stats.observe(Box::new(crate::logging::EventLog::new(
        config.endpoints.clone(),
    )));
    let deadline = duration.map(|d| clock.start + d);
    let alerts = AlertService::start(config, alerts, &stats)
        .map_err(|e| anyhow::anyhow!("cannot start the alerting: {e}"))?;
    let engine = Engine::start_shared(config.endpoints.clone(), &recorder, clock, deadline)?;
    let deadline = engine.deadline();
    Ok(Running {
        engine: engine.into(),
        stats,
        stats_thread,
        deadline,
        started_at: clock.start_wall,
        alerts,
    })
}

impl Running {
    /// Waits until the engine ends by itself (its `--duration` deadline passed and the
    /// probes in flight finished) or a signal arrives, which cancels the probes in
    /// flight. SIGHUP is not an end here: it reloads the config, and every reload's
    /// report goes to stderr (a headless run has no screen to show it).
    async fn wait(&self, signals: &mut Signals, live: &mut Live) {
        loop {
            let deadline = async {
                if let Some(deadline) = self.deadline {
                    tokio::time::sleep_until(deadline.into()).await;
                }
            };
            tokio::select! {
                ((), ()) = async { tokio::join!(self.engine.wait(), deadline) } => return,
                signal = signals.recv() => {
                    if signal == Signal::HangUp {
                        tracing::info!("SIGHUP received: reloading the config");
                        live.reload_now().await;
                        continue;
                    }
                    tracing::info!(signal = signal.name(), "signal received: cancelling probes in flight");
                    self.engine.abort();
                    self.engine.wait().await;
                    return;
                }
                Some(notice) = live.notices.recv() => report_on_stderr(&notice),
            }
        }
    }
}

/// Reloading while the run goes on: the reloader, the watch on the config file, and
/// the reports of the reloads the watch started.
struct Live {
    reloader: reload::Shared,
    watch: Option<reload::Watch>,
    notices: tokio::sync::mpsc::UnboundedReceiver<reload::Notice>,
}

impl Live {
    /// Starts watching the config file (if there is one) of the run `running`,
    /// whose parts hear of reloaded settings through `outlets`.
    fn start(
        source: reload::Source,
        config: &Config,
        running: &Running,
        outlets: reload::Outlets,
    ) -> Self {
        let reloader = Reloader::new(
            source,
            config,
            running.engine.clone(),
            running.stats.clone(),
            outlets,
        )
        .shared();
        let (tx, notices) = tokio::sync::mpsc::unbounded_channel();
        let watch = reload::Watch::start(&reloader, tx);
        Live {
            reloader,
            watch,
            notices,
        }
    }

    /// Reloads at once (SIGHUP), even a file that did not change, and reports on stderr.
    async fn reload_now(&self) {
        if let Some(Some(notice)) = reload::with_reloader(&self.reloader, |r| r.reload(true)).await
        {
            report_on_stderr(&notice);
        }
    }

    /// Stops watching.
    async fn stop(self) {
        if let Some(watch) = self.watch {
            watch.stop().await;
        }
    }
}

/// A reload's report, for a headless run: on stderr, cleaned (it holds the file's text).
fn report_on_stderr(notice: &reload::Notice) {
    let level = if notice.is_error { "warning" } else { "info" };
    crate::text::say(&format!("probetop: {level}: {}", notice.text.trim_end()));
}

/// A run without a screen (`--headless`): probes for `--duration` or until a
/// signal, then prints the snapshot in `--export-format` and judges `--fail-on`.
async fn run_headless(
    config: &Config,
    cli: &Cli,
    resume: Option<stats::Resume>,
    signals: &mut Signals,
    source: reload::Source,
) -> ExitCode {
    let retention = retention_for(config, config.window);
    let (outlets, inlets) = reload::channels(config);
    let launched = launch(
        config,
        cli.duration,
        retention,
        cli.metrics_addr,
        resume,
        &inlets,
    )
    .await;
    let (running, outputs) = match launched {
        Ok(launched) => launched,
        Err(code) => return code,
    };
    let mut live = Live::start(source, config, &running, outlets);
    running.wait(signals, &mut live).await;
    live.stop().await;
    outputs.finish().await;
    // As of the latest reload: none comes any more.
    let on_exit = crate::resume::OnExit::of(&inlets.export.borrow());
    let code = print_snapshot(
        config.endpoints.clone(),
        &running.stats,
        cli.export_format,
        cli.fail_on,
        on_exit,
    )
    .await;
    // It has answered `finish`, so it is ending: joining cannot block for long.
    join_stats_thread(running.stats_thread).await;
    code
}

/// One line of `--fail-on`'s report: `NAME: STATE: CLASS: MESSAGE`, with the latest
/// error of a failing endpoint or what degrades a degraded one ([`crate::reason`]),
/// `NAME: STATE` when no reason is known (`unknown: no probe finished` when none did).
fn unhealthy_line(endpoint: &Endpoint, stats: &stats::EndpointStats, now: SystemTime) -> String {
    let state = stats.state().as_str();
    if stats.last().is_none() {
        return format!("{}: {state}: no probe finished", endpoint.name);
    }
    match crate::reason::why(endpoint, stats, now) {
        Some(why) => format!("{}: {state}: {why}", endpoint.name),
        None => format!("{}: {state}", endpoint.name),
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
        config.endpoints.clone(),
        running.stats.clone(),
        running.started_at,
    )
    .map(Some)
    .map_err(|e| {
        running.engine.abort();
        crate::text::say(&format!(
            "error: cannot open the hlog file {}: {e}",
            path.display()
        ));
        ExitCode::from(EXIT_USAGE)
    })
}

/// Starts the statistics, the engine and the outputs, the alerting and `/metrics`
/// taking their settings from `inlets`; a failure is reported on stderr and turned
/// into the exit code.
async fn launch(
    config: &Config,
    duration: Option<Duration>,
    retention: Duration,
    metrics_addr: Option<std::net::SocketAddr>,
    resume: Option<stats::Resume>,
    inlets: &reload::Inlets,
) -> Result<(Running, Outputs), ExitCode> {
    let alerts = inlets.alerts.clone();
    let mut running = start(config, duration, retention, resume, alerts).map_err(|e| {
        crate::text::say(&format!("error: {e:#}"));
        ExitCode::from(EXIT_FAILURE)
    })?;
    let metrics = inlets.metrics.clone();
    let mut outputs = Outputs::start(config, metrics_addr, &running, metrics).await?;
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
        metrics: tokio::sync::watch::Receiver<crate::metrics::Settings>,
    ) -> Result<Self, ExitCode> {
        let hlog = start_hlog(config, running)?;
        let metrics = start_metrics(config, metrics_addr, running, metrics).await?;
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

/// Starts the Prometheus endpoint when `--metrics-addr` is given, serving what
/// `settings` says at each scrape; an address that cannot be bound (a port in use)
/// is a usage error, reported before anything is shown.
async fn start_metrics(
    config: &Config,
    addr: Option<std::net::SocketAddr>,
    running: &Running,
    settings: tokio::sync::watch::Receiver<crate::metrics::Settings>,
) -> Result<Option<MetricsServer>, ExitCode> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    match MetricsServer::start_following(
        addr,
        config.endpoints.clone(),
        running.stats.clone(),
        settings,
    )
    .await
    {
        Ok(server) => {
            tracing::info!(addr = %server.addr(), "serving /metrics");
            Ok(Some(server))
        }
        Err(e) => {
            running.engine.abort();
            crate::text::say(&format!("error: cannot serve metrics on {addr}: {e}"));
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
        crate::text::say(&format!("warning: the hlog could not be written: {e}"));
    }
}

async fn print_snapshot(
    started_with: std::sync::Arc<[Endpoint]>,
    stats: &StatsHandle,
    format: ExportFormat,
    fail_on: Option<FailOn>,
    on_exit: Option<crate::resume::OnExit>,
) -> ExitCode {
    let Some(copy) = stats.finish().await else {
        crate::text::say("error: the statistics task ended early");
        return ExitCode::from(EXIT_FAILURE);
    };
    // The log's last lines (written as the statistics finished) before the report.
    crate::logging::flush();
    // The endpoints as of the latest reload, if any.
    let unhealthy: Vec<String> = copy
        .configured(&started_with)
        .iter()
        .zip(copy.endpoints())
        .filter(|(_, s)| match fail_on {
            Some(FailOn::Down) => matches!(s.state(), State::Down | State::Unknown),
            Some(FailOn::Degraded) => !matches!(s.state(), State::Up),
            None => false,
        })
        // One line each, whatever line breaks a name or a message holds.
        .map(|(e, s)| crate::text::clean(&unhealthy_line(e, s, copy.taken_at())))
        .collect();
    let built = tokio::task::spawn_blocking(move || {
        let endpoints = copy.configured(&started_with);
        let mut out = std::io::stdout().lock();
        if format == ExportFormat::Json && on_exit.is_none() {
            // Streamed: each endpoint built and written in turn, never the whole
            // snapshot in memory.
            let written =
                snapshot::write_json(endpoints, &copy, &mut out).and_then(|()| out.flush());
            return (written, true);
        }
        let snapshot = snapshot::build(endpoints, &copy);
        // The statistics are in the snapshot now: give their memory back before
        // the output takes its own.
        drop(copy);
        let saved = on_exit.is_none_or(|on_exit| on_exit.write(&snapshot));
        let written = format
            .write_to(&snapshot, &mut out)
            .and_then(|()| out.flush());
        (written, saved)
    })
    .await;
    match built {
        Ok((written, saved)) => {
            if let Err(e) = written {
                return stdout_failed("the snapshot", &e);
            }
            if !saved {
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
                crate::text::say(&report);
                ExitCode::from(EXIT_UNHEALTHY)
            }
        }
        Err(e) => {
            crate::text::say(&format!("error: building the snapshot failed: {e}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The live dashboard.
async fn run_dashboard(
    config: &Config,
    duration: Option<Duration>,
    metrics_addr: Option<std::net::SocketAddr>,
    resume: Option<stats::Resume>,
    signals: &mut Signals,
    source: reload::Source,
) -> ExitCode {
    // The dashboard can summarise up to its longest span, so keep raw entries that long.
    let retention = retention_for(config, crate::ui::model::Span::LONGEST.max(config.window));
    let (outlets, inlets) = reload::channels(config);
    let launched = launch(config, duration, retention, metrics_addr, resume, &inlets).await;
    let (running, outputs) = match launched {
        Ok(launched) => launched,
        Err(code) => return code,
    };
    let mut live = Live::start(source, config, &running, outlets);
    let ended = crate::ui::run(crate::ui::Dashboard {
        endpoints: config.endpoints.clone(),
        stats: running.stats.clone(),
        engine: &running.engine,
        reload: Some(crate::ui::Reloading {
            reloader: live.reloader.clone(),
            notices: &mut live.notices,
        }),
        window: config.window,
        ui: inlets.ui,
        export: inlets.export,
        deadline: running.deadline,
        signals,
    })
    .await;
    live.stop().await;
    // Quitting cancels everything in flight.
    running.engine.abort();
    running.engine.wait().await;
    outputs.finish().await;
    // Ending the statistics thread explicitly (rather than waiting for the last
    // recorder to go) lets it be joined, so a panic there is not lost.
    let mut saved = true;
    if let Some(store) = running.stats.finish().await {
        join_stats_thread(running.stats_thread).await;
        // The `[export]` the dashboard ended with: it wrote no final snapshot of its
        // own if this one follows.
        saved = write_exit_snapshot(config, &ended.export, store).await;
    }
    match ended.result {
        Ok(()) if !saved => ExitCode::from(EXIT_FAILURE),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::text::say(&format!("error: the dashboard failed: {e:#}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `[export] on_exit` for the dashboard (the terminal is restored by now), as
/// `export` has it: builds and writes the snapshot off the runtime; `false` when it
/// could not be written.
async fn write_exit_snapshot(
    config: &Config,
    export: &snapshot::export::Settings,
    store: stats::StatsStore,
) -> bool {
    let Some(on_exit) = crate::resume::OnExit::of(export) else {
        return true;
    };
    let started_with = config.endpoints.clone();
    tokio::task::spawn_blocking(move || {
        // The endpoints as of the latest reload: the store is ordered by them.
        let endpoints = store.configured(&started_with);
        on_exit.write(&snapshot::build(endpoints, &store))
    })
    .await
    .unwrap_or_else(|e| {
        crate::text::say(&format!("error: building the exit snapshot failed: {e}"));
        false
    })
}
