//! The program: parse the command line, load the config, run the chosen mode, and
//! map the result to an exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::Cli;
use crate::config::{self, Config, ConfigError, ConfigErrors, Endpoint, LoadOptions};
use crate::demo::DemoServer;
use crate::engine::Engine;
use crate::snapshot;
use crate::stats::{self, Clock, StatsHandle};

/// Exit code of a usage or config error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// Runs probetop with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = crate::logging::init(cli.log_file.as_deref(), cli.headless) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
    let options = LoadOptions {
        config_path: cli.config.clone(),
        urls: cli.urls.clone(),
        interval: Some(cli.interval),
        timeout: Some(cli.timeout),
        export_dir: cli.export_dir.clone(),
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
        print_check(&config);
        return ExitCode::SUCCESS;
    }
    if !cli.headless && !std::io::stdout().is_terminal() {
        eprintln!(
            "error: standard output is not a terminal; use --headless (with --duration) to print a JSON snapshot instead"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let code = if cli.headless {
        run_headless(&config, cli.duration).await
    } else {
        run_text(&config, cli.duration).await
    };
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    code
}

fn usage_error(errors: &ConfigErrors) -> ExitCode {
    eprint!("{errors}");
    ExitCode::from(EXIT_USAGE)
}

async fn start_demo(config: &mut Config) -> Result<DemoServer, ExitCode> {
    let demo = DemoServer::start().await.map_err(|e| {
        eprintln!("error: cannot start the demo server on 127.0.0.1: {e}");
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

fn print_check(config: &Config) {
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "command line".to_string(), |p| p.display().to_string());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{source}: OK, {} endpoint{}",
        config.endpoints.len(),
        if config.endpoints.len() == 1 { "" } else { "s" }
    );
    let name_width = config
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(out, "{:<name_width$}  {:>8}  {:>8}  URL", "NAME", "INTERVAL", "TIMEOUT");
    for e in &config.endpoints {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>8}  {:>8}  {}",
            e.name,
            humantime::format_duration(e.interval).to_string(),
            humantime::format_duration(e.timeout).to_string(),
            e.url
        );
    }
}

/// What ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// `--duration` elapsed: let the probes in flight finish.
    Elapsed,
    /// SIGINT or SIGTERM: stop now.
    Signal,
}

/// Waits for `--duration` or a signal.
async fn wait_for_stop(duration: Option<Duration>) -> Stop {
    let elapsed = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = elapsed => Stop::Elapsed,
        () = shutdown_signal() => Stop::Signal,
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A started engine with its statistics.
struct Running {
    engine: Engine,
    stats: StatsHandle,
}

fn start(config: &Config) -> anyhow::Result<Running> {
    let clock = Clock::now();
    let (recorder, stats, _task) = stats::spawn(config.endpoints.len(), config.window, clock);
    let engine = Engine::start(&config.endpoints, &recorder, clock)?;
    Ok(Running { engine, stats })
}

impl Running {
    /// Stops the engine as `how` asks and waits for its tasks; a signal during the
    /// drain cancels the probes still in flight.
    async fn stop(&self, how: Stop) {
        match how {
            Stop::Signal => self.engine.abort(),
            Stop::Elapsed => self.engine.stop(),
        }
        tokio::select! {
            () = self.engine.wait() => {}
            () = shutdown_signal() => {
                self.engine.abort();
                self.engine.wait().await;
            }
        }
    }
}

async fn run_headless(config: &Config, duration: Option<Duration>) -> ExitCode {
    let running = match start(config) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let how = wait_for_stop(duration).await;
    tracing::info!(?how, "stopping");
    running.stop(how).await;
    print_snapshot(config.endpoints.clone(), &running.stats).await
}

async fn print_snapshot(endpoints: Vec<Endpoint>, stats: &StatsHandle) -> ExitCode {
    let Some(copy) = stats.snapshot().await else {
        eprintln!("error: the statistics task ended early");
        return ExitCode::from(EXIT_FAILURE);
    };
    let built = tokio::task::spawn_blocking(move || snapshot::build(&endpoints, &copy).to_json()).await;
    match built {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_FAILURE);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: building the snapshot failed: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// A plain refreshing table, until the dashboard replaces it.
async fn run_text(config: &Config, duration: Option<Duration>) -> ExitCode {
    let running = match start(config) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let stop = wait_for_stop(duration);
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let how = loop {
        tokio::select! {
            how = &mut stop => break how,
            _ = tick.tick() => {
                if let Some(copy) = running.stats.snapshot().await {
                    print!("{}", crate::text::table(&config.endpoints, &copy));
                    let _ = std::io::stdout().flush();
                }
            }
        }
    };
    running.stop(if how == Stop::Elapsed { Stop::Elapsed } else { Stop::Signal }).await;
    ExitCode::SUCCESS
}
