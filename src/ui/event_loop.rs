//! The dashboard's event loop as a value, driven without a terminal.
//!
//! Every input is an [`Event`]: a key, the mouse, a resize, fresh data, a finished
//! export, the refresh timer, a signal, the deadline. [`EventLoop::handle`] applies
//! it to the state, does what the keys asked (pause the engine, reset the
//! statistics, start a fetch or an export in the background) and says whether to go
//! on. When to draw is its business too ([`EventLoop::frame_due`]): only when
//! something changed, and at most every [`FRAME_INTERVAL`]. [`super::run`] only
//! wires the real streams in and draws [`EventLoop::view`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyEvent, MouseEvent};
use tokio::task::{JoinError, JoinSet};

use super::model::{self, DetailData, OverviewCache, OverviewData, Span};
use super::sanitize;
use super::state::{Effect, Screen, Status, UiState};
use super::theme::Theme;
use super::view::{FrameLayout, ViewInput};
use super::{FRAME_INTERVAL, REFRESH_INTERVAL};
use crate::config::{Endpoint, ExportFormat};
use crate::engine::Engine;
use crate::stats::StatsHandle;

/// What the dashboard works with besides the terminal.
pub struct Services<'a> {
    /// The endpoints, in config order.
    pub endpoints: Arc<[Endpoint]>,
    /// The statistics.
    pub stats: StatsHandle,
    /// The engine, which owns whether probing is paused.
    pub engine: &'a Engine,
    /// Where exports go.
    pub export_dir: PathBuf,
    /// What the export key writes.
    pub export_formats: Vec<ExportFormat>,
}

/// Data fetched from the statistics thread.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The overview.
    pub overview: OverviewData,
    /// The detail of the endpoint the detail view showed when the fetch started.
    pub detail: Option<DetailData>,
    /// How long the statistics thread took to compute it.
    pub cost: Duration,
}

/// Something that happened.
#[derive(Debug)]
pub enum Event {
    /// A key was pressed, repeated or released.
    Key(KeyEvent),
    /// The mouse scrolled or clicked.
    Mouse(MouseEvent),
    /// The terminal changed size.
    Resize,
    /// The terminal's events ended: nothing is left to draw on.
    TerminalClosed,
    /// The next frame may be drawn (nothing to apply: the loop draws next).
    FrameDue,
    /// Time to fetch fresh data.
    RefreshDue,
    /// A fetch came back; `None` when the statistics thread is gone. Boxed: the
    /// detail is large, the other events small.
    Data(Option<Box<Fetched>>),
    /// An export ended with this message.
    Exported(Status),
    /// A background task panicked or was cancelled.
    TaskFailed(JoinError),
    /// SIGINT or SIGTERM.
    Signal,
    /// The end of `--duration`.
    Deadline,
}

/// Whether the dashboard goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Quit.
    Quit,
}

/// What a background task ends with.
enum Done {
    Fetched(Option<Box<Fetched>>),
    Exported(Status),
}

/// The dashboard between two events: its state, the data shown, the background
/// work under way, and when the next frame and the next fetch are due.
pub struct EventLoop<'a> {
    services: Services<'a>,
    theme: Theme,
    state: UiState,
    data: OverviewData,
    detail: Option<DetailData>,
    /// Probes per second between the last two fetches.
    rate: Option<f64>,
    /// Fetches and exports. Their results come back through [`EventLoop::next_done`],
    /// so nothing waits on a channel that no one drains.
    tasks: JoinSet<Done>,
    fetching: bool,
    /// The fetch under way, to know it ended should it fail.
    fetch_task: Option<tokio::task::Id>,
    /// Fetch once more when the current one ends (the span or endpoint changed).
    fetch_again: bool,
    next_refresh: Instant,
    /// Something changed since the last frame.
    dirty: bool,
    /// The next frame may not be drawn before this.
    next_frame: Instant,
    /// The overview's rows kept between fetches (only the changed ones are
    /// recomputed). Locked only on the statistics thread, by one fetch at a time.
    overview_cache: Arc<Mutex<OverviewCache>>,
    /// An endpoint went down since the bell was last taken ([`EventLoop::take_bell`]).
    bell: bool,
}

impl<'a> EventLoop<'a> {
    /// A dashboard showing `span`, with nothing fetched yet: the first fetch is due at
    /// `now`, and so is the first frame.
    pub fn new(services: Services<'a>, span: Span, theme: Theme, now: Instant) -> Self {
        EventLoop {
            services,
            theme,
            state: UiState::new(span),
            data: OverviewData::empty(span),
            detail: None,
            rate: None,
            tasks: JoinSet::new(),
            fetching: false,
            fetch_task: None,
            fetch_again: false,
            next_refresh: now,
            dirty: true,
            next_frame: now,
            overview_cache: Arc::default(),
            bell: false,
        }
    }

    /// Whether an endpoint went down since the last call: the terminal's bell rings
    /// then (unless `[ui] bell = false`), written by the dashboard's loop.
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// The dashboard's state.
    pub fn state(&self) -> &UiState {
        &self.state
    }

    /// The overview data shown.
    pub fn data(&self) -> &OverviewData {
        &self.data
    }

    /// When the next frame should be drawn: `None` while nothing changed.
    pub fn frame_due(&self) -> Option<Instant> {
        self.dirty.then_some(self.next_frame)
    }

    /// Whether a frame should be drawn at `now`.
    pub fn should_draw(&self, now: Instant) -> bool {
        self.frame_due().is_some_and(|at| now >= at)
    }

    /// When fresh data should be fetched: `None` while a fetch is under way (the
    /// next one is timed from its answer).
    pub fn refresh_due(&self) -> Option<Instant> {
        (!self.fetching).then_some(self.next_refresh)
    }

    /// Everything a frame shows, as plain data: drawing it computes nothing.
    pub fn view(&self) -> ViewInput<'_> {
        ViewInput {
            state: &self.state,
            data: &self.data,
            detail: self.detail.as_ref(),
            endpoints: &self.services.endpoints,
            rate: self.rate,
            paused: self.services.engine.is_paused(),
            theme: self.theme,
        }
    }

    /// Records that a frame was drawn at `now` with `layout`. If the frame showed a
    /// stale slice of the table (its height changed the scroll position), another
    /// is due.
    pub fn drawn(&mut self, layout: Option<FrameLayout>, now: Instant) {
        self.dirty = layout.is_some_and(|l| self.state.set_page(l.page, l.table_top));
        self.next_frame = now + FRAME_INTERVAL;
    }

    /// The next background task to finish, as an event; never resolves while none
    /// runs. Cancel-safe, so it can race the other inputs.
    pub async fn next_done(&mut self) -> Event {
        match self.tasks.join_next().await {
            Some(Ok(Done::Fetched(fetched))) => Event::Data(fetched),
            Some(Ok(Done::Exported(status))) => Event::Exported(status),
            Some(Err(e)) => Event::TaskFailed(e),
            None => std::future::pending().await,
        }
    }

    /// Applies `event`, which happened at `now`.
    ///
    /// Fails when the statistics thread is gone: nothing true is left to show.
    pub fn handle(&mut self, event: Event, now: Instant) -> anyhow::Result<Flow> {
        let effect = match event {
            Event::Key(key) => {
                self.dirty = true;
                self.state.on_key(key, &self.data)
            }
            Event::Mouse(mouse) => {
                self.dirty = true;
                self.state.on_mouse(mouse)
            }
            Event::Resize => {
                self.dirty = true;
                None
            }
            Event::FrameDue => None,
            Event::RefreshDue => {
                // Pushed back until the answer comes (see `Event::Data`).
                self.next_refresh = now + REFRESH_INTERVAL;
                Some(Effect::Refresh)
            }
            Event::Data(None) => anyhow::bail!("the statistics stopped"),
            Event::Data(Some(fetched)) => self.fetched(fetched, now),
            Event::Exported(status) => {
                self.state.status = Some(status);
                self.dirty = true;
                None
            }
            Event::TaskFailed(e) => {
                // Only a panic gets here (the tasks are cancelled at shutdown only,
                // when no one asks), and the dashboard's panic hook ends the program
                // first; should one get through anyway, a failed fetch must not
                // stop the refreshes for good.
                tracing::warn!("a dashboard task failed: {e}");
                if self.fetch_task == Some(e.id()) {
                    self.fetching = false;
                }
                None
            }
            Event::TerminalClosed | Event::Signal | Event::Deadline => Some(Effect::Quit),
        };
        Ok(self.apply(effect))
    }

    /// Takes in fresh data; returns a fetch asked for while this one ran.
    fn fetched(&mut self, fetched: Box<Fetched>, now: Instant) -> Option<Effect> {
        // Thousands of endpoints take the statistics thread a while to summarise:
        // refresh less often then, so that it spends at most a fifth of its time on
        // the view.
        self.next_refresh = now + REFRESH_INTERVAL.max(fetched.cost * 4);
        self.rate = probe_rate(&self.data, &fetched.overview).or(self.rate);
        // Nothing on screen would change (paused, or no probe finished and the clock
        // shows the same second): no frame.
        if !fetched.overview.looks_like(&self.data) || fetched.detail != self.detail {
            self.bell |= model::went_down(&self.data, &fetched.overview);
            self.data = fetched.overview;
            self.detail = fetched.detail;
            self.state.refresh_rows(&self.data);
            self.dirty = true;
        }
        self.fetching = false;
        self.fetch_task = None;
        std::mem::take(&mut self.fetch_again).then_some(Effect::Refresh)
    }

    /// Does what the state asked for.
    fn apply(&mut self, effect: Option<Effect>) -> Flow {
        match effect {
            None => {}
            Some(Effect::Quit) => return Flow::Quit,
            Some(Effect::TogglePause) => {
                let engine = self.services.engine;
                let paused = !engine.is_paused();
                engine.set_paused(paused);
                self.state.status = Some(Status {
                    text: if paused {
                        "probing paused".into()
                    } else {
                        "probing resumed".into()
                    },
                    is_error: false,
                });
            }
            Some(Effect::Reset) => {
                self.services.stats.reset();
                self.rate = None;
                self.fetch();
            }
            Some(Effect::Export) => {
                self.state.status = Some(Status {
                    text: "exporting…".into(),
                    is_error: false,
                });
                self.export();
            }
            Some(Effect::Refresh) => self.fetch(),
        }
        Flow::Continue
    }

    /// Starts fetching fresh data, unless a fetch is already under way (then once
    /// more after it, so a change of span is never lost).
    fn fetch(&mut self) {
        if self.fetching {
            self.fetch_again = true;
            return;
        }
        self.fetching = true;
        let stats = self.services.stats.clone();
        let endpoints = self.services.endpoints.clone();
        let span = self.state.span;
        let cache = self.overview_cache.clone();
        let detail_index = match self.state.screen() {
            Screen::Detail(index) => Some(index),
            Screen::Overview => None,
        };
        let task = self.tasks.spawn(async move {
            let fetched = stats
                .read(move |s| {
                    let started = Instant::now();
                    // A fetch that panicked midway left rows that are each whole.
                    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
                    let overview = model::overview_cached(s, &endpoints, span, &mut cache);
                    let detail = detail_index.and_then(|i| model::detail(s, i, span));
                    Fetched {
                        overview,
                        detail,
                        cost: started.elapsed(),
                    }
                })
                .await;
            Done::Fetched(fetched.map(Box::new))
        });
        self.fetch_task = Some(task.id());
    }

    /// Writes a snapshot into the export directory, off the runtime, and reports
    /// where it went or why it could not be written.
    fn export(&mut self) {
        let stats = self.services.stats.clone();
        let endpoints = self.services.endpoints.clone();
        let dir = self.services.export_dir.clone();
        let formats = self.services.export_formats.clone();
        self.tasks.spawn(async move {
            // Only the copy runs on the statistics thread; decoding and compressing
            // the histograms happen below, off it and off the runtime.
            let status = match stats
                .read(move |s| crate::snapshot::capture(&endpoints, s))
                .await
            {
                None => Status {
                    text: "export failed: the statistics are gone".into(),
                    is_error: true,
                },
                Some(capture) => {
                    let written = tokio::task::spawn_blocking(move || {
                        let snapshot = capture.encode();
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
            Done::Exported(status)
        });
    }

    /// Cancels the fetches and exports still waiting for the statistics thread.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Probes per second between two overviews, when both are real and in order.
fn probe_rate(before: &OverviewData, after: &OverviewData) -> Option<f64> {
    // The wall clock stepped back between the two: no rate this time.
    let seconds = after
        .taken_at
        .duration_since(before.taken_at)
        .ok()?
        .as_secs_f64();
    let probes = after.total_probes.checked_sub(before.total_probes)?;
    (before.taken_at != SystemTime::UNIX_EPOCH && seconds > 0.2).then(|| probes as f64 / seconds)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{self, Clock, State};
    use crate::ui::model::EndpointRow;
    use crate::ui::state::Mode;
    use crossterm::event::{KeyCode, KeyModifiers};

    /// What a dashboard needs, without endpoints or a terminal: a real engine (to
    /// pause) and a real statistics thread (to fetch from, reset and export).
    struct Rig {
        engine: Engine,
        stats: StatsHandle,
        dir: tempfile::TempDir,
    }

    fn rig() -> Rig {
        let clock = Clock::now();
        let window = Duration::from_secs(300);
        let (recorder, stats, _thread) =
            stats::spawn(Vec::new(), window, window, clock).expect("the statistics thread");
        let engine = Engine::start(&[], &recorder, clock, None).expect("an engine");
        Rig {
            engine,
            stats,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn event_loop(rig: &Rig, now: Instant) -> EventLoop<'_> {
        let services = Services {
            endpoints: Arc::from(Vec::new()),
            stats: rig.stats.clone(),
            engine: &rig.engine,
            export_dir: rig.dir.path().to_path_buf(),
            export_formats: vec![ExportFormat::Json],
        };
        EventLoop::new(services, Span::FiveMinutes, Theme { color: false }, now)
    }

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::from(code))
    }

    fn row(name: &str) -> EndpointRow {
        EndpointRow {
            name: name.into(),
            state: State::Up,
            last_latency_ms: Some(1.0),
            latency: None,
            span_probes: 1,
            span_ok: 1,
            probes: 1,
            skipped: 0,
            spark: Vec::new(),
            last_result: "200".into(),
            last_failed: false,
        }
    }

    /// Data as a fetch brings it: `rows` endpoints, `secs` into the run.
    fn data(rows: usize, secs: u64) -> Event {
        Event::Data(Some(Box::new(Fetched {
            overview: OverviewData {
                elapsed: Duration::from_secs(secs),
                taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs),
                total_probes: rows as u64 * secs,
                lag_p99_ms: None,
                span: Span::FiveMinutes,
                rows: (0..rows).map(|i| row(&format!("e{i:02}"))).collect(),
                overload: None,
                local_network_down: false,
            },
            detail: None,
            cost: Duration::from_millis(1),
        })))
    }

    fn status(app: &EventLoop<'_>) -> String {
        app.state()
            .status
            .as_ref()
            .map_or_else(String::new, |s| s.text.clone())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn keys_quit_and_pause_the_engine() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        assert_eq!(
            app.handle(key(KeyCode::Char('p')), t0).unwrap(),
            Flow::Continue
        );
        assert!(rig.engine.is_paused(), "the engine stops probing");
        assert!(app.view().paused, "and the view says so");
        assert_eq!(status(&app), "probing paused");
        app.handle(key(KeyCode::Char('p')), t0).unwrap();
        assert!(!rig.engine.is_paused());
        assert!(!app.view().paused);
        assert_eq!(status(&app), "probing resumed");
        // `?` opens the help, under which `p` does nothing and `q` still quits.
        app.handle(key(KeyCode::Char('?')), t0).unwrap();
        app.handle(key(KeyCode::Char('p')), t0).unwrap();
        assert!(!rig.engine.is_paused());
        assert_eq!(app.handle(key(KeyCode::Char('q')), t0).unwrap(), Flow::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.handle(Event::Key(ctrl_c), t0).unwrap(), Flow::Quit);
        for event in [Event::Signal, Event::Deadline, Event::TerminalClosed] {
            assert_eq!(app.handle(event, t0).unwrap(), Flow::Quit);
        }
    }

    #[tokio::test]
    async fn frames_only_when_something_changed_and_at_most_every_interval() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        assert!(app.should_draw(t0), "the first frame at once");
        app.drawn(None, t0);
        assert_eq!(app.frame_due(), None, "idle: no frame");
        app.handle(Event::FrameDue, t0 + ms(5)).unwrap();
        assert_eq!(app.frame_due(), None, "waking up changes nothing");
        app.handle(Event::Resize, t0 + ms(10)).unwrap();
        assert_eq!(app.frame_due(), Some(t0 + FRAME_INTERVAL));
        assert!(
            !app.should_draw(t0 + ms(10)),
            "too soon after the last frame"
        );
        assert!(app.should_draw(t0 + FRAME_INTERVAL));
        app.drawn(None, t0 + FRAME_INTERVAL);
        assert_eq!(app.frame_due(), None);

        // A frame whose height moved the scroll position showed a stale slice:
        // another is due, after the interval again.
        app.handle(data(50, 1), t0 + ms(60)).unwrap();
        app.handle(key(KeyCode::End), t0 + ms(60)).unwrap();
        let t1 = t0 + ms(100);
        let layout = FrameLayout {
            page: 5,
            table_top: 2,
        };
        app.drawn(Some(layout), t1);
        assert_eq!(app.state().offset, 45);
        assert_eq!(app.frame_due(), Some(t1 + FRAME_INTERVAL));
        app.drawn(Some(layout), t1 + FRAME_INTERVAL);
        assert_eq!(app.frame_due(), None, "the same layout again: done");
    }

    #[tokio::test]
    async fn fresh_data_marks_the_screen_dirty_only_when_it_changes() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.drawn(None, t0);
        app.handle(data(3, 10), t0).unwrap();
        assert!(app.frame_due().is_some());
        assert_eq!(app.state().visible, [0, 1, 2]);
        assert_eq!(app.state().selected, Some(0));
        app.drawn(None, t0);
        // The same screen again (paused, or nothing new this second): no frame.
        app.handle(data(3, 10), t0 + ms(500)).unwrap();
        assert_eq!(app.frame_due(), None);
        app.handle(data(3, 11), t0 + ms(1000)).unwrap();
        assert!(app.frame_due().is_some());
        assert_eq!(app.data().elapsed, Duration::from_secs(11));
        // 3 probes in the second between the two.
        assert_eq!(app.view().rate, Some(3.0));
        // The statistics thread is gone: nothing true left to show.
        assert!(app.handle(Event::Data(None), t0).is_err());
    }

    #[tokio::test]
    async fn fetches_run_one_at_a_time_and_none_is_lost() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        assert_eq!(app.refresh_due(), Some(t0), "the first fetch at once");
        app.handle(Event::RefreshDue, t0).unwrap();
        assert_eq!(app.refresh_due(), None, "timed from the answer");
        // A new span while the fetch runs: fetched once more after it.
        app.handle(key(KeyCode::Char('w')), t0).unwrap();
        let first = app.next_done().await;
        assert!(
            matches!(&first, Event::Data(Some(f)) if f.overview.span == Span::FiveMinutes),
            "{first:?}"
        );
        let at = Instant::now();
        app.handle(first, at).unwrap();
        assert_eq!(app.refresh_due(), None, "the second fetch runs");
        let second = app.next_done().await;
        assert!(
            matches!(&second, Event::Data(Some(f)) if f.overview.span == Span::FifteenMinutes),
            "{second:?}"
        );
        app.handle(second, at).unwrap();
        assert_eq!(app.refresh_due(), Some(at + REFRESH_INTERVAL));

        // A fetch that fails (it cannot: a panic ends the program) would not stop
        // the refreshes.
        app.handle(Event::RefreshDue, at).unwrap();
        let fetch = app.next_done().await;
        assert!(matches!(fetch, Event::Data(Some(_))));
        app.fetching = true;
        let task = app.tasks.spawn(async { panic!("a failing fetch") });
        app.fetch_task = Some(task.id());
        let failed = app.next_done().await;
        assert!(matches!(failed, Event::TaskFailed(_)), "{failed:?}");
        app.handle(failed, at).unwrap();
        assert!(app.refresh_due().is_some());
        app.shutdown().await;
    }

    #[tokio::test]
    async fn export_and_reset_go_to_the_statistics() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.handle(key(KeyCode::Char('e')), t0).unwrap();
        assert_eq!(status(&app), "exporting…");
        let done = app.next_done().await;
        assert!(matches!(done, Event::Exported(_)), "{done:?}");
        app.drawn(None, t0);
        app.handle(done, t0).unwrap();
        assert!(app.frame_due().is_some(), "the message shows");
        let message = status(&app);
        assert!(message.starts_with("exported probetop-"), "{message}");
        let written = std::fs::read_dir(rig.dir.path()).unwrap().count();
        assert_eq!(written, 1, "one JSON snapshot");

        app.handle(key(KeyCode::Char('r')), t0).unwrap();
        assert!(matches!(app.state().mode, Mode::ConfirmReset(_)));
        assert_eq!(
            app.refresh_due(),
            Some(t0),
            "nothing asked of the statistics yet"
        );
        app.handle(key(KeyCode::Char('y')), t0).unwrap();
        assert_eq!(status(&app), "statistics reset");
        assert_eq!(app.refresh_due(), None, "fresh data is on its way");
        assert_eq!(app.view().rate, None);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn the_detail_view_fetches_the_endpoint_it_shows() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.handle(data(3, 1), t0).unwrap();
        app.handle(key(KeyCode::Enter), t0).unwrap();
        assert_eq!(app.state().mode, Mode::Detail(0));
        assert_eq!(app.refresh_due(), None, "its data is being fetched");
        let fetched = app.next_done().await;
        assert!(matches!(fetched, Event::Data(Some(_))), "{fetched:?}");
        // The rig's statistics have no endpoints: stand-in data with three instead.
        app.handle(data(3, 2), t0).unwrap();
        // The wheel shows another endpoint: its data is fetched too.
        let wheel = MouseEvent {
            kind: crossterm::event::MouseEventKind::ScrollDown,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        app.handle(Event::Mouse(wheel), t0).unwrap();
        assert_eq!(app.state().mode, Mode::Detail(2));
        assert_eq!(app.refresh_due(), None);
        app.shutdown().await;
    }
}
