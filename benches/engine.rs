//! End-to-end engine benchmark: runs the real `probetop --headless` binary against a
//! loopback HTTP server and checks it against its performance targets.
//!
//! ```text
//! cargo bench --bench engine                      # 1000 endpoints, 30 s
//! PROBETOP_BENCH_SECS=5 PROBETOP_BENCH_ENDPOINTS=200 cargo bench --bench engine
//! cargo bench --bench engine -- 5 200             # the same, as arguments
//! ```
//!
//! It measures the child process from the outside (`wait4` gives its CPU time and
//! peak RSS) so that what is measured is exactly what users run, and compares:
//! - probes finished against ticks due (the fixed-rate schedule loses nothing), ±1 %;
//! - scheduler lag p99 (how late probetop fires its own ticks) < 5 ms;
//! - RSS: a base of at most 30 MiB (one endpoint) plus at most 32 KiB per endpoint.
//!
//! A missed target is reported, not fatal: the exit code is non-zero only when the
//! benchmark itself cannot run (the child fails, times out or prints bad JSON).
//!
//! The target is the tests' server (`tests/support/`), which answers `200 ok` on the
//! benchmark's paths and counts requests and connections, so the report can tell lost
//! probes from lost requests.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write as _};
use std::process::{Child, ExitCode};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use support::{ServerOptions, TestServer};

/// Default run length, in seconds.
const DEFAULT_SECS: u64 = 30;
/// Default number of endpoints.
const DEFAULT_ENDPOINTS: usize = 1000;
/// How long past `--duration` the child may take to drain and print before it is
/// killed: generous, since a hung child is a failure to report, not to wait out.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// Target: finished probes within this fraction of due ticks.
const TARGET_DUE_TOLERANCE: f64 = 0.01;
/// Target: scheduler lag p99 below this, in milliseconds.
const TARGET_LAG_P99_MS: f64 = 5.0;
/// Target: peak RSS of a one-endpoint run at most this, in KiB (30 MiB).
const TARGET_BASE_RSS_KIB: f64 = 30.0 * 1024.0;
/// Target: peak RSS growth per endpoint at most this, in KiB.
const TARGET_RSS_PER_ENDPOINT_KIB: f64 = 32.0;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench engine: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the baseline and the full run, then prints the report.
fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env_and_args()?;
    // On its own thread and runtime, so it never competes with the benchmark's code
    // for an executor.
    let server = TestServer::start_with(ServerOptions {
        delay: Duration::from_millis(settings.delay_ms),
    });
    eprintln!(
        "bench engine: {} endpoints for {} s (+ a 1-endpoint baseline) against http://{}",
        settings.endpoints,
        settings.secs,
        server.addr()
    );

    let baseline = run_probetop(&server, 1, settings.secs).context("baseline run (1 endpoint)")?;
    let served_before = server.requests();
    let full = run_probetop(&server, settings.endpoints, settings.secs)
        .with_context(|| format!("run with {} endpoints", settings.endpoints))?;
    let served = server.requests() - served_before;

    print!("{}", report(&settings, &baseline, &full, served));
    Ok(())
}

/// What to run: from arguments first, then the environment, then the defaults.
#[derive(Debug, Clone, Copy)]
struct Settings {
    /// Run length in whole seconds (whole, so due ticks are exactly `endpoints × secs`).
    secs: u64,
    /// Endpoints in the full run.
    endpoints: usize,
    /// How long the server waits before answering (`PROBETOP_BENCH_DELAY_MS`, default
    /// 0): histograms grow with the slowest latency they hold, so memory per endpoint
    /// against real, slower servers is measured with a delay.
    delay_ms: u64,
}

impl Settings {
    /// Reads `[SECS [ENDPOINTS]]` from the arguments, else `PROBETOP_BENCH_SECS` and
    /// `PROBETOP_BENCH_ENDPOINTS`. Flags are ignored: `cargo bench` appends `--bench`.
    fn from_env_and_args() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary
        // without it, and then a 1 s smoke run keeps the benchmark from rotting
        // without costing the test suite a minute.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!("bench engine: not under `cargo bench`: smoke run only");
            return Ok(Settings {
                secs: 1,
                endpoints: 10,
                delay_ms: 0,
            });
        }
        let mut positional = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
        let secs_arg = positional.next();
        let endpoints_arg = positional.next();
        let secs = setting(secs_arg, "PROBETOP_BENCH_SECS", DEFAULT_SECS)?;
        let endpoints = setting(endpoints_arg, "PROBETOP_BENCH_ENDPOINTS", DEFAULT_ENDPOINTS)?;
        if secs == 0 {
            bail!("the run length must be at least 1 s");
        }
        // The per-endpoint RSS is a difference against the 1-endpoint baseline.
        if endpoints < 2 {
            bail!("at least 2 endpoints are needed to measure RSS per endpoint");
        }
        let delay_ms = setting(None, "PROBETOP_BENCH_DELAY_MS", 0)?;
        Ok(Settings {
            secs,
            endpoints,
            delay_ms,
        })
    }
}

/// One setting: `arg` if given, else the environment variable `var`, else `default`.
fn setting<T>(arg: Option<String>, var: &str, default: T) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let (text, source) = match (arg, std::env::var(var)) {
        (Some(text), _) => (text, "argument".to_string()),
        (None, Ok(text)) => (text, var.to_string()),
        (None, Err(_)) => return Ok(default),
    };
    text.trim()
        .parse()
        .with_context(|| format!("bad {source} {text:?}: expected a whole number"))
}

/// What one probetop run produced and cost.
#[derive(Debug)]
struct RunResult {
    endpoints: usize,
    /// Wall time from spawn to exit (startup, the run, the drain and the snapshot).
    wall: Duration,
    /// User + system CPU time of the child.
    cpu: Duration,
    /// Peak resident set size of the child, in KiB.
    max_rss_kib: u64,
    /// Highest RSS sampled while probing (before the drain and the snapshot), in KiB.
    probing_rss_kib: Option<u64>,
    /// Connections the server accepted during the run.
    connections: u64,
    snapshot: Snapshot,
}

/// The parts of the snapshot JSON (DESIGN.md, version 1) the benchmark reads;
/// everything else is ignored.
#[derive(Debug, Deserialize)]
struct Snapshot {
    probetop_snapshot: u32,
    scheduler_lag_ms: Option<Lag>,
    endpoints: Vec<EndpointCounts>,
}

/// Scheduler lag percentiles, in milliseconds.
#[derive(Debug, Deserialize)]
struct Lag {
    mean: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

/// The counters of one endpoint.
#[derive(Debug, Deserialize)]
struct EndpointCounts {
    probes: u64,
    failed: u64,
    skipped: u64,
}

impl Snapshot {
    /// Finished probes over all endpoints.
    fn probes(&self) -> u64 {
        self.endpoints.iter().map(|e| e.probes).sum()
    }

    /// Failed probes over all endpoints.
    fn failed(&self) -> u64 {
        self.endpoints.iter().map(|e| e.failed).sum()
    }

    /// Skipped ticks over all endpoints.
    fn skipped(&self) -> u64 {
        self.endpoints.iter().map(|e| e.skipped).sum()
    }
}

/// Writes a config of `endpoints` endpoints on `server`, runs probetop on it for
/// `secs` seconds and collects what it printed and what it cost.
fn run_probetop(server: &TestServer, endpoints: usize, secs: u64) -> anyhow::Result<RunResult> {
    // The child runs inside the temporary directory, so nothing it might write (and
    // no ./probetop.toml of the developer's) touches the working tree.
    let dir = tempfile::Builder::new()
        .prefix("probetop-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let config = support::write_config(dir.path(), &support::endpoints_config(server, endpoints));
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path)
        .with_context(|| format!("creating {}", stderr_path.display()))?;

    let connections_before = server.connections();
    let started = Instant::now();
    // Isolated from the user's config files and RUST_LOG, stdout piped.
    let mut child = support::probetop(dir.path())
        .args(["--headless", "--duration", &format!("{secs}s"), "-c"])
        .arg(&config)
        // To a file, not a pipe: nobody reads stderr while the child runs, and a full
        // pipe would stall it.
        .stderr(stderr)
        .spawn()
        .context("starting probetop")?;
    let stdout = read_in_background(&mut child)?;
    let waited = wait_bounded(&mut child, Duration::from_secs(secs), EXIT_GRACE);
    let wall = started.elapsed();
    let connections = server.connections() - connections_before;
    let output = stdout
        .join()
        .map_err(|_| anyhow::anyhow!("the stdout reader panicked"))?
        .context("reading probetop's stdout")?;
    let warnings = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    show_stderr(endpoints, &warnings);

    let usage = waited?;
    if !usage.success {
        bail!("probetop failed ({}); stderr:\n{warnings}", usage.status);
    }
    let snapshot: Snapshot =
        serde_json::from_slice(&output).context("parsing probetop's snapshot JSON")?;
    if snapshot.probetop_snapshot != 1 {
        bail!("unexpected snapshot version {}", snapshot.probetop_snapshot);
    }
    if snapshot.endpoints.len() != endpoints {
        bail!(
            "the snapshot has {} endpoints, the config {endpoints}",
            snapshot.endpoints.len()
        );
    }
    Ok(RunResult {
        endpoints,
        wall,
        cpu: usage.cpu,
        max_rss_kib: usage.max_rss_kib,
        probing_rss_kib: usage.probing_rss_kib,
        connections,
        snapshot,
    })
}

/// Drains the child's stdout on a thread: the snapshot of 1000 endpoints is far
/// larger than a pipe buffer, so waiting for the exit before reading would deadlock.
fn read_in_background(child: &mut Child) -> anyhow::Result<JoinHandle<std::io::Result<Vec<u8>>>> {
    let mut stdout = child
        .stdout
        .take()
        .context("probetop's stdout is not piped")?;
    std::thread::Builder::new()
        .name("bench-stdout".into())
        .spawn(move || {
            let mut buffer = Vec::new();
            stdout.read_to_end(&mut buffer).map(|_| buffer)
        })
        .context("spawning the stdout reader")
}

/// Passes on what probetop said on stderr (warnings only, in headless mode), shortened:
/// a warning per endpoint would otherwise bury the report.
fn show_stderr(endpoints: usize, text: &str) {
    const SHOWN: usize = 10;
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "probetop ({endpoints} endpoints) said on stderr:");
    for line in lines.iter().take(SHOWN) {
        let _ = writeln!(err, "  {line}");
    }
    if lines.len() > SHOWN {
        let _ = writeln!(err, "  ... and {} more lines", lines.len() - SHOWN);
    }
}

/// How the child ended and what it used, from `wait4`.
struct Usage {
    success: bool,
    /// The exit code or the signal, for error messages.
    status: String,
    cpu: Duration,
    max_rss_kib: u64,
    /// See [`RunResult::probing_rss_kib`].
    probing_rss_kib: Option<u64>,
}

/// Waits for the child to run `probing` plus at most `grace`, then kills it; returns
/// its resource usage.
///
/// `wait4` rather than `Child::wait`: it reaps the child and returns that child's own
/// rusage in one call, with no other children's usage mixed in. While waiting, it
/// samples the child's RSS during `probing`: `ru_maxrss` alone would be the peak of
/// the whole run, which the final snapshot (a copy of every statistic) may set.
fn wait_bounded(child: &mut Child, probing: Duration, grace: Duration) -> anyhow::Result<Usage> {
    let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
    let started = Instant::now();
    let mut probing_rss_kib = None;
    loop {
        // Polling with WNOHANG keeps the kill below race-free: the pid is still ours
        // (not reaped, so not reusable) whenever we decide to kill it.
        if let Some(mut usage) = wait4(pid, libc::WNOHANG)? {
            usage.probing_rss_kib = probing_rss_kib;
            return Ok(usage);
        }
        let elapsed = started.elapsed();
        if elapsed < probing {
            probing_rss_kib = probing_rss_kib.max(vm_rss_kib(pid));
        }
        if elapsed >= probing + grace {
            let _ = child.kill();
            // Reap it, so no zombie is left behind.
            let _ = wait4(pid, 0);
            bail!(
                "probetop did not exit within {:?}; killed it",
                probing + grace
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The current resident set size of `pid` in KiB, from `/proc/PID/status` (Linux).
fn vm_rss_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One `wait4(pid, options)`: `None` if the child has not exited yet (with `WNOHANG`).
fn wait4(pid: libc::pid_t, options: libc::c_int) -> anyhow::Result<Option<Usage>> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: `status` and `rusage` are valid, writable, and outlive the call.
        let r = unsafe { libc::wait4(pid, &mut status, options, &mut rusage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    if reaped == -1 {
        return Err(std::io::Error::last_os_error()).context("wait4 on probetop");
    }
    if reaped == 0 {
        return Ok(None);
    }
    let (success, status) = if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (code == 0, format!("exit code {code}"))
    } else if libc::WIFSIGNALED(status) {
        (
            false,
            format!("killed by signal {}", libc::WTERMSIG(status)),
        )
    } else {
        (false, format!("wait status {status:#x}"))
    };
    Ok(Some(Usage {
        success,
        status,
        cpu: timeval(rusage.ru_utime) + timeval(rusage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
        probing_rss_kib: None,
    }))
}

/// A `timeval` as a `Duration` (negative fields, which the kernel never reports, as 0).
fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Ticks due in a run: each endpoint ticks at `offset + k` s for k = 0 … secs − 1,
/// with its offset inside the first second.
fn due_ticks(endpoints: usize, secs: u64) -> u64 {
    endpoints as u64 * secs
}

/// `value` relative to `base`, in percent.
fn percent_off(value: u64, base: u64) -> f64 {
    if base == 0 {
        return 0.0;
    }
    (value as f64 - base as f64) / base as f64 * 100.0
}

/// `PASS` or `FAIL`.
fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The report: one line per figure, then one per target and an overall verdict.
fn report(settings: &Settings, baseline: &RunResult, full: &RunResult, served: u64) -> String {
    let s = &full.snapshot;
    let due = due_ticks(full.endpoints, settings.secs);
    let finished = s.probes();
    let off = percent_off(finished, due);
    let cpu_per_1000 = full.cpu.as_secs_f64() / finished.max(1) as f64 * 1000.0;
    let base_rss = baseline.max_rss_kib as f64;
    let rss_per_endpoint = (full.max_rss_kib as f64 - base_rss) / (full.endpoints as f64 - 1.0);
    let base_due = due_ticks(1, settings.secs);

    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("probetop engine benchmark".into());
    line(format!("  endpoints           {}", full.endpoints));
    line(format!("  server delay        {} ms", settings.delay_ms));
    line(format!(
        "  duration            {} s (child wall time {:.2} s)",
        settings.secs,
        full.wall.as_secs_f64()
    ));
    line(format!(
        "  probes finished/due {finished} / {due} ({off:+.2} %)"
    ));
    line(format!("  failed              {}", s.failed()));
    line(format!("  skipped             {}", s.skipped()));
    line(format!(
        "  server saw          {served} requests on {} connections",
        full.connections
    ));
    line(format!(
        "  probes/s            {:.1}",
        finished as f64 / settings.secs as f64
    ));
    line(format!(
        "  CPU                 {:.2} s total, {cpu_per_1000:.4} s per 1000 probes",
        full.cpu.as_secs_f64()
    ));
    line(format!(
        "  peak RSS            {:.1} MiB (while probing: {})",
        full.max_rss_kib as f64 / 1024.0,
        full.probing_rss_kib.map_or_else(
            || "not sampled".to_string(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0)
        )
    ));
    line(format!(
        "  base RSS            {:.1} MiB (1 endpoint: {} / {base_due} probes, CPU {:.2} s)",
        base_rss / 1024.0,
        baseline.snapshot.probes(),
        baseline.cpu.as_secs_f64()
    ));
    line(format!("  RSS per endpoint    {rss_per_endpoint:.1} KiB"));
    let lag_p99 = match &s.scheduler_lag_ms {
        Some(lag) => {
            line(format!(
                "  scheduler lag ms    p50 {:.3}  p99 {:.3}  max {:.3}  (mean {:.3}, p99.9 {:.3})",
                lag.p50, lag.p99, lag.max, lag.mean, lag.p999
            ));
            lag.p99
        }
        None => {
            line("  scheduler lag ms    none recorded".into());
            f64::INFINITY
        }
    };

    let due_ok = off.abs() <= TARGET_DUE_TOLERANCE * 100.0;
    let lag_ok = lag_p99 < TARGET_LAG_P99_MS;
    let rss_ok = base_rss <= TARGET_BASE_RSS_KIB && rss_per_endpoint <= TARGET_RSS_PER_ENDPOINT_KIB;
    line(format!(
        "  target finished == due ± 1 %                     {}",
        verdict(due_ok)
    ));
    line(format!(
        "  target scheduler lag p99 < 5 ms                  {}",
        verdict(lag_ok)
    ));
    line(format!(
        "  target RSS ≤ 30 MiB base + 32 KiB per endpoint   {}",
        verdict(rss_ok)
    ));
    line(format!(
        "{}: {} of 3 targets met",
        verdict(due_ok && lag_ok && rss_ok),
        [due_ok, lag_ok, rss_ok].iter().filter(|ok| **ok).count()
    ));
    out
}
