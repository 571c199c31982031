//! The live dashboard: ratatui on crossterm's event stream, fed by the statistics
//! thread, never slowing the probes down.
//!
//! The loop redraws only when something changed (new data, a key, a resize), and at
//! most every [`FRAME_INTERVAL`]. Data is computed on the statistics thread
//! ([`model`]); views ([`view`]) take plain data and draw it.

pub mod detail;
mod detail_health;
mod detail_layout;
mod detail_phases;
mod detail_settings;
pub mod format;
pub mod help;
pub mod model;
pub mod overview;
pub mod sanitize;
pub mod sparkline;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::Endpoint;
use crate::engine::Engine;
use crate::stats::StatsHandle;
use model::{DetailData, OverviewData, Span};
use state::{Effect, Screen, Status, UiState};
use theme::Theme;

/// The shortest time between two frames.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// How often fresh data is fetched from the statistics.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// What the dashboard works with.
pub struct Dashboard<'a> {
    /// The endpoints, in config order.
    pub endpoints: Arc<[Endpoint]>,
    /// The statistics.
    pub stats: StatsHandle,
    /// The engine, for pausing.
    pub engine: &'a Engine,
    /// Where exports go.
    pub export_dir: PathBuf,
    /// What the export key writes.
    pub export_formats: Vec<crate::config::ExportFormat>,
    /// The configured window (the dashboard starts at the closest span).
    pub window: Duration,
    /// End of `--duration`, if given.
    pub deadline: Option<Instant>,
    /// SIGINT and SIGTERM, installed before the terminal was taken over.
    pub signals: &'a mut crate::signals::Signals,
}

/// Data fetched from the statistics thread.
struct Fetched {
    overview: OverviewData,
    detail: Option<DetailData>,
    /// How long the statistics thread took to compute it.
    cost: Duration,
}

impl OverviewData {
    /// Whether `self` draws the same screen as `other` (the run time is shown in
    /// whole seconds; the moment the data was taken is not shown).
    pub fn looks_like(&self, other: &OverviewData) -> bool {
        self.elapsed.as_secs() == other.elapsed.as_secs()
            && self.total_probes == other.total_probes
            && self.lag_p99_ms == other.lag_p99_ms
            && self.span == other.span
            && self.rows == other.rows
    }

    /// No data yet.
    pub fn empty(span: Span) -> Self {
        OverviewData {
            elapsed: Duration::ZERO,
            taken_at: SystemTime::UNIX_EPOCH,
            total_probes: 0,
            lag_p99_ms: None,
            span,
            rows: Vec::new(),
        }
    }
}

/// Runs the dashboard until `q`, Ctrl-C, SIGINT/SIGTERM or the deadline.
pub async fn run(dashboard: Dashboard<'_>) -> anyhow::Result<()> {
    let (mut terminal, _guard) = terminal::enter()?;
    let theme = Theme::from_env();
    let mut state = UiState::new(Span::closest_to(dashboard.window));
    let mut data = OverviewData::empty(state.span);
    let mut detail: Option<DetailData> = None;
    let mut rate: Option<f64> = None;
    let mut events = EventStream::new();
    let mut next_refresh = Instant::now();
    // Bounded, and provably drained: at most one fetch and a few exports in flight.
    let (fetched_tx, mut fetched_rx) = mpsc::channel::<Option<Fetched>>(4);
    let (status_tx, mut status_rx) = mpsc::channel::<Status>(4);
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut fetching = false;
    let mut fetch_again = false;
    let mut dirty = true;
    let mut last_frame: Option<Instant> = None;
    let deadline = async {
        match dashboard.deadline {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);

    loop {
        let next_frame = last_frame.map_or_else(Instant::now, |at| at + FRAME_INTERVAL);
        if dirty && Instant::now() >= next_frame {
            let input = view::ViewInput {
                state: &state,
                data: &data,
                detail: detail.as_ref(),
                endpoints: &dashboard.endpoints,
                rate,
                theme,
            };
            let mut layout = None;
            terminal.draw(|frame| layout = view::draw(frame, &input))?;
            dirty = layout.is_some_and(|l| state.set_page(l.page, l.table_top));
            last_frame = Some(Instant::now());
        }
        let frame_due = async {
            if dirty {
                tokio::time::sleep_until(next_frame.into()).await;
            } else {
                std::future::pending().await
            }
        };
        let mut effect = None;
        tokio::select! {
            () = frame_due => {}
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    effect = state.on_key(key, &data);
                    dirty = true;
                }
                Some(Ok(Event::Mouse(mouse))) => {
                    effect = state.on_mouse(mouse);
                    dirty = true;
                }
                Some(Ok(Event::Resize(_, _))) => dirty = true,
                Some(Ok(_)) => {}
                // The terminal is gone: nothing left to draw on.
                Some(Err(_)) | None => break,
            },
            () = tokio::time::sleep_until(next_refresh.into()), if !fetching => {
                // Pushed back until the answer comes (see below).
                next_refresh = Instant::now() + REFRESH_INTERVAL;
                effect = Some(Effect::Refresh);
            }
            Some(fetched) = fetched_rx.recv() => {
                // No answer: the statistics thread is gone (it panicked); nothing
                // true is left to show.
                let Some(fetched) = fetched else {
                    anyhow::bail!("the statistics stopped");
                };
                // Thousands of endpoints take the statistics thread a while to
                // summarise: refresh less often then, so that it spends at most a
                // fifth of its time on the view.
                next_refresh = Instant::now() + REFRESH_INTERVAL.max(fetched.cost * 4);
                rate = probe_rate(&data, &fetched.overview).or(rate);
                // Nothing on screen would change (paused, or no probe finished and
                // the clock shows the same second): no frame.
                if !fetched.overview.looks_like(&data) || fetched.detail != detail {
                    data = fetched.overview;
                    detail = fetched.detail;
                    state.refresh_rows(&data);
                    dirty = true;
                }
                fetching = false;
                if std::mem::take(&mut fetch_again) {
                    effect = Some(Effect::Refresh);
                }
            }
            Some(status) = status_rx.recv() => {
                state.status = Some(status);
                dirty = true;
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = dashboard.signals.recv() => break,
            () = &mut deadline => break,
        }
        let mut refresh_now = false;
        match effect {
            None => {}
            Some(Effect::Quit) => break,
            Some(Effect::Pause(paused)) => {
                dashboard.engine.set_paused(paused);
                state.status = Some(Status {
                    text: if paused {
                        "probing paused".into()
                    } else {
                        "probing resumed".into()
                    },
                    is_error: false,
                });
            }
            Some(Effect::Reset) => {
                dashboard.stats.reset();
                rate = None;
                refresh_now = true;
            }
            Some(Effect::Export) => {
                state.status = Some(Status {
                    text: "exporting…".into(),
                    is_error: false,
                });
                export(&mut tasks, &dashboard, &status_tx);
            }
            Some(Effect::Refresh) => refresh_now = true,
        }
        if refresh_now {
            fetch(
                &mut tasks,
                &dashboard,
                &state,
                &fetched_tx,
                &mut fetching,
                &mut fetch_again,
            );
        }
    }
    // Cancel fetches and exports still waiting for the statistics thread.
    tasks.shutdown().await;
    Ok(())
}

/// Probes per second between two overviews, when both are real and in order.
fn probe_rate(before: &OverviewData, after: &OverviewData) -> Option<f64> {
    let seconds = after
        .taken_at
        .duration_since(before.taken_at)
        .ok()?
        .as_secs_f64();
    let probes = after.total_probes.checked_sub(before.total_probes)?;
    (before.taken_at != SystemTime::UNIX_EPOCH && seconds > 0.2).then(|| probes as f64 / seconds)
}

/// Starts fetching fresh data, unless a fetch is already under way (then once more
/// after it, so a change of span is never lost).
fn fetch(
    tasks: &mut JoinSet<()>,
    dashboard: &Dashboard<'_>,
    state: &UiState,
    tx: &mpsc::Sender<Option<Fetched>>,
    fetching: &mut bool,
    fetch_again: &mut bool,
) {
    if *fetching {
        *fetch_again = true;
        return;
    }
    *fetching = true;
    let stats = dashboard.stats.clone();
    let endpoints = dashboard.endpoints.clone();
    let span = state.span;
    let detail_index = match state.screen {
        Screen::Detail(index) => Some(index),
        Screen::Overview => None,
    };
    let tx = tx.clone();
    tasks.spawn(async move {
        let fetched = stats
            .read(move |s| {
                let started = Instant::now();
                let overview = model::overview(s, &endpoints, span);
                let detail = detail_index.and_then(|i| model::detail(s, i, span));
                Fetched {
                    overview,
                    detail,
                    cost: started.elapsed(),
                }
            })
            .await;
        let _ = tx.send(fetched).await;
    });
}

/// Writes a snapshot (JSON and CSV) into the export directory, off the runtime, and
/// reports where it went or why it could not be written.
fn export(tasks: &mut JoinSet<()>, dashboard: &Dashboard<'_>, tx: &mpsc::Sender<Status>) {
    let stats = dashboard.stats.clone();
    let endpoints = dashboard.endpoints.clone();
    let dir = dashboard.export_dir.clone();
    let formats = dashboard.export_formats.clone();
    let tx = tx.clone();
    tasks.spawn(async move {
        let status = match stats
            .read(move |s| crate::snapshot::build(&endpoints, s))
            .await
        {
            None => Status {
                text: "export failed: the statistics are gone".into(),
                is_error: true,
            },
            Some(snapshot) => {
                let written = tokio::task::spawn_blocking(move || {
                    crate::snapshot::export::export_as(&dir, &snapshot, &formats)
                })
                .await;
                match written {
                    Ok(Ok(paths)) => Status {
                        text: sanitize::clean(&exported(&paths)),
                        is_error: false,
                    },
                    Ok(Err(e)) => Status {
                        text: sanitize::clean(&format!("export failed: {e}")),
                        is_error: true,
                    },
                    Err(e) => Status {
                        text: format!("export failed: {e}"),
                        is_error: true,
                    },
                }
            }
        };
        let _ = tx.send(status).await;
    });
}

/// `exported probetop-20261121T224500Z.{json,csv} to DIR`: one short line for the
/// status bar, however many formats were written.
fn exported(paths: &[PathBuf]) -> String {
    let Some(first) = paths.first() else {
        return "exported nothing".into();
    };
    let stem = first
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let extensions: Vec<String> = paths
        .iter()
        .filter_map(|p| p.extension().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    let dir = first
        .parent()
        .map_or_else(String::new, |d| d.display().to_string());
    format!("exported {stem}.{{{}}} to {dir}", extensions.join(","))
}
