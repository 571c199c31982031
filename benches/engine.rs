//! End-to-end engine benchmark: runs the real `probetop --headless` binary against a
//! loopback HTTP server, side by side with `oha` paced at the same rate, and checks
//! it against the targets of issue 11.
//!
//! ```text
//! cargo bench --bench engine                  # N = 100, 1,000, 10,000 at 1 s (20 s
//!                                             # runs) and 50,000 at 5 s (60 s); 3 runs
//! cargo bench --bench engine -- 10 1000       # 1,000 endpoints at 1 s for 10 s
//! cargo bench --bench engine -- 20 50000 5    # 50,000 endpoints every 5 s
//! PROBETOP_BENCH_RUNS=5 PROBETOP_BENCH_OHA=0 cargo bench --bench engine
//! ```
//!
//! Settings: `[SECS [ENDPOINTS [INTERVAL_S]]]` as arguments, else
//! `PROBETOP_BENCH_SECS`, `PROBETOP_BENCH_ENDPOINTS`, `PROBETOP_BENCH_INTERVAL`
//! (`SECS` unset or 0: 20 s, or 12 intervals where that is longer);
//! `PROBETOP_BENCH_RUNS` (runs of each configuration, default 3: the collapse this
//! guards against is metastable, so one good run proves little), `PROBETOP_BENCH_OHA=0`
//! (skip oha), `PROBETOP_BENCH_DELAY_MS` (server delay per answer).
//!
//! It measures each child process from the outside (`wait4` gives its own CPU time and
//! peak RSS), so what is measured is exactly what users run, and the server (on a
//! thread of this process) is never counted as probetop's or oha's. For every run it
//! reports ticks due / probed / skipped / failed, CPU µs per probe (over the child's
//! whole life, and in parentheses over the middle of the run only, from `/proc`:
//! probing without the start-up and the final snapshot), scheduler lag
//! p50/p99, RSS, the median over endpoints of their p50 latency, the snapshot's
//! `overload.seconds` (when the snapshot has it), and oha's CPU µs per request at the
//! same rate (`oha -z SECS -q RATE -c 100`) with the ratio, and `wake_us`: what one
//! bare wake-up of a sleeping thread cost on this machine during the run (the floor
//! under a probe, which needs two; see `WakeFloor`).
//!
//! A missed target is reported, not fatal: the exit code is non-zero only when the
//! benchmark itself cannot run (the child fails, times out or prints bad JSON).
//! Without `--bench` (under `cargo test --all-targets`) it makes one 1 s smoke run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::process::{Child, ExitCode, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use support::{ServerOptions, TestServer};

/// Default run length, in seconds (a multiple of every interval in [`MATRIX`]).
const DEFAULT_SECS: u64 = 20;
/// Ticks per endpoint a default run lasts at least: a 20 s run of endpoints every
/// 5 s probes each only four times, and then loading 50,000 endpoints and writing
/// their final 150 MB snapshot (about 1.2 s of CPU, once per run, not per probe) is a
/// quarter of its cost. The 50,000-endpoint case runs 60 s by default; a length given
/// on the command line or in the environment applies to every case as given.
const DEFAULT_TICKS: u64 = 12;
/// Default runs of each configuration.
const DEFAULT_RUNS: u32 = 3;
/// The configurations run by default: (endpoints, interval in seconds).
const MATRIX: [(usize, u64); 4] = [(100, 1), (1_000, 1), (10_000, 1), (50_000, 5)];
/// How long past `--duration` the child may take to drain and print before it is
/// killed: generous, since a hung child is a failure to report, not to wait out.
const EXIT_GRACE: Duration = Duration::from_secs(60);
/// oha's connections, as in the issue's comparison.
const OHA_CONNECTIONS: u32 = 100;

/// Target: scheduler lag p99 at most this, in milliseconds.
const TARGET_LAG_P99_MS: f64 = 10.0;
/// Target: the median endpoint p50 at most this much above the 100-endpoint run's.
const TARGET_P50_OVER_MS: f64 = 0.5;
/// Target: CPU per probe at 1,000 endpoints, in µs.
const TARGET_CPU_1000_US: f64 = 65.0;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench engine: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every configuration the settings ask for, then prints the report.
fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env_and_args()?;
    // On its own thread and runtime, so it never competes with the benchmark's code
    // for an executor; the children are other processes, measured on their own.
    let server = TestServer::start_with(ServerOptions {
        delay: Duration::from_millis(settings.delay_ms),
    });
    let oha = settings.oha && oha_installed();
    eprintln!(
        "bench engine: {} configuration(s) x {} run(s) ({}) against http://{}; oha: {}",
        settings.cases.len(),
        settings.runs,
        settings
            .cases
            .iter()
            .map(|c| format!("{} s", c.secs))
            .collect::<Vec<_>>()
            .join(", "),
        server.addr(),
        if oha { "yes" } else { "no" }
    );
    let mut results = Vec::new();
    for case in &settings.cases {
        let mut runs = Vec::new();
        for run in 1..=settings.runs {
            eprintln!(
                "bench engine: {} endpoints every {} s, run {run}",
                case.endpoints, case.interval_s
            );
            let served_before = server.requests();
            let probetop = run_probetop(&server, *case, case.secs).with_context(|| {
                format!(
                    "run with {} endpoints every {} s",
                    case.endpoints, case.interval_s
                )
            })?;
            let served = server.requests() - served_before;
            let oha = if oha {
                Some(run_oha(&server, case.rate(), case.secs).context("running oha")?)
            } else {
                None
            };
            runs.push(Run {
                probetop,
                served,
                oha,
            });
        }
        results.push((*case, runs));
    }
    print!("{}", report(&settings, &results));
    Ok(())
}

/// One configuration: how many endpoints, how often, for how long.
#[derive(Debug, Clone, Copy)]
struct Case {
    endpoints: usize,
    interval_s: u64,
    /// Run length in whole seconds (a multiple of the interval).
    secs: u64,
}

impl Case {
    /// Probes (or requests) per second.
    fn rate(self) -> f64 {
        self.endpoints as f64 / self.interval_s as f64
    }

    /// Ticks due in its run: each endpoint ticks at `offset + k × interval` with its
    /// offset inside the first interval, and the run length is a multiple of the
    /// interval.
    fn due(self) -> u64 {
        self.endpoints as u64 * (self.secs / self.interval_s)
    }
}

/// What to run: from arguments first, then the environment, then the defaults.
#[derive(Debug, Clone)]
struct Settings {
    cases: Vec<Case>,
    runs: u32,
    /// Run oha beside probetop (when installed).
    oha: bool,
    /// How long the server waits before answering (`PROBETOP_BENCH_DELAY_MS`, default
    /// 0): histograms grow with the slowest latency they hold, so memory per endpoint
    /// against real, slower servers is measured with a delay.
    delay_ms: u64,
}

impl Settings {
    /// Reads the settings (see the module docs). Flags are ignored: `cargo bench`
    /// appends `--bench`.
    fn from_env_and_args() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary
        // without it, and then a 1 s smoke run keeps the benchmark from rotting
        // without costing the test suite a minute.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!("bench engine: not under `cargo bench`: smoke run only");
            return Ok(Settings {
                cases: vec![Case {
                    endpoints: 10,
                    interval_s: 1,
                    secs: 1,
                }],
                runs: 1,
                oha: false,
                delay_ms: 0,
            });
        }
        let mut positional = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
        let secs_arg = positional.next();
        let endpoints_arg = positional.next();
        let interval_arg = positional.next();
        // None: each case's default length.
        let secs: Option<u64> =
            setting(secs_arg, "PROBETOP_BENCH_SECS", 0).map(|s| (s > 0).then_some(s))?;
        let endpoints: Option<usize> =
            setting(endpoints_arg, "PROBETOP_BENCH_ENDPOINTS", 0).map(|n| (n > 0).then_some(n))?;
        let interval_s = setting(interval_arg, "PROBETOP_BENCH_INTERVAL", 1)?;
        let cases = match endpoints {
            Some(endpoints) => vec![(endpoints, interval_s)],
            None => MATRIX.to_vec(),
        };
        let cases: Vec<Case> = cases
            .into_iter()
            .map(|(endpoints, interval_s)| Case {
                endpoints,
                interval_s,
                secs: secs.unwrap_or(DEFAULT_SECS.max(DEFAULT_TICKS * interval_s)),
            })
            .collect();
        for case in &cases {
            if case.interval_s == 0 || case.secs % case.interval_s != 0 {
                bail!(
                    "the run length ({} s) must be a non-zero multiple of the interval ({} s)",
                    case.secs,
                    case.interval_s
                );
            }
        }
        Ok(Settings {
            cases,
            runs: setting(None, "PROBETOP_BENCH_RUNS", DEFAULT_RUNS)?.max(1),
            oha: setting(None, "PROBETOP_BENCH_OHA", 1u8)? != 0,
            delay_ms: setting(None, "PROBETOP_BENCH_DELAY_MS", 0)?,
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

/// One run of a configuration: probetop's, and oha's beside it.
#[derive(Debug)]
struct Run {
    probetop: RunResult,
    /// Requests the server answered during probetop's run.
    served: u64,
    oha: Option<OhaResult>,
}

/// What one probetop run produced and cost.
#[derive(Debug)]
struct RunResult {
    /// Wall time from spawn to exit (startup, the run, the drain and the snapshot).
    wall: Duration,
    /// User + system CPU time of the child.
    cpu: Duration,
    /// Of which system time.
    system: Duration,
    /// Peak resident set size of the child, in KiB.
    max_rss_kib: u64,
    /// Highest RSS sampled while probing (before the drain and the snapshot), in KiB.
    probing_rss_kib: Option<u64>,
    /// CPU over the middle of the run (from a fifth of it to 1 s before its end),
    /// without the start-up (reading the config, building the probers) and the end
    /// (the snapshot of every endpoint), which a 20 s run at 50,000 endpoints makes
    /// a sixth of its CPU: what probing itself costs.
    steady: Option<Steady>,
    /// Connections the server accepted during the run.
    connections: u64,
    snapshot: Snapshot,
    /// CPU µs of one bare wake-up of a thread, measured beside the run ([`WakeFloor`]).
    wake_us: Option<f64>,
}

/// What one oha run cost.
#[derive(Debug)]
struct OhaResult {
    cpu: Duration,
    /// Requests the server answered during the run.
    requests: u64,
}

impl OhaResult {
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

/// The parts of the snapshot JSON (DESIGN.md, version 1) the benchmark reads;
/// everything else is ignored.
#[derive(Debug, Deserialize)]
struct Snapshot {
    probetop_snapshot: u32,
    scheduler_lag_ms: Option<Lag>,
    endpoints: Vec<EndpointCounts>,
    /// Probetop's own overload, in snapshots that have it.
    overload: Option<Overload>,
}

/// Scheduler lag percentiles, in milliseconds.
#[derive(Debug, Deserialize)]
struct Lag {
    p50: f64,
    p99: f64,
    max: f64,
}

/// The snapshot's top-level `overload` object.
#[derive(Debug, Deserialize)]
struct Overload {
    seconds: f64,
}

/// The counters and latency of one endpoint.
#[derive(Debug, Deserialize)]
struct EndpointCounts {
    probes: u64,
    failed: u64,
    skipped: u64,
    latency_ms: Option<Latency>,
}

/// An endpoint's latency percentiles, in milliseconds.
#[derive(Debug, Deserialize)]
struct Latency {
    p50: f64,
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

    /// The median over endpoints of their p50 latency, in ms.
    fn median_p50_ms(&self) -> Option<f64> {
        let mut p50s: Vec<f64> = self
            .endpoints
            .iter()
            .filter_map(|e| e.latency_ms.as_ref().map(|l| l.p50))
            .collect();
        p50s.sort_by(f64::total_cmp);
        p50s.get(p50s.len() / 2).copied()
    }
}

/// Writes a config of `case.endpoints` endpoints on distinct paths of `server`, every
/// `case.interval_s` seconds with a 5 s timeout.
fn config(server: &TestServer, case: Case) -> String {
    let mut toml = String::with_capacity(case.endpoints * 100);
    for i in 0..case.endpoints {
        let _ = writeln!(
            toml,
            "[[endpoint]]\nname = \"e{i}\"\nurl = \"{}\"\ninterval = \"{}s\"\ntimeout = \"5s\"\n",
            server.url(&format!("/e{i}")),
            case.interval_s
        );
    }
    toml
}

/// Runs probetop on `case` for `secs` seconds and collects what it printed and cost.
fn run_probetop(server: &TestServer, case: Case, secs: u64) -> anyhow::Result<RunResult> {
    // The child runs inside the temporary directory, so nothing it might write (and
    // no ./probetop.toml of the developer's) touches the working tree.
    let dir = tempfile::Builder::new()
        .prefix("probetop-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let config = support::write_config(dir.path(), &config(server, case));
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path)
        .with_context(|| format!("creating {}", stderr_path.display()))?;

    let connections_before = server.connections();
    let wake_floor = WakeFloor::measure_for(Duration::from_secs(secs));
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
    show_stderr(case.endpoints, &warnings);
    let wake_us = wake_floor.finish();

    let usage = waited?;
    if !usage.success {
        bail!("probetop failed ({}); stderr:\n{warnings}", usage.status);
    }
    let snapshot: Snapshot =
        serde_json::from_slice(&output).context("parsing probetop's snapshot JSON")?;
    if snapshot.probetop_snapshot != 1 {
        bail!("unexpected snapshot version {}", snapshot.probetop_snapshot);
    }
    if snapshot.endpoints.len() != case.endpoints {
        bail!(
            "the snapshot has {} endpoints, the config {}",
            snapshot.endpoints.len(),
            case.endpoints
        );
    }
    Ok(RunResult {
        wall,
        cpu: usage.cpu,
        system: usage.system,
        max_rss_kib: usage.max_rss_kib,
        probing_rss_kib: usage.probing_rss_kib,
        steady: usage.steady,
        connections,
        snapshot,
        wake_us,
    })
}

/// The CPU a thread spends per sleep and wake-up when it does nothing else: what
/// one wake-up costs on this machine, measured beside each run (so under the same
/// load; only the thread's own CPU, as probetop's own figure is).
///
/// A probe sent on its own needs at least two (its tick, then its answer), so on a
/// machine whose every wake-up costs tens of µs (a virtual machine leaving and
/// re-entering its idle state) twice that is an estimate of the floor for a sparse
/// schedule, below which only sending several probes per wake-up goes. At 100
/// endpoints a second, probetop's cost per probe is compared with it.
struct WakeFloor {
    thread: JoinHandle<Option<f64>>,
}

/// The wake-floor thread's period: as far apart as the ticks of 100 endpoints a
/// second.
const WAKE_FLOOR_PERIOD: Duration = Duration::from_millis(10);

impl WakeFloor {
    /// Starts a thread that sleeps `WAKE_FLOOR_PERIOD` at a time for `length`.
    fn measure_for(length: Duration) -> Self {
        let thread = std::thread::spawn(move || {
            let cpu_before = thread_cpu()?;
            let started = Instant::now();
            let mut wakes = 0u32;
            // Bounded by `length`: at most length / period wake-ups.
            while started.elapsed() < length {
                std::thread::sleep(WAKE_FLOOR_PERIOD);
                wakes += 1;
            }
            let cpu = thread_cpu()?.checked_sub(cpu_before)?;
            Some(cpu.as_secs_f64() * 1e6 / f64::from(wakes.max(1)))
        });
        WakeFloor { thread }
    }

    /// CPU µs per wake-up; `None` where it could not be read.
    fn finish(self) -> Option<f64> {
        self.thread.join().ok().flatten()
    }
}

/// The calling thread's CPU time so far, from `/proc/thread-self/schedstat` (Linux).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Whether `oha` can be started.
fn oha_installed() -> bool {
    std::process::Command::new("oha")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs oha against `server` at `rate` requests a second for `secs` seconds, as the
/// issue's comparison did (`-c 100`), and measures it like probetop.
fn run_oha(server: &TestServer, rate: f64, secs: u64) -> anyhow::Result<OhaResult> {
    let before = server.requests();
    let mut child = std::process::Command::new("oha")
        .args(["-z", &format!("{secs}s"), "-q", &format!("{rate}")])
        .args(["-c", &OHA_CONNECTIONS.to_string()])
        .args(["--no-tui", "--output-format", "quiet"])
        .arg(server.url("/"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting oha")?;
    let usage = wait_bounded(&mut child, Duration::from_secs(secs), EXIT_GRACE)?;
    if !usage.success {
        bail!("oha failed ({})", usage.status);
    }
    Ok(OhaResult {
        cpu: usage.cpu,
        requests: server.requests() - before,
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
    /// Of which system time.
    system: Duration,
    max_rss_kib: u64,
    /// See [`RunResult::probing_rss_kib`].
    probing_rss_kib: Option<u64>,
    /// See [`RunResult::steady`].
    steady: Option<Steady>,
}

/// CPU time the child used over a stretch of wall time in the middle of its run.
#[derive(Debug, Clone, Copy)]
struct Steady {
    cpu: Duration,
    wall: Duration,
}

impl Steady {
    /// CPU µs per probe at `rate` probes a second.
    fn per_probe_us(&self, rate: f64) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (rate * self.wall.as_secs_f64()).max(1.0)
    }
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
    let steady_from = probing / 5;
    let steady_to = probing.saturating_sub(Duration::from_secs(1));
    let mut steady_start: Option<(Instant, Duration)> = None;
    let mut steady = None;
    loop {
        // Polling with WNOHANG keeps the kill below race-free: the pid is still ours
        // (not reaped, so not reusable) whenever we decide to kill it.
        if let Some(mut usage) = wait4(pid, libc::WNOHANG)? {
            usage.probing_rss_kib = probing_rss_kib;
            usage.steady = steady;
            return Ok(usage);
        }
        let elapsed = started.elapsed();
        if elapsed < probing {
            probing_rss_kib = probing_rss_kib.max(vm_rss_kib(pid));
        }
        if elapsed >= steady_from && steady_start.is_none() {
            steady_start = cpu_so_far(pid).map(|cpu| (Instant::now(), cpu));
        }
        if elapsed >= steady_to
            && steady.is_none()
            && let Some((at, cpu_then)) = steady_start
            && let Some(cpu_now) = cpu_so_far(pid)
        {
            steady = Some(Steady {
                cpu: cpu_now.saturating_sub(cpu_then),
                wall: at.elapsed(),
            });
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

/// The user + system CPU time `pid` has used so far, from `/proc/PID/stat` (Linux;
/// in clock ticks, 10 ms here).
fn cpu_so_far(pid: libc::pid_t) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&t| t > 0)?;
    Some(Duration::from_micros(ticks * 1_000_000 / per_second))
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
        system: timeval(rusage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
        probing_rss_kib: None,
        steady: None,
    }))
}

/// A `timeval` as a `Duration` (negative fields, which the kernel never reports, as 0).
fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// `PASS` or `FAIL`.
fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The median of `values` (`None` when empty).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The report: per configuration, one row per run side by side with oha, then each
/// run's verdict on the issue's targets.
fn report(settings: &Settings, results: &[(Case, Vec<Run>)]) -> String {
    // The reference for "median p50 within +0.5 ms": the 100-endpoint runs' median.
    let reference_p50 = median(
        results
            .iter()
            .filter(|(case, _)| case.endpoints == 100)
            .flat_map(|(_, runs)| runs.iter())
            .filter_map(|run| run.probetop.snapshot.median_p50_ms())
            .collect(),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "probetop engine benchmark: server delay {} ms{}",
        settings.delay_ms,
        reference_p50.map_or_else(String::new, |p| format!(
            ", reference median p50 (N = 100) {p:.3} ms"
        ))
    );
    for (case, runs) in results {
        let _ = writeln!(
            out,
            "\nN = {} every {} s ({:.0} probes/s), {} s per run, {} ticks due per run",
            case.endpoints,
            case.interval_s,
            case.rate(),
            case.secs,
            case.due()
        );
        let _ = writeln!(
            out,
            "  run   probed  skipped  failed  served  conns  cpu_s (sys)    us/probe  (steady)  lag_p50  lag_p99  lag_max  rss_MiB (probing)  med_p50_ms  overload_s  oha_us/req  ratio  wake_us"
        );
        for (i, run) in runs.iter().enumerate() {
            let r = &run.probetop;
            let s = &r.snapshot;
            let per_probe = r.cpu.as_secs_f64() * 1e6 / s.probes().max(1) as f64;
            let (lag_p50, lag_p99, lag_max) = s
                .scheduler_lag_ms
                .as_ref()
                .map_or((f64::NAN, f64::NAN, f64::NAN), |l| (l.p50, l.p99, l.max));
            let oha = run.oha.as_ref().map(OhaResult::cpu_per_request_us);
            let _ = writeln!(
                out,
                "  {:>3}  {:>7}  {:>7}  {:>6}  {:>6}  {:>5}  {:>6.2} ({:>5.2})  {:>8.1}  ({:>6})  {:>7.3}  {:>7.3}  {:>7.1}  {:>7.1} ({:>7})  {:>10}  {:>10}  {:>10}  {:>5}  {:>7}",
                i + 1,
                s.probes(),
                s.skipped(),
                s.failed(),
                run.served,
                r.connections,
                r.cpu.as_secs_f64(),
                r.system.as_secs_f64(),
                per_probe,
                r.steady.map_or_else(
                    || "-".to_string(),
                    |st| format!("{:.1}", st.per_probe_us(case.rate()))
                ),
                lag_p50,
                lag_p99,
                lag_max,
                r.max_rss_kib as f64 / 1024.0,
                r.probing_rss_kib
                    .map_or_else(|| "-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0)),
                s.median_p50_ms()
                    .map_or_else(|| "-".to_string(), |p| format!("{p:.3}")),
                s.overload
                    .as_ref()
                    .map_or_else(|| "n/a".to_string(), |o| format!("{}", o.seconds)),
                oha.map_or_else(|| "-".to_string(), |o| format!("{o:.1}")),
                oha.map_or_else(|| "-".to_string(), |o| format!("{:.2}", per_probe / o)),
                r.wake_us
                    .map_or_else(|| "-".to_string(), |w| format!("{w:.1}")),
            );
        }
        for (i, run) in runs.iter().enumerate() {
            let _ = writeln!(
                out,
                "  run {}: {}",
                i + 1,
                verdicts(*case, run, reference_p50)
            );
        }
    }
    out
}

/// One run's verdicts on the issue's targets for its configuration.
fn verdicts(case: Case, run: &Run, reference_p50: Option<f64>) -> String {
    let r = &run.probetop;
    let s = &r.snapshot;
    let due = case.due();
    let per_probe = r.cpu.as_secs_f64() * 1e6 / s.probes().max(1) as f64;
    let mut parts = Vec::new();
    let all_probed = s.probes() == due && s.skipped() == 0 && s.failed() == 0;
    parts.push(format!(
        "every tick probed, none failed {}",
        verdict(all_probed)
    ));
    let lag_ok = s
        .scheduler_lag_ms
        .as_ref()
        .is_some_and(|l| l.p99 <= TARGET_LAG_P99_MS);
    parts.push(format!(
        "lag p99 <= {TARGET_LAG_P99_MS} ms {}",
        verdict(lag_ok)
    ));
    let oha = run.oha.as_ref().map(OhaResult::cpu_per_request_us);
    match case.endpoints {
        100 => {
            if let Some(oha) = oha {
                parts.push(format!(
                    "cpu <= oha/3 ({:.1} us) {}",
                    oha / 3.0,
                    verdict(per_probe <= oha / 3.0)
                ));
            }
            if let Some(wake) = r.wake_us {
                // The estimated floor for probes sent one per wake-up; below it
                // only bursts go, which change what the target sees.
                parts.push(format!(
                    "floor: two bare wake-ups {:.1} us ({:.2}x of it)",
                    2.0 * wake,
                    per_probe / (2.0 * wake)
                ));
            }
        }
        1_000 => parts.push(format!(
            "cpu <= {TARGET_CPU_1000_US} us {}",
            verdict(per_probe <= TARGET_CPU_1000_US)
        )),
        _ => {
            if let Some(oha) = oha {
                parts.push(format!(
                    "cpu <= oha ({oha:.1} us) {}",
                    verdict(per_probe <= oha)
                ));
            }
        }
    }
    let rss_limit_mib = match case.endpoints {
        10_000 => Some(200.0),
        50_000 => Some(600.0),
        _ => None,
    };
    if let Some(limit) = rss_limit_mib {
        parts.push(format!(
            "peak RSS <= {limit} MiB {}",
            verdict(r.max_rss_kib as f64 / 1024.0 <= limit)
        ));
    }
    if let (Some(reference), Some(p50), true) =
        (reference_p50, s.median_p50_ms(), case.endpoints != 100)
    {
        parts.push(format!(
            "median p50 <= {:.3} ms {}",
            reference + TARGET_P50_OVER_MS,
            verdict(p50 <= reference + TARGET_P50_OVER_MS)
        ));
    }
    parts.push(format!("child wall {:.1} s", r.wall.as_secs_f64()));
    parts.join(", ")
}
