//! Dashboard at scale: the release binary in a real terminal (tmux, 160×50) watching
//! 10,000 endpoints every second on a loopback server, measured from the outside as a
//! user sees it (issue 11, point 3).
//!
//! ```text
//! cargo bench --bench dashboard                              # 3 runs of 10,000 endpoints
//! PROBETOP_BENCH_RUNS=5 PROBETOP_BENCH_ENDPOINTS=1000 cargo bench --bench dashboard
//! ```
//!
//! Each run measures:
//! - **header**: the pane is captured every [`HEADER_POLL`] for [`HEADER_SECS`] after a
//!   warm-up; the probe rate is parsed from the header (`12345.6 probes/s` or
//!   `12345.6/s`) and every change of the header line is timed. Targets: every rate
//!   read ≥ 9,000/s (90 % of the configured rate); no gap between header changes
//!   over 1 s (plus the longest time between two captures, the resolution of the
//!   measurement); and the run time (`HH:MM:SS`) never skipping a second;
//! - **keys**: for each key, the time from the start of `tmux send-keys` to the end of
//!   the first `capture-pane` showing its effect, polling every [`KEY_POLL`]: `G`
//!   (the last endpoint on screen), `g` (back to the first), `/` (the filter prompt),
//!   typing the last endpoint's name (one `send-keys -l`, the table down to one row),
//!   Enter (filter kept), Enter (its detail view), Esc (back), Esc (filter cleared).
//!   p50 and max over [`KEY_TRIES`] tries; target max ≤ 100 ms, tmux included;
//! - **tmux baseline**: the same measurement of a key echoed by the terminal itself
//!   (`cat` in a pane, the tty's echo): what tmux, a `send-keys` and a `capture-pane`
//!   cost with no program in the way, and the cost of one `capture-pane` alone.
//!   Subtract it to see probetop's share; the verdicts do not;
//! - **quit**: from `send-keys q` to the process gone; target ≤ 1 s;
//! - probetop's CPU (% of one core) and RSS during the header sampling, for context.
//!
//! `PROBETOP_BENCH_RUNS` (default 3; the machine is shared and noisy, so every run is
//! reported) and `PROBETOP_BENCH_ENDPOINTS` (default 10,000) change the load. Under
//! `cargo test --all-targets` (no `--bench` argument) it makes one short smoke run with
//! 50 endpoints on the debug binary, which proves the harness works, not how fast.
//! A missed target is reported, not fatal; the exit code is non-zero only when the
//! benchmark cannot run (tmux missing, probetop not starting or dying, a screen that
//! never shows what a key should show).
//!
//! The idle CPU of a small dashboard is `cargo bench --bench ui`'s.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use support::TestServer;
use support::tmux::{SESSION, Tmux, probetop_in_pane, run_bounded};

/// The pane's size.
const WIDTH: u16 = 160;
const HEIGHT: u16 = 50;
/// Default endpoints (every 1 s).
const DEFAULT_ENDPOINTS: usize = 10_000;
/// Default runs.
const DEFAULT_RUNS: u32 = 3;
/// How often the header is captured while it is sampled.
const HEADER_POLL: Duration = Duration::from_millis(20);
/// How long the header is sampled.
const HEADER_SECS: u64 = 10;
/// How often the pane is captured while waiting for a key's effect.
const KEY_POLL: Duration = Duration::from_millis(5);
/// Tries of every key.
const KEY_TRIES: usize = 7;
/// Longest wait for a key's effect before the benchmark gives up on the run.
const KEY_LIMIT: Duration = Duration::from_secs(10);
/// Longest wait for probetop to start, show its first rate, or quit.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Targets.
const TARGET_RATE_SHARE: f64 = 0.9;
const TARGET_UPDATE: Duration = Duration::from_secs(1);
const TARGET_KEY: Duration = Duration::from_millis(100);
const TARGET_QUIT: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench dashboard: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
struct Settings {
    endpoints: usize,
    runs: u32,
    /// Time after the first rate shows before the header is sampled.
    warmup: Duration,
    header: Duration,
    key_tries: usize,
    /// A debug build and a tiny load: figures prove it runs, not how fast.
    smoke: bool,
}

impl Settings {
    fn from_env_and_args() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary
        // without it, and then a short smoke run keeps the harness from rotting.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!("bench dashboard: not under `cargo bench`: smoke run only");
            return Ok(Settings {
                endpoints: 50,
                runs: 1,
                warmup: Duration::ZERO,
                header: Duration::from_millis(1_500),
                key_tries: 1,
                smoke: true,
            });
        }
        Ok(Settings {
            endpoints: setting("PROBETOP_BENCH_ENDPOINTS", DEFAULT_ENDPOINTS)?.max(2),
            runs: setting("PROBETOP_BENCH_RUNS", DEFAULT_RUNS)?.max(1),
            warmup: Duration::from_secs(5),
            header: Duration::from_secs(HEADER_SECS),
            key_tries: KEY_TRIES,
            smoke: false,
        })
    }
}

/// The environment variable `var` as a whole number, else `default`.
fn setting<T>(var: &str, default: T) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("bad {var} {text:?}: expected a whole number")),
        Err(_) => Ok(default),
    }
}

fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env_and_args()?;
    let line = |text: String| println!("{text}");
    line(format!(
        "probetop dashboard benchmark: {} endpoints every 1 s, tmux {WIDTH}×{HEIGHT}, {} run(s){}",
        settings.endpoints,
        settings.runs,
        if settings.smoke {
            " (smoke run: nothing judged)"
        } else {
            ""
        }
    ));
    let baseline = measure_baseline(settings.key_tries.max(5))?;
    line(format!(
        "  tmux baseline: key echoed by the tty   p50 {}   max {}   (n={}); one capture-pane alone p50 {}",
        ms(baseline.echo.p50),
        ms(baseline.echo.max),
        baseline.echo.n,
        ms(baseline.capture.p50),
    ));
    let server = TestServer::start();
    for run in 1..=settings.runs {
        let report = measure_run(&settings, &server)
            .with_context(|| format!("run {run} of {}", settings.runs))?;
        line(format!("  run {run}:"));
        for text in report.lines(&settings, baseline.echo.p50) {
            line(format!("    {text}"));
        }
    }
    Ok(())
}

/// p50 and max of some timings.
#[derive(Debug, Clone, Copy, Default)]
struct Spread {
    n: usize,
    p50: Duration,
    max: Duration,
}

impl Spread {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Spread {
            n: samples.len(),
            // Nearest rank.
            p50: samples
                .get(samples.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or_default(),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// What tmux costs by itself.
struct Baseline {
    /// `send-keys` to a capture showing the tty's echo.
    echo: Spread,
    /// One `capture-pane`.
    capture: Spread,
}

fn measure_baseline(tries: usize) -> anyhow::Result<Baseline> {
    let dir = tempdir()?;
    let mut tmux = Tmux::new("bench-dash-base")?;
    // `cat` in canonical mode: the tty echoes each key as it arrives.
    tmux.start(dir.path(), (WIDTH, HEIGHT), "cat")?;
    wait_for(&tmux, START_LIMIT, |_| true)?;
    let mut echo = Vec::new();
    let mut capture = Vec::new();
    for i in 1..=tries {
        let t0 = Instant::now();
        tmux.send_key("x")?;
        let (_, took) = wait_for(&tmux, KEY_LIMIT, |s| s.matches('x').count() >= i)
            .context("the tty did not echo a key")?;
        let _ = took;
        echo.push(t0.elapsed());
        let t = Instant::now();
        tmux.capture()?;
        capture.push(t.elapsed());
    }
    Ok(Baseline {
        echo: Spread::of(echo),
        capture: Spread::of(capture),
    })
}

fn tempdir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("probetop-bench-dashboard-")
        .tempdir()
        .context("creating a temporary directory")
}

/// Captures the pane every [`KEY_POLL`] until `done` holds for it, at most `limit`;
/// returns the screen and the time from the call to the end of that capture.
fn wait_for(
    tmux: &Tmux,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> anyhow::Result<(String, Duration)> {
    let t0 = Instant::now();
    loop {
        let screen = tmux.capture()?;
        let took = t0.elapsed();
        if done(&screen) {
            return Ok((screen, took));
        }
        if took >= limit {
            bail!("the pane did not show what was expected within {limit:?}:\n{screen}");
        }
        std::thread::sleep(KEY_POLL);
    }
}

/// Sends `keys` (literally with `literal`) and waits for `done`; returns the time
/// from the start of `send-keys` to the end of the capture that showed it.
fn time_key(
    tmux: &Tmux,
    keys: &str,
    literal: bool,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    if literal {
        let output = run_bounded(
            tmux.command()
                .args(["send-keys", "-t", SESSION, "-l", keys]),
            "tmux send-keys -l",
        )?;
        if !output.status.success() {
            bail!("tmux send-keys -l {keys:?} failed");
        }
    } else {
        tmux.send_key(keys)?;
    }
    wait_for(tmux, KEY_LIMIT, done).with_context(|| format!("after {what}"))?;
    Ok(t0.elapsed())
}

/// The header line: the first starting with `probetop`.
fn header(screen: &str) -> Option<&str> {
    screen.lines().find(|l| l.starts_with("probetop"))
}

/// The probe rate the header shows, when it shows one.
fn header_rate(header: &str) -> Option<f64> {
    let words: Vec<&str> = header.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, w)| {
        let number = if *w == "probes/s" {
            *words.get(i.checked_sub(1)?)?
        } else {
            w.strip_suffix("/s")?
        };
        number.parse().ok()
    })
}

/// The run time the header shows (`HH:MM:SS`), in seconds.
fn header_clock(header: &str) -> Option<u64> {
    header.split_whitespace().find_map(|w| {
        let mut parts = w.split(':').map(|p| p.parse::<u64>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) if w.len() == 8 => {
                Some(h * 3600 + m * 60 + s)
            }
            _ => None,
        }
    })
}

/// The table's rows on screen: lines whose first word (after the selection marker and
/// the state symbol) is an endpoint name `e<digits>`.
fn shows_endpoint(screen: &str, name: &str) -> bool {
    screen.lines().any(|l| {
        l.split_whitespace()
            .take(3)
            .any(|w| w == name || w.strip_prefix(name).is_some_and(|r| r.starts_with('…')))
    })
}

/// Whether the overview (not the detail view) is on screen: its column headings.
fn overview_shown(screen: &str) -> bool {
    screen.lines().any(|l| l.contains("LAST RESULT"))
}

/// One run's figures.
struct RunReport {
    endpoints: usize,
    started_in: Duration,
    rates: Vec<f64>,
    header_gaps: Spread,
    rate_gaps: Spread,
    samples: usize,
    /// The longest time between two captures: the resolution of the gaps.
    resolution: Duration,
    /// Seconds the header's run time jumped over (it should show every one).
    skipped_seconds: u64,
    /// Run times shown, first and last.
    clock: Option<(u64, u64)>,
    cpu_percent: f64,
    rss_mib: f64,
    keys: Vec<(&'static str, Spread)>,
    quit: Option<Duration>,
}

impl RunReport {
    /// The report, a line per figure; `baseline` is tmux's own p50 (see
    /// [`measure_baseline`]), shown beside each key's figures.
    fn lines(&self, settings: &Settings, baseline: Duration) -> Vec<String> {
        let judge = |ok: bool| {
            if settings.smoke {
                "not judged"
            } else if ok {
                "PASS"
            } else {
                "FAIL"
            }
        };
        let target_rate = self.endpoints as f64 * TARGET_RATE_SHARE;
        let mut sorted = self.rates.clone();
        sorted.sort_by(f64::total_cmp);
        let min = sorted.first().copied().unwrap_or(0.0);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let max = sorted.last().copied().unwrap_or(0.0);
        let shown: Vec<String> = self.rates.iter().map(|r| format!("{r:.0}")).collect();
        let slack = TARGET_UPDATE + self.resolution;
        let mut lines = vec![
            format!(
                "started (first rate on screen) in {:.1} s; probetop {:.0} % of a core, RSS {:.0} MiB while sampled",
                self.started_in.as_secs_f64(),
                self.cpu_percent,
                self.rss_mib
            ),
            format!(
                "header rate: {} values read over {} captures: min {min:.0}  median {median:.0}  max {max:.0} /s   target ≥ {target_rate:.0}/s   {}",
                self.rates.len(),
                self.samples,
                judge(!self.rates.is_empty() && min >= target_rate)
            ),
            format!("  rates read, in order: {}", shown.join(" ")),
            format!(
                "header line changes every p50 {} / max {} (n={}); the rate every p50 {} / max {}   target ≤ {} (+{} between captures)   {}",
                ms(self.header_gaps.p50),
                ms(self.header_gaps.max),
                self.header_gaps.n,
                ms(self.rate_gaps.p50),
                ms(self.rate_gaps.max),
                ms(TARGET_UPDATE),
                ms(self.resolution),
                judge(self.header_gaps.n > 0 && self.header_gaps.max <= slack)
            ),
            format!(
                "run time shown {} s → {} s, seconds skipped: {}   target 0   {}",
                self.clock.map_or(0, |c| c.0),
                self.clock.map_or(0, |c| c.1),
                self.skipped_seconds,
                judge(self.clock.is_some() && self.skipped_seconds == 0)
            ),
        ];
        for (key, spread) in &self.keys {
            lines.push(format!(
                "key {key:<22} p50 {:>9}   max {:>9}   (n={}; p50 {} over the tmux baseline)   target ≤ {}   {}",
                ms(spread.p50),
                ms(spread.max),
                spread.n,
                ms(spread.p50.saturating_sub(baseline)),
                ms(TARGET_KEY),
                judge(spread.max <= TARGET_KEY)
            ));
        }
        lines.push(match self.quit {
            Some(took) => format!(
                "q → process gone in {}   target ≤ {}   {}",
                ms(took),
                ms(TARGET_QUIT),
                judge(took <= TARGET_QUIT)
            ),
            None => format!(
                "q → process still there after {START_LIMIT:?}   {}",
                judge(false)
            ),
        });
        lines
    }
}

fn measure_run(settings: &Settings, server: &TestServer) -> anyhow::Result<RunReport> {
    let n = settings.endpoints;
    let dir = tempdir()?;
    let config = support::write_config(dir.path(), &support::endpoints_config(server, n));
    let pid_file = dir.path().join("pid");
    let log = dir.path().join("probetop.log");
    // Dropped before the directory: probetop ends before its files go.
    let mut tmux = Tmux::new("bench-dash")?;
    let command = format!("{}; sleep 60", probetop_in_pane(&pid_file, &config, &log));
    let t0 = Instant::now();
    tmux.start(dir.path(), (WIDTH, HEIGHT), &command)?;
    let pid = support::process::wait_for_pid(&pid_file, START_LIMIT, Duration::from_millis(20))?;
    let alive = || Path::new(&format!("/proc/{pid}")).exists();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(&tmux, START_LIMIT, |s| {
        !alive() || header(s).and_then(header_rate).is_some()
    })
    .with_context(|| format!("waiting for the first probe rate; log:\n{}", log_text()))?;
    if !alive() {
        bail!("probetop ended at start; log:\n{}", log_text());
    }
    let started_in = t0.elapsed();
    std::thread::sleep(settings.warmup);

    // The header, sampled.
    let cpu_before = support::process::cpu_time(pid)?;
    let sampling = Instant::now();
    let mut samples = 0;
    let mut rates = Vec::new();
    let (mut last_header, mut last_rate) = (None::<String>, None::<f64>);
    let (mut header_changes, mut rate_changes) = (Vec::new(), Vec::new());
    let (mut resolution, mut previous_capture) = (Duration::ZERO, None::<Duration>);
    let (mut clock, mut skipped_seconds) = (None::<(u64, u64)>, 0);
    while sampling.elapsed() < settings.header {
        let screen = tmux.capture()?;
        let at = sampling.elapsed();
        resolution = resolution.max(at - previous_capture.unwrap_or(at));
        previous_capture = Some(at);
        samples += 1;
        let Some(line) = header(&screen) else {
            bail!("no header on screen:\n{screen}");
        };
        if last_header.as_deref() != Some(line) {
            header_changes.push(at);
            last_header = Some(line.to_string());
        }
        if let Some(now) = header_clock(line) {
            clock = Some(match clock {
                None => (now, now),
                Some((first, last)) => {
                    skipped_seconds += now.saturating_sub(last).saturating_sub(1);
                    (first, last.max(now))
                }
            });
        }
        let rate = header_rate(line);
        if rate.is_some() && rate != last_rate {
            rate_changes.push(at);
            rates.extend(rate);
            last_rate = rate;
        }
        std::thread::sleep(HEADER_POLL);
    }
    let wall = sampling.elapsed();
    let cpu = support::process::cpu_time(pid)
        .context("probetop ended while the header was sampled")?
        - cpu_before;
    let rss_mib = rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    // The first change is where sampling began, not an update.
    let gaps = |changes: &[Duration], end: Duration| {
        // The time from the last change to the end is a gap too: a header that froze
        // for good must not look fine.
        let mut gaps: Vec<Duration> = changes.windows(2).map(|w| w[1] - w[0]).collect();
        if let Some(last) = changes.last() {
            gaps.push(end - *last);
        }
        Spread::of(gaps)
    };
    let header_gaps = gaps(&header_changes, wall);
    let rate_gaps = gaps(&rate_changes, wall);

    // The keys.
    let last = format!("e{}", n - 1);
    let filtered = format!("1/{n} shown");
    let before_last = format!("e{}", n.saturating_sub(2));
    let kept = format!("filter {last:?}");
    type Check<'a> = Box<dyn Fn(&str) -> bool + 'a>;
    let steps: Vec<(&'static str, &str, bool, Check)> = vec![
        (
            "G (last endpoint)",
            "G",
            false,
            Box::new(|s| shows_endpoint(s, &last) && !shows_endpoint(s, "e0")),
        ),
        (
            "g (first endpoint)",
            "g",
            false,
            Box::new(|s| shows_endpoint(s, "e0")),
        ),
        (
            "/ (filter prompt)",
            "/",
            false,
            Box::new(|s| s.contains('▏')),
        ),
        (
            "typing the name",
            &last,
            true,
            Box::new(|s| s.contains(&filtered) && shows_endpoint(s, &last)),
        ),
        (
            "Enter (keep filter)",
            "Enter",
            false,
            Box::new(|s| s.contains(&kept)),
        ),
        (
            "Enter (detail view)",
            "Enter",
            false,
            Box::new(|s| !overview_shown(s) && s.contains(&last)),
        ),
        (
            "Esc (back)",
            "Escape",
            false,
            Box::new(|s| overview_shown(s) && s.contains(&kept)),
        ),
        (
            "Esc (filter cleared)",
            "Escape",
            false,
            Box::new(|s| {
                !s.contains(&kept) && (shows_endpoint(s, "e0") || shows_endpoint(s, &before_last))
            }),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); steps.len()];
    for _ in 0..settings.key_tries {
        // `G` needs the table at its top to show a change: settle there, untimed.
        time_key(&tmux, "g", false, "settling", |s| shows_endpoint(s, "e0"))?;
        std::thread::sleep(Duration::from_millis(100));
        for (i, (what, keys, literal, done)) in steps.iter().enumerate() {
            times[i].push(time_key(&tmux, keys, *literal, what, done)?);
            // A key right after another measures the first one's frame too.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let keys = steps
        .iter()
        .zip(times)
        .map(|((what, ..), t)| (*what, Spread::of(t)))
        .collect();

    // Quitting.
    let t = Instant::now();
    tmux.send_key("q")?;
    let mut quit = None;
    while t.elapsed() < START_LIMIT {
        if !alive() {
            quit = Some(t.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(RunReport {
        endpoints: n,
        started_in,
        rates,
        header_gaps,
        rate_gaps,
        samples,
        resolution,
        skipped_seconds,
        clock,
        cpu_percent: cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        rss_mib,
        keys,
        quit,
    })
}

/// The resident set of `pid`, in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
