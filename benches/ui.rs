//! Dashboard benchmark: what a frame, a refresh and a key press cost, and how much CPU
//! an idle dashboard burns.
//!
//! ```text
//! cargo bench --bench ui                              # full run (about a minute)
//! PROBETOP_BENCH_IDLE_SECS=10 cargo bench --bench ui  # shorter idle measurement
//! PROBETOP_BENCH_ONLY=idle cargo bench --bench ui     # the idle measurement alone
//! PROBETOP_BENCH_ONLY=overview cargo bench --bench ui # model::overview alone
//! PROBETOP_BENCH_OVERVIEW_SIZES=10000 PROBETOP_BENCH_ONLY=overview cargo bench --bench ui
//!                                                     # model::overview at 10,000 only
//! ```
//!
//! It measures:
//! - **frame**: one `view::draw` into a 120×40 `TestBackend` terminal with 10, 1,000
//!   and 10,000 endpoints of fixed data (mean and p99). Only the visible rows are
//!   drawn, so the cost should hardly grow with the endpoint count;
//! - **refresh_rows**: the UI thread's work when new data arrives (filter and sort
//!   over every endpoint), which does grow with the count;
//! - **overview**: `model::overview`, the per-refresh computation on the statistics
//!   thread, from endpoints with 300 window entries each, at 10, 1,000, 10,000 and
//!   50,000 endpoints: every row from scratch (the first refresh, a change of span),
//!   every endpoint probed once since the last refresh (what each refresh costs when
//!   every endpoint probes once a second: targets p99 ≤ 10 ms at 10,000, ≤ 50 ms at
//!   50,000), and every row kept (`overview_cached`, nothing changed);
//! - **key → frame**: `on_key(Down)` plus one draw, at 1,000 endpoints (p50 and p99);
//! - **idle CPU**: the release binary in tmux (120×40) watching 10 endpoints every 1 s
//!   on a loopback server, user + system time of the probetop process from
//!   `/proc/PID/stat` over 30 s after a 3 s warm-up, as % of one core (target ≤ 0.5 %,
//!   gping's figure in issue 11), and per thread its CPU time (`schedstat`, in ns)
//!   and wake-ups a second (context switches, from `status`).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it only does a smoke run
//! with tiny sizes and a 2 s idle measurement, so the benchmark keeps compiling and
//! running without slowing the test suite. A missed target is reported, not fatal;
//! the exit code is non-zero only when the benchmark itself cannot run (e.g. tmux is
//! missing, or probetop dies).
//!
//! The idle run's server and tmux harness are the tests' own (`tests/support/`).

#[path = "../tests/support/mod.rs"]
mod support;

/// The allocator the `probetop` binary uses (`src/main.rs`): the statistics thread's
/// refresh is measured as users run it, not with the system allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use probetop::config::Endpoint;
use probetop::probe::{ErrorClass, ProbeError, ProbeOutcome};
use probetop::stats::{EndpointStats, LatencySummary, State, StatsStore};
use probetop::ui::model::{self, EndpointRow, OverviewData, SPARK_POINTS, Span, SparkPoint};
use probetop::ui::state::UiState;
use probetop::ui::theme::Theme;
use probetop::ui::trail::SparkTrail;
use probetop::ui::view::{self, ViewInput};
use support::TestServer;
use support::tmux::{Tmux, probetop_in_pane, require_tmux};

/// Terminal size of every measurement (the idle run's tmux pane too).
const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// Window entries per endpoint for `overview`: 5 minutes at a 1 s interval.
const WINDOW_ENTRIES: u32 = 300;
/// Endpoints of the idle run, and their interval.
const IDLE_ENDPOINTS: usize = 10;
/// Target: an idle dashboard uses at most this much of one core, in percent.
const TARGET_IDLE_CPU_PERCENT: f64 = 0.5;
/// Default idle measurement, in seconds (`PROBETOP_BENCH_IDLE_SECS` overrides it).
const DEFAULT_IDLE_SECS: u64 = 30;
/// Longest wait for probetop to start (write its pid, draw) or to quit.
const START_LIMIT: Duration = Duration::from_secs(20);
/// Time budget per size for the repeated measurements: large sizes stop early rather
/// than take minutes (but always run at least [`MIN_SAMPLES`]).
const SIZE_BUDGET: Duration = Duration::from_secs(10);
/// Fewest samples per figure, whatever the budget says.
const MIN_SAMPLES: usize = 5;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench ui: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
struct Settings {
    /// Endpoint counts of the frame, refresh_rows and overview measurements.
    sizes: Vec<usize>,
    /// Endpoint counts of the overview measurement only (the statistics' summary
    /// must hold at 50,000 too).
    overview_sizes: Vec<usize>,
    /// Samples per size (frames, refreshes, overviews), at most.
    samples: usize,
    /// Endpoints of the key → frame measurement.
    key_endpoints: usize,
    /// Warm-up of the idle run before the CPU time is read.
    idle_warmup: Duration,
    /// Length of the idle measurement.
    idle: Duration,
    /// A smoke run (a debug build, tiny sizes): figures prove it runs, not how fast.
    smoke: bool,
    /// Only the idle measurement (`PROBETOP_BENCH_ONLY=idle`).
    idle_only: bool,
    /// Only the overview measurement (`PROBETOP_BENCH_ONLY=overview`).
    overview_only: bool,
}

impl Settings {
    /// The full run under `cargo bench`, else a smoke run.
    fn from_env_and_args() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary
        // without it, and then a smoke run keeps it from rotting at little cost.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!("bench ui: not under `cargo bench`: smoke run only");
            return Ok(Settings {
                sizes: vec![10, 100],
                overview_sizes: vec![10, 100],
                samples: 10,
                key_endpoints: 100,
                idle_warmup: Duration::from_secs(1),
                idle: Duration::from_secs(2),
                smoke: true,
                idle_only: false,
                overview_only: false,
            });
        }
        let idle_secs = match std::env::var("PROBETOP_BENCH_IDLE_SECS") {
            Ok(text) => text.trim().parse::<u64>().with_context(|| {
                format!("bad PROBETOP_BENCH_IDLE_SECS {text:?}: expected whole seconds")
            })?,
            Err(_) => DEFAULT_IDLE_SECS,
        };
        if idle_secs == 0 {
            bail!("PROBETOP_BENCH_IDLE_SECS must be at least 1");
        }
        let (idle_only, overview_only) = match std::env::var("PROBETOP_BENCH_ONLY") {
            Ok(only) if only == "idle" => (true, false),
            Ok(only) if only == "overview" => (false, true),
            Ok(only) => {
                bail!("bad PROBETOP_BENCH_ONLY {only:?}: expected \"idle\" or \"overview\"")
            }
            Err(_) => (false, false),
        };
        let overview_sizes = match std::env::var("PROBETOP_BENCH_OVERVIEW_SIZES") {
            Ok(text) => text
                .split(',')
                .map(|n| n.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .filter(|sizes| !sizes.is_empty() && !sizes.contains(&0))
                .with_context(|| {
                    format!(
                        "bad PROBETOP_BENCH_OVERVIEW_SIZES {text:?}: expected endpoint counts, such as 10000,50000"
                    )
                })?,
            Err(_) => vec![10, 1_000, 10_000, 50_000],
        };
        Ok(Settings {
            sizes: vec![10, 1_000, 10_000],
            overview_sizes,
            samples: 200,
            key_endpoints: 1_000,
            idle_warmup: Duration::from_secs(3),
            idle: Duration::from_secs(idle_secs),
            smoke: false,
            idle_only,
            overview_only,
        })
    }
}

fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env_and_args()?;
    // Each figure is printed as soon as it is known, so a slow or failing idle run
    // still leaves the others on screen.
    let line = |text: String| println!("{text}");
    line(format!("probetop UI benchmark ({WIDTH}×{HEIGHT} terminal)"));
    if settings.idle_only {
        return idle_report(&settings);
    }
    if settings.overview_only {
        overview_report(&settings);
        return Ok(());
    }

    line(format!(
        "  frame: view::draw into a TestBackend, up to {} frames",
        settings.samples
    ));
    for &n in &settings.sizes {
        let s = Stats::of(measure_frames(n, settings.samples)?);
        line(format!(
            "    {n:>6} endpoints   mean {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            s.mean_ms, s.p99_ms, s.n
        ));
    }

    line("  refresh_rows: UI thread, once per data refresh (filter + sort, config order)".into());
    for &n in &settings.sizes {
        let s = Stats::of(measure_refresh_rows(n, settings.samples));
        line(format!(
            "    {n:>6} endpoints   mean {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            s.mean_ms, s.p99_ms, s.n
        ));
    }

    overview_report(&settings);

    let s = Stats::of(measure_key_to_frame(
        settings.key_endpoints,
        settings.samples,
    )?);
    line(format!(
        "  key → frame: on_key(Down) + one draw, {} endpoints   p50 {:.3} ms   p99 {:.3} ms   (n={})",
        settings.key_endpoints, s.p50_ms, s.p99_ms, s.n
    ));

    idle_report(&settings)
}

/// Measures `model::overview` at every size and prints its figures.
fn overview_report(settings: &Settings) {
    let line = |text: String| println!("{text}");
    line(format!(
        "  model::overview: statistics thread, once per refresh, {WINDOW_ENTRIES} window entries per endpoint, span 5m"
    ));
    for &n in &settings.overview_sizes {
        let times = measure_overview(n, settings.samples);
        let s = Stats::of(times.cold);
        line(format!(
            "    {n:>6} endpoints, every row from scratch (first refresh, new span)   mean {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            s.mean_ms, s.p99_ms, s.n,
        ));
        let s = Stats::of(times.probed);
        let cpu = Stats::of(times.probed_cpu);
        line(format!(
            "    {n:>6} endpoints, every endpoint probed once since the last refresh   mean {:>8.3} ms   p50 {:>8.3} ms   p99 {:>8.3} ms   (n={})   target {}   (thread CPU: mean {:.3} ms, p99 {:.3} ms)",
            s.mean_ms,
            s.p50_ms,
            s.p99_ms,
            s.n,
            overview_target(n, s.p99_ms, settings.smoke),
            cpu.mean_ms,
            cpu.p99_ms,
        ));
        let s = Stats::of(times.probed_shown);
        line(format!(
            "    {n:>6} endpoints, probed once, the overview before still shown (as the dashboard keeps it)   mean {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            s.mean_ms, s.p99_ms, s.n
        ));
        let s = Stats::of(times.warm);
        line(format!(
            "    {n:>6} endpoints, rows kept (nothing changed since the last refresh)   mean {:>8.3} ms   p99 {:>8.3} ms   (n={})",
            s.mean_ms, s.p99_ms, s.n
        ));
    }
}

/// Measures the idle dashboard and prints its figures.
fn idle_report(settings: &Settings) -> anyhow::Result<()> {
    let line = |text: String| println!("{text}");
    let idle = measure_idle(settings)?;
    let percent = idle.cpu.as_secs_f64() / idle.wall.as_secs_f64() * 100.0;
    line(format!(
        "  idle CPU: {IDLE_ENDPOINTS} endpoints every 1 s in tmux for {:.1} s: {:.3} s CPU = {percent:.2} % of one core ({} requests served)",
        idle.wall.as_secs_f64(),
        idle.cpu.as_secs_f64(),
        idle.requests
    ));
    let seconds = idle.wall.as_secs_f64();
    line(
        "    per thread (CPU from schedstat; wake-ups = context switches, voluntary + involuntary):"
            .into(),
    );
    for thread in &idle.threads {
        line(format!(
            "    {:<20} {:>7.3} % of one core   {:>7.1} wake-ups/s ({:.1} + {:.1})",
            thread.name,
            thread.cpu.as_secs_f64() / seconds * 100.0,
            (thread.voluntary + thread.involuntary) as f64 / seconds,
            thread.voluntary as f64 / seconds,
            thread.involuntary as f64 / seconds,
        ));
    }
    line(format!(
        "  target idle CPU ≤ {TARGET_IDLE_CPU_PERCENT} % of one core   {}",
        if settings.smoke {
            // A debug build over 2 s says nothing about the release binary.
            "not judged (smoke run)"
        } else if percent <= TARGET_IDLE_CPU_PERCENT {
            "PASS"
        } else {
            "FAIL"
        }
    ));
    Ok(())
}

/// Mean and percentiles of a set of timings.
struct Stats {
    n: usize,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let n = samples.len();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // Nearest rank: the smallest sample with at least p % of samples at or below it.
        let rank = |p: f64| {
            let index = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
            samples.get(index).copied().map_or(0.0, ms)
        };
        Stats {
            n,
            mean_ms: if n == 0 {
                0.0
            } else {
                samples.iter().map(|d| ms(*d)).sum::<f64>() / n as f64
            },
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
        }
    }
}

/// Runs `step` up to `samples` times (at least [`MIN_SAMPLES`], within
/// [`SIZE_BUDGET`] beyond that) and returns how long each run took.
fn repeat(
    samples: usize,
    mut step: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Duration>> {
    let started = Instant::now();
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        if i >= MIN_SAMPLES && started.elapsed() > SIZE_BUDGET {
            break;
        }
        let t = Instant::now();
        step()?;
        times.push(t.elapsed());
    }
    Ok(times)
}

/// `n` endpoints on a made-up host (nothing is ever requested from it).
fn endpoints(n: usize) -> Vec<Endpoint> {
    (0..n)
        .map(|i| {
            let url = url::Url::parse(&format!("http://127.0.0.1:9/e{i}")).expect("valid URL");
            Endpoint::new(
                &format!("endpoint-{i:05}"),
                url,
                Duration::from_secs(1),
                Duration::from_secs(5),
            )
        })
        .collect()
}

/// Overview data of `n` endpoints, as the statistics thread would send it: mixed
/// states, every column filled, full sparklines.
fn overview_data(n: usize) -> OverviewData {
    let rows = (0..n)
        .map(|i| {
            let failing = i % 7 == 3;
            let base = 1.0 + (i % 50) as f64;
            let latency = LatencySummary {
                min: base * 0.5,
                mean: base,
                p50: base,
                p90: base * 1.5,
                p99: base * 3.0,
                p999: base * 4.0,
                max: base * 5.0,
            };
            let spark = (0..SPARK_POINTS)
                .map(|k| {
                    if failing && k.is_multiple_of(5) {
                        SparkPoint::Failed
                    } else {
                        SparkPoint::Latency(((base * 1000.0) as u32) + (k as u32 * 37) % 4000)
                    }
                })
                .collect::<Vec<_>>();
            std::sync::Arc::new(EndpointRow {
                name: format!("endpoint-{i:05}"),
                state: if failing { State::Down } else { State::Up },
                last_latency_ms: Some(base),
                latency: Some(latency),
                span_probes: 300,
                span_ok: if failing { 240 } else { 300 },
                probes: 12_345,
                skipped: 0,
                spark: SparkTrail::from(&spark[..]),
                last_result: if failing {
                    "status: status 503".into()
                } else {
                    "200".into()
                },
                last_failed: failing,
            })
        })
        .collect();
    OverviewData {
        elapsed: Duration::from_secs(3_725),
        taken_at: SystemTime::now(),
        total_probes: 12_345 * n as u64,
        lag_p99_ms: Some(0.42),
        span: Span::FiveMinutes,
        rows,
        overload: None,
        local_network_down: false,
    }
}

/// A 120×40 test terminal.
fn terminal() -> anyhow::Result<Terminal<TestBackend>> {
    Terminal::new(TestBackend::new(WIDTH, HEIGHT)).context("creating the test terminal")
}

/// Draws one frame as the dashboard's loop does, and applies the measured layout.
fn draw(
    terminal: &mut Terminal<TestBackend>,
    state: &mut UiState,
    data: &OverviewData,
    endpoints: &[Endpoint],
) -> anyhow::Result<()> {
    let input = ViewInput {
        state,
        data,
        detail: None,
        endpoints,
        rate: Some(10.0),
        paused: false,
        theme: Theme { color: true },
    };
    let mut layout = None;
    terminal
        .draw(|frame| layout = view::draw(frame, &input))
        .context("drawing a frame")?;
    if let Some(layout) = layout {
        state.set_page(layout.page, layout.table_top);
    }
    Ok(())
}

/// Frame times with `n` endpoints. The run time in the header changes every frame, as
/// it does on screen, so every frame has something to send to the terminal.
fn measure_frames(n: usize, samples: usize) -> anyhow::Result<Vec<Duration>> {
    let endpoints = endpoints(n);
    let mut data = overview_data(n);
    let mut state = UiState::new(Span::FiveMinutes);
    state.refresh_rows(&data);
    let mut terminal = terminal()?;
    // The first frame paints everything; later ones only the differences.
    draw(&mut terminal, &mut state, &data, &endpoints)?;
    repeat(samples, || {
        data.elapsed += Duration::from_secs(1);
        draw(&mut terminal, &mut state, &data, &endpoints)
    })
}

/// `refresh_rows` times with `n` endpoints.
fn measure_refresh_rows(n: usize, samples: usize) -> Vec<Duration> {
    let data = overview_data(n);
    let mut state = UiState::new(Span::FiveMinutes);
    repeat(samples, || {
        state.refresh_rows(&data);
        Ok(())
    })
    .unwrap_or_default()
}

/// Statistics of one endpoint after [`WINDOW_ENTRIES`] probes, one a second: latencies
/// around `base_ms`, and with `failing` a 503 every fifth probe (the last one too).
fn endpoint_stats(base_ms: u64, failing: bool, window: Duration) -> EndpointStats {
    let mut stats = EndpointStats::default();
    let start = SystemTime::now();
    for k in 0..WINDOW_ENTRIES {
        let fails = failing && (k % 5 == 4 || k == WINDOW_ENTRIES - 1);
        let latency = Duration::from_micros(base_ms * 1000 + u64::from(k * 37 % 4000));
        let outcome = ProbeOutcome {
            latency: Some(latency),
            status: Some(if fails { 503 } else { 200 }),
            error: fails.then(|| ProbeError {
                class: ErrorClass::Status,
                message: "status 503".into(),
            }),
            ..ProbeOutcome::default()
        };
        // One probe a second, in deciseconds since the start.
        let at_ds = k * 10;
        stats.record(
            outcome,
            at_ds,
            start + Duration::from_secs(u64::from(k)),
            window,
        );
    }
    stats
}

/// The statistics of `n` endpoints, read right after their last probes.
fn stats_store(n: usize) -> StatsStore {
    let window = Duration::from_secs(300);
    // Recording 300 probes into each of 10,000 endpoints would take longer than the
    // measurement; a few distinct templates, cloned, cost `overview` exactly as much.
    let templates: Vec<EndpointStats> = (0..7)
        .map(|t| endpoint_stats(1 + t * 7, t == 3, window))
        .collect();
    let started_at = SystemTime::now();
    let endpoints = (0..n)
        .map(|i| templates[i % templates.len()].clone())
        .collect();
    let mut store = StatsStore::new(started_at, window, endpoints);
    store.stamp(
        started_at + Duration::from_secs(u64::from(WINDOW_ENTRIES)),
        WINDOW_ENTRIES * 10,
    );
    store
}

/// `model::overview` times with `n` endpoints, three ways.
struct OverviewTimes {
    /// Every row computed from scratch (the first refresh, a change of span).
    cold: Vec<Duration>,
    /// Every endpoint probed once since the refresh before (one new probe, the
    /// oldest one leaving the span): what each refresh costs at 1 Hz.
    probed: Vec<Duration>,
    /// The thread's CPU time in each of `probed` (on a shared, loaded host the wall
    /// time also counts the moments the thread waited for a core).
    probed_cpu: Vec<Duration>,
    /// The same, with the overview before alive while the next is computed, as the
    /// dashboard keeps it on screen and drops it on its own thread: the rows the
    /// cache replaces are not freed in the refresh, so its allocations find no
    /// chunks just given back (the allocator's slower paths).
    probed_shown: Vec<Duration>,
    /// Nothing changed since the refresh before.
    warm: Vec<Duration>,
}

fn measure_overview(n: usize, samples: usize) -> OverviewTimes {
    let endpoints = endpoints(n);
    let stats = stats_store(n);
    let cold = repeat(samples, || {
        let data = model::overview(&stats, &endpoints, Span::FiveMinutes);
        // Keep the work from being optimised away.
        std::hint::black_box(data);
        Ok(())
    })
    .unwrap_or_default();
    let mut cache = model::OverviewCache::default();
    model::overview_cached(&stats, &endpoints, Span::FiveMinutes, &mut cache);
    let warm = repeat(samples, || {
        let data = model::overview_cached(&stats, &endpoints, Span::FiveMinutes, &mut cache);
        std::hint::black_box(data);
        Ok(())
    })
    .unwrap_or_default();
    let (probed, probed_cpu, stats, cache) =
        measure_overview_probed(&endpoints, stats, cache, samples, false);
    let (probed_shown, ..) = measure_overview_probed(&endpoints, stats, cache, samples, true);
    OverviewTimes {
        cold,
        probed,
        probed_cpu,
        probed_shown,
        warm,
    }
}

/// `model::overview_cached` times after every endpoint recorded one more probe a
/// second after the last (recording is not timed); with `keep_shown`, each overview
/// is dropped only after the next is computed. Returns the statistics and the cache
/// for the next measurement.
fn measure_overview_probed(
    endpoints: &[Endpoint],
    mut store: StatsStore,
    mut cache: model::OverviewCache,
    samples: usize,
    keep_shown: bool,
) -> (
    Vec<Duration>,
    Vec<Duration>,
    StatsStore,
    model::OverviewCache,
) {
    let window = store.window();
    let started_at = store.started_at();
    let started = Instant::now();
    let mut times = Vec::with_capacity(samples);
    let mut cpu_times = Vec::with_capacity(samples);
    let mut shown = None;
    // Probes go on a second apart from where an earlier measurement left them.
    let first = store.now_ds() / 10 - WINDOW_ENTRIES;
    for step in first..first + samples as u32 {
        if times.len() >= MIN_SAMPLES && started.elapsed() > SIZE_BUDGET {
            break;
        }
        let now_ds = (WINDOW_ENTRIES + 1 + step) * 10;
        let at = started_at + Duration::from_millis(u64::from(now_ds) * 100);
        let mut stats = store.into_endpoints();
        for (i, s) in stats.iter_mut().enumerate() {
            let latency =
                Duration::from_micros(1_000 + (i as u64 * 131 + u64::from(step)) % 40_000);
            let outcome = ProbeOutcome {
                latency: Some(latency),
                status: Some(200),
                ..ProbeOutcome::default()
            };
            s.record(outcome, now_ds, at, window);
        }
        store = StatsStore::new(started_at, window, stats);
        store.stamp(at, now_ds);
        let (t, cpu) = (Instant::now(), thread_cpu_time());
        let data = model::overview_cached(&store, endpoints, Span::FiveMinutes, &mut cache);
        times.push(t.elapsed());
        cpu_times.push(thread_cpu_time().saturating_sub(cpu));
        let data = std::hint::black_box(data);
        if keep_shown {
            shown = Some(data);
        }
    }
    drop(shown);
    (times, cpu_times, store, cache)
}

/// The calling thread's CPU time so far (Linux: `CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; the clock id is a constant.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Whether the overview's p99 meets the issue's target: ≤ 10 ms at 10,000 endpoints,
/// ≤ 50 ms at 50,000 (smaller sizes are not judged).
fn overview_target(n: usize, p99_ms: f64, smoke: bool) -> &'static str {
    let limit = match n {
        10_000 => 10.0,
        50_000 => 50.0,
        _ => return "-",
    };
    if smoke {
        "not judged (smoke run)"
    } else if p99_ms <= limit {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Times from a Down key to the end of the frame that shows it, with `n` endpoints:
/// the selection walks down the table and scrolls it, as a user holding the key does.
fn measure_key_to_frame(n: usize, samples: usize) -> anyhow::Result<Vec<Duration>> {
    let endpoints = endpoints(n);
    let data = overview_data(n);
    let mut state = UiState::new(Span::FiveMinutes);
    state.refresh_rows(&data);
    let mut terminal = terminal()?;
    draw(&mut terminal, &mut state, &data, &endpoints)?;
    repeat(samples, || {
        state.on_key(KeyEvent::from(KeyCode::Down), &data);
        draw(&mut terminal, &mut state, &data, &endpoints)
    })
}

/// What the idle run measured.
struct Idle {
    /// Wall time between the two CPU readings.
    wall: Duration,
    /// probetop's user + system time over it.
    cpu: Duration,
    /// Requests the server answered over it (a sanity check that probing went on).
    requests: u64,
    /// What each thread (by name, threads of one name added up) did over it, the
    /// busiest first.
    threads: Vec<ThreadUse>,
}

/// One thread's (or one name's threads') CPU time and context switches.
#[derive(Debug, Clone, Default)]
struct ThreadUse {
    name: String,
    cpu: Duration,
    voluntary: u64,
    involuntary: u64,
}

/// Every live thread of `pid`, by thread id.
fn thread_uses(pid: u32) -> std::collections::HashMap<u32, ThreadUse> {
    let mut threads = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = task.path();
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        // schedstat: time on the CPU (ns), time waiting for it, time slices.
        let cpu_ns = read("schedstat")
            .split_whitespace()
            .next()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        let status = read("status");
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        threads.insert(
            tid,
            ThreadUse {
                name: read("comm").trim().to_string(),
                cpu: Duration::from_nanos(cpu_ns),
                voluntary: field("voluntary_ctxt_switches:"),
                involuntary: field("nonvoluntary_ctxt_switches:"),
            },
        );
    }
    threads
}

/// What each thread did between two readings (a thread started meanwhile counts
/// from zero; one that ended is missing), added up by name, the busiest first.
fn thread_deltas(
    before: &std::collections::HashMap<u32, ThreadUse>,
    after: &std::collections::HashMap<u32, ThreadUse>,
) -> Vec<ThreadUse> {
    let mut by_name: Vec<ThreadUse> = Vec::new();
    for (tid, now) in after {
        let then = before.get(tid).cloned().unwrap_or_default();
        let delta = ThreadUse {
            name: now.name.clone(),
            cpu: now.cpu.saturating_sub(then.cpu),
            voluntary: now.voluntary.saturating_sub(then.voluntary),
            involuntary: now.involuntary.saturating_sub(then.involuntary),
        };
        match by_name.iter_mut().find(|t| t.name == delta.name) {
            Some(sum) => {
                sum.cpu += delta.cpu;
                sum.voluntary += delta.voluntary;
                sum.involuntary += delta.involuntary;
            }
            None => by_name.push(delta),
        }
    }
    by_name.sort_by(|a, b| b.cpu.cmp(&a.cpu).then_with(|| a.name.cmp(&b.name)));
    by_name
}

/// Runs the dashboard in tmux on a loopback server and reads its CPU time.
fn measure_idle(settings: &Settings) -> anyhow::Result<Idle> {
    require_tmux()?;
    let server = TestServer::start();
    let dir = tempfile::Builder::new()
        .prefix("probetop-bench-ui-")
        .tempdir()
        .context("creating a temporary directory")?;
    let config = support::write_config(
        dir.path(),
        &support::endpoints_config(&server, IDLE_ENDPOINTS),
    );
    let pid_file = dir.path().join("pid");
    let log = dir.path().join("probetop.log");

    // Declared after the server and the directory, so dropped before them: probetop
    // ends before its target and its files go.
    let mut tmux = Tmux::new("bench-ui")?;
    let command = format!("{}; sleep 60", probetop_in_pane(&pid_file, &config, &log));
    tmux.start(dir.path(), (WIDTH, HEIGHT), &command)?;
    let pid = support::process::wait_for_pid(&pid_file, START_LIMIT, Duration::from_millis(50))?;
    eprintln!(
        "bench ui: idle run: probetop pid {pid}, {IDLE_ENDPOINTS} endpoints on http://{}, warm-up {:?}, measuring {:?}",
        server.addr(),
        settings.idle_warmup,
        settings.idle
    );
    std::thread::sleep(settings.idle_warmup);
    let screen = tmux.capture()?;
    if !screen.lines().any(|l| l.starts_with("probetop")) {
        bail!(
            "the dashboard is not on screen after the warm-up:\n{screen}\nlog:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    // Other work on the machine (a build beside it) shows in the figure: cold
    // caches make every probe dearer. Said, so that a run can be judged.
    let load = |when: &str| {
        let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let one_minute = text.split_whitespace().next().unwrap_or("?").to_string();
        eprintln!("bench ui: idle run: load average (1 min) {when}: {one_minute}");
    };
    load("before");
    let cpu_before = support::process::cpu_time(pid)?;
    let threads_before = thread_uses(pid);
    let requests_before = server.requests();
    let t0 = Instant::now();
    std::thread::sleep(settings.idle);
    let cpu_after =
        support::process::cpu_time(pid).context("probetop ended during the idle measurement")?;
    let threads_after = thread_uses(pid);
    let wall = t0.elapsed();
    load("after");
    let requests = server.requests() - requests_before;

    // Quit as a user would, so a run that cannot quit shows up here too.
    tmux.send_key("q")?;
    let deadline = Instant::now() + START_LIMIT;
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() >= deadline {
            eprintln!("bench ui: probetop did not quit within {START_LIMIT:?} of `q`");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Idle {
        wall,
        cpu: cpu_after.saturating_sub(cpu_before),
        requests,
        threads: thread_deltas(&threads_before, &threads_after),
    })
}
