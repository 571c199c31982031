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
use ratatui::layout::Rect;
use tokio::task::{JoinError, JoinSet};

use super::model::{self, DetailData, OverviewCache, OverviewData, Span};
use super::sanitize;
use super::state::{Effect, Mode, Screen, Status, UiState};
use super::theme::Theme;
use super::view::{FrameLayout, ViewInput};
use super::{FRAME_INTERVAL, REFRESH_INTERVAL, STATUS_TIME, help};
use crate::config::{Endpoint, ExportFormat};
use crate::engine::Engine;
use crate::reload::Notice;
use crate::stats::{EndpointSet, StatsHandle};

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
    /// Changes the endpoints' intervals (`+`, `-`); `None` where nothing may change
    /// (tests of other things).
    pub reloader: Option<crate::reload::Shared>,
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
    /// The endpoints the data is of, if a reload (or an interval change) set them.
    pub set: Option<Arc<EndpointSet>>,
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
    /// The next frame may be drawn, or the status line's message is due to go
    /// (nothing else to apply: the loop draws next).
    FrameDue,
    /// Time to fetch fresh data.
    RefreshDue,
    /// A fetch came back; `None` when the statistics thread is gone. Boxed: the
    /// detail is large, the other events small.
    Data(Option<Box<Fetched>>),
    /// An export ended with this message.
    Exported(Status),
    /// A reload or an interval change ended with this report.
    Notice(Notice),
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
    Notice(Notice),
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
    /// The loop ended because the terminal went away ([`Event::TerminalClosed`]).
    terminal_lost: bool,
    /// The message last seen on the status line (and how many had been said), to
    /// tell a new one.
    status_seen: (Option<Status>, u64),
    /// When the message on the status line goes.
    status_until: Option<Instant>,
    /// The generation of the endpoint set shown (0: the one the run started with).
    generation: u64,
    /// An endpoint went down since the bell was last taken ([`EventLoop::take_bell`]).
    bell: bool,
}

impl<'a> EventLoop<'a> {
    /// A dashboard showing `span`, with nothing fetched yet: the first fetch is due at
    /// `now`, and so is the first frame.
    pub fn new(services: Services<'a>, span: Span, theme: Theme, now: Instant) -> Self {
        let mut state = UiState::new(span);
        state.export_formats = services.export_formats.clone();
        EventLoop {
            services,
            theme,
            state,
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
            terminal_lost: false,
            status_seen: (None, 0),
            status_until: None,
            generation: 0,
            bell: false,
        }
    }

    /// Whether the terminal went away ([`Event::TerminalClosed`]): then nothing
    /// measured may be lost, and [`EventLoop::final_export`] is due.
    pub fn terminal_lost(&self) -> bool {
        self.terminal_lost
    }

    /// Whether an endpoint went down since the last call: the terminal's bell rings
    /// then (unless `[ui] bell = false`), written by the dashboard's loop.
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// Takes a reload's `[export]`: the next export (the key's, or the final one)
    /// writes where and what it says; one under way finishes as it started. A
    /// directory that does not exist is made by the export, as at start.
    pub fn set_export(&mut self, export: &crate::snapshot::export::Settings) {
        self.services.export_dir = export.dir.clone();
        self.services.export_formats = export.formats.clone();
        // The help names the formats.
        self.state.export_formats = export.formats.clone();
        self.dirty = true;
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

    /// When the loop must wake up even if nothing happens: the next frame, or the
    /// moment the status line's message goes (`None` while idle: an idle dashboard
    /// sleeps until its next refresh or an input).
    pub fn wake_due(&self) -> Option<Instant> {
        match (self.frame_due(), self.status_until) {
            (Some(frame), Some(status)) => Some(frame.min(status)),
            (frame, status) => frame.or(status),
        }
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

    /// Records the size of the frame just drawn (after [`EventLoop::drawn`]): the
    /// help overlay scrolls by what fits. If the help showed a stale position (the
    /// terminal grew), another frame is due.
    pub fn frame_area(&mut self, area: Rect) {
        // Only the help needs it; it is measured by the frame that opens it, before
        // any key can scroll it.
        if !matches!(self.state.mode, Mode::Help(_)) {
            return;
        }
        let (shown, total) = help::room(area, &self.state.export_formats);
        if self.state.set_help_room(shown, total) {
            self.dirty = true;
        }
    }

    /// The next background task to finish, as an event; never resolves while none
    /// runs. Cancel-safe, so it can race the other inputs.
    pub async fn next_done(&mut self) -> Event {
        match self.tasks.join_next().await {
            Some(Ok(Done::Fetched(fetched))) => Event::Data(fetched),
            Some(Ok(Done::Exported(status))) => Event::Exported(status),
            Some(Ok(Done::Notice(notice))) => Event::Notice(notice),
            Some(Err(e)) => Event::TaskFailed(e),
            None => std::future::pending().await,
        }
    }

    /// Applies `event`, which happened at `now`.
    ///
    /// Fails when the statistics thread is gone: nothing true is left to show.
    pub fn handle(&mut self, event: Event, now: Instant) -> anyhow::Result<Flow> {
        self.expire_status(now);
        let flow = self.handle_event(event, now);
        self.note_status(now);
        flow
    }

    /// Clears the status line once its message has had its time.
    fn expire_status(&mut self, now: Instant) {
        if self.status_until.is_some_and(|until| now >= until) {
            self.status_until = None;
            self.state.status = None;
            self.status_seen = (None, self.state.said);
            self.dirty = true;
        }
    }

    /// Starts the time of a message that is new on the status line.
    fn note_status(&mut self, now: Instant) {
        let seen = (&self.status_seen.0, self.status_seen.1);
        if seen != (&self.state.status, self.state.said) {
            self.status_until = self.state.status.is_some().then(|| now + STATUS_TIME);
            self.status_seen = (self.state.status.clone(), self.state.said);
        }
    }

    fn handle_event(&mut self, event: Event, now: Instant) -> anyhow::Result<Flow> {
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
                self.state.say(status.text, status.is_error);
                self.dirty = true;
                None
            }
            Event::Notice(notice) => {
                self.state.status = Some(notice_status(&notice));
                self.dirty = true;
                // A change shows at once rather than at the next refresh.
                Some(Effect::Refresh)
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
            Event::TerminalClosed => {
                self.terminal_lost = true;
                Some(Effect::Quit)
            }
            Event::Signal | Event::Deadline => Some(Effect::Quit),
        };
        Ok(self.apply(effect))
    }

    /// Takes in fresh data; returns a fetch asked for while this one ran.
    fn fetched(&mut self, fetched: Box<Fetched>, now: Instant) -> Option<Effect> {
        // Just after the run's clock turns next, so that the header shows every second
        // once and its rate covers about a second. Thousands of endpoints take the
        // statistics thread a while to summarise: refresh less often then, so that
        // it spends at most a fifth of its time on the view.
        self.next_refresh =
            now + until_next_second(fetched.overview.elapsed, fetched.cost).max(fetched.cost * 4);
        self.rate = probe_rate(&self.data, &fetched.overview).or(self.rate);
        let reloaded = self.take_set(fetched.set.as_ref());
        // Nothing on screen would change (paused, or no probe finished and the clock
        // shows the same second): no frame.
        if reloaded || !fetched.overview.looks_like(&self.data) || fetched.detail != self.detail {
            // Rows of another endpoint set are not the same endpoints' rows.
            self.bell |= !reloaded && model::went_down(&self.data, &fetched.overview);
            self.data = fetched.overview;
            self.detail = fetched.detail;
            self.state.refresh_rows(&self.data);
            self.dirty = true;
        }
        self.fetching = false;
        self.fetch_task = None;
        // The detail came for the position the view had before the endpoints moved.
        let again = std::mem::take(&mut self.fetch_again) || reloaded;
        again.then_some(Effect::Refresh)
    }

    /// Takes on the endpoint set the data is of, if it is newer than the one shown:
    /// the state follows each endpoint by name to its new position. Returns whether
    /// the set changed.
    fn take_set(&mut self, set: Option<&Arc<EndpointSet>>) -> bool {
        let Some(set) = set.filter(|s| s.generation != self.generation) else {
            return false;
        };
        let old = std::mem::replace(&mut self.services.endpoints, set.endpoints.clone());
        let new = set.clone();
        self.state
            .remap(|index| old.get(index).and_then(|e| new.position(&e.name)));
        self.generation = set.generation;
        true
    }

    /// Halves or doubles the interval of the endpoint at `index`, off the runtime
    /// (it shares the reloader with reloads, which read files).
    fn step_interval(&mut self, index: usize, faster: bool) {
        let (Some(reloader), Some(endpoint)) =
            (&self.services.reloader, self.services.endpoints.get(index))
        else {
            return;
        };
        let reloader = reloader.clone();
        let name = endpoint.name.clone();
        self.tasks.spawn(async move {
            let notice =
                crate::reload::with_reloader(&reloader, move |r| r.step_interval(&name, faster))
                    .await;
            Done::Notice(notice.unwrap_or_else(|| Notice {
                text: "the interval could not be changed (see the log)".into(),
                is_error: true,
            }))
        });
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
                let text = if paused {
                    "probing paused"
                } else {
                    "probing resumed"
                };
                self.state.say(text, false);
            }
            Some(Effect::Reset) => {
                self.services.stats.reset();
                self.rate = None;
                self.fetch();
            }
            Some(Effect::Export) => {
                self.state.say("exporting…", false);
                self.export();
            }
            Some(Effect::Refresh) => self.fetch(),
            Some(Effect::StepInterval(index, faster)) => self.step_interval(index, faster),
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
                    // As of the latest reload, if any: names and numbers from one moment.
                    let configured = s.configured(&endpoints);
                    let overview = model::overview_cached(s, configured, span, &mut cache);
                    let detail = detail_index.and_then(|i| model::detail(s, i, span));
                    Fetched {
                        overview,
                        detail,
                        cost: started.elapsed(),
                        set: s.endpoint_set().cloned(),
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
        let export = self.export_task();
        self.tasks
            .spawn(async move { Done::Exported(export.await) });
    }

    /// Writes a last snapshot into the export directory in the configured formats,
    /// and says where it went: for a dashboard whose terminal is gone, so that
    /// nothing measured is lost with it.
    pub async fn final_export(&self) -> Status {
        self.export_task().await
    }

    /// An export of every endpoint in the configured formats, as a future of its
    /// status line.
    fn export_task(&self) -> impl Future<Output = Status> + Send + 'static {
        let stats = self.services.stats.clone();
        let endpoints = self.services.endpoints.clone();
        let dir = self.services.export_dir.clone();
        let formats = self.services.export_formats.clone();
        async move {
            // Only the copy runs on the statistics thread; decoding and compressing
            // the histograms happen below, off it and off the runtime.
            match stats
                .read(move |s| crate::snapshot::capture(s.configured(&endpoints), s))
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
            }
        }
    }

    /// Cancels the fetches and exports still waiting for the statistics thread.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// A reload's or an interval change's report as one status line: its first line and
/// the first problem (a refused config's full report is in the log).
fn notice_status(notice: &Notice) -> Status {
    let mut lines = notice.text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut text = lines.next().unwrap_or_default().to_string();
    if let Some(problem) = lines.next() {
        text.push(' ');
        text.push_str(problem);
    }
    if lines.next().is_some() {
        text.push_str(" (probetop --check shows the full report)");
    }
    Status {
        text: sanitize::clean(&text),
        is_error: notice.is_error,
    }
}

/// How long after an overview arrived to fetch the next: just past the next whole
/// second of the run time it shows (`elapsed`, taken when its summary began, `cost`
/// before it arrived), at most [`REFRESH_INTERVAL`].
fn until_next_second(elapsed: Duration, cost: Duration) -> Duration {
    // Past the turn by a little: the fetch takes a moment to reach the statistics
    // thread, but should its clock read a hair early, the second would show late.
    const PAST_THE_TURN: Duration = Duration::from_millis(10);
    let into_second = Duration::from_nanos(u64::from(elapsed.subsec_nanos()));
    (REFRESH_INTERVAL.saturating_sub(into_second) + PAST_THE_TURN)
        .saturating_sub(cost)
        .min(REFRESH_INTERVAL)
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
            reloader: None,
        };
        EventLoop::new(services, Span::FiveMinutes, Theme { color: false }, now)
    }

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::from(code))
    }

    fn row(name: &str) -> std::sync::Arc<EndpointRow> {
        std::sync::Arc::new(EndpointRow {
            name: name.into(),
            state: State::Up,
            last_latency_ms: Some(1.0),
            latency: None,
            span_probes: 1,
            span_ok: 1,
            probes: 1,
            skipped: 0,
            spark: Default::default(),
            last_result: "200".into(),
            last_failed: false,
        })
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
            set: None,
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
    async fn status_lines_expire_with_one_wake_up_and_none_when_idle() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.drawn(None, t0);
        assert_eq!(app.wake_due(), None, "idle: nothing to wake up for");
        app.handle(key(KeyCode::Char('p')), t0).unwrap();
        assert_eq!(status(&app), "probing paused");
        app.drawn(None, t0 + ms(50));
        assert_eq!(app.frame_due(), None);
        assert_eq!(app.wake_due(), Some(t0 + STATUS_TIME), "once, when it goes");
        app.handle(Event::FrameDue, t0 + STATUS_TIME - ms(1))
            .unwrap();
        assert_eq!(status(&app), "probing paused", "not before its time");
        assert_eq!(app.frame_due(), None);
        app.handle(Event::FrameDue, t0 + STATUS_TIME).unwrap();
        assert_eq!(status(&app), "", "gone after its time");
        assert!(app.should_draw(t0 + STATUS_TIME), "and the screen says so");
        app.drawn(None, t0 + STATUS_TIME);
        assert_eq!(app.wake_due(), None, "idle again");

        // A new message gets its own time; the same one said again too.
        let t1 = t0 + Duration::from_secs(60);
        app.handle(key(KeyCode::Char('r')), t1).unwrap();
        app.handle(key(KeyCode::Char('n')), t1).unwrap();
        assert_eq!(status(&app), "reset cancelled");
        let t2 = t1 + Duration::from_secs(3);
        app.handle(key(KeyCode::Char('r')), t2).unwrap();
        app.handle(key(KeyCode::Char('n')), t2).unwrap();
        app.drawn(None, t2);
        assert_eq!(app.wake_due(), Some(t2 + STATUS_TIME));
        // Any event past the time clears it, not only the wake-up.
        app.handle(Event::Resize, t2 + STATUS_TIME + ms(1)).unwrap();
        assert_eq!(status(&app), "");

        // "statistics reset" goes like any other message.
        let t3 = t2 + Duration::from_secs(60);
        app.handle(key(KeyCode::Char('r')), t3).unwrap();
        app.handle(key(KeyCode::Char('y')), t3).unwrap();
        assert_eq!(status(&app), "statistics reset");
        app.handle(Event::FrameDue, t3 + STATUS_TIME).unwrap();
        assert_eq!(status(&app), "");
        app.shutdown().await;
    }

    #[tokio::test]
    async fn the_help_scrolls_by_what_the_last_frame_showed() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.handle(key(KeyCode::Char('?')), t0).unwrap();
        let small = Rect::new(0, 0, 45, 10);
        let (shown, total) = help::room(small, &app.state().export_formats);
        assert!(shown < total, "{shown} of {total}");
        app.drawn(None, t0);
        app.frame_area(small);
        for _ in 0..total {
            app.handle(key(KeyCode::Down), t0).unwrap();
        }
        assert_eq!(app.state().help_offset, total - shown);
        // The terminal grows: the whole help fits, and the frame that showed it
        // scrolled is stale.
        app.drawn(None, t0 + ms(100));
        app.frame_area(Rect::new(0, 0, 100, 40));
        assert_eq!(app.state().help_offset, 0);
        assert!(app.frame_due().is_some());
        app.shutdown().await;
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
        let due = app.refresh_due().expect("the next fetch is timed");
        assert!(
            due > at && due <= at + REFRESH_INTERVAL,
            "within a second: {:?}",
            due - at
        );

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

    #[test]
    fn refreshes_come_just_after_the_run_clock_turns() {
        let ms = Duration::from_millis;
        // 3.2 s into the run, summarised in 5 ms: 4.01 s is 805 ms away.
        assert_eq!(until_next_second(ms(3_200), ms(5)), ms(805));
        // Right after a turn: a whole second, never more.
        assert_eq!(until_next_second(ms(3_002), ms(1)), REFRESH_INTERVAL);
        // Just before a turn: soon after it, not a second later.
        assert_eq!(until_next_second(ms(3_995), ms(0)), ms(15));
        // A summary that outlasted the rest of the second: at once (the caller
        // spaces refreshes by their cost).
        assert_eq!(until_next_second(ms(3_500), ms(700)), Duration::ZERO);
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

    #[tokio::test]
    async fn a_lost_terminal_is_told_apart_and_its_final_export_written() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        for event in [Event::Signal, Event::Deadline] {
            assert_eq!(app.handle(event, t0).unwrap(), Flow::Quit);
            assert!(!app.terminal_lost(), "a deliberate stop");
        }
        assert_eq!(app.handle(Event::TerminalClosed, t0).unwrap(), Flow::Quit);
        assert!(app.terminal_lost());
        let status = app.final_export().await;
        assert!(!status.is_error, "{}", status.text);
        let written: Vec<_> = std::fs::read_dir(rig.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(written.len(), 1, "{written:?}");
        assert_eq!(
            written[0].extension().unwrap(),
            "json",
            "the configured format"
        );
    }

    #[tokio::test]
    async fn a_reloaded_export_setting_is_what_the_next_export_writes() {
        let rig = rig();
        let t0 = Instant::now();
        let mut app = event_loop(&rig, t0);
        app.drawn(None, t0);
        // A directory that does not exist yet, as a reload may name it.
        let dir = rig.dir.path().join("new").join("exports");
        app.set_export(&crate::snapshot::export::Settings {
            dir: dir.clone(),
            formats: vec![ExportFormat::Csv, ExportFormat::Markdown],
            on_exit: false,
        });
        assert_eq!(
            app.state().export_formats,
            [ExportFormat::Csv, ExportFormat::Markdown],
            "the help names the new formats"
        );
        assert!(app.frame_due().is_some(), "and a frame shows them");
        let status = app.final_export().await;
        assert!(!status.is_error, "{}", status.text);
        let mut written: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                path.extension().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        written.sort();
        assert_eq!(written, ["csv", "md"]);
        assert_eq!(
            std::fs::read_dir(rig.dir.path()).unwrap().count(),
            1,
            "nothing where exports went before"
        );
        app.shutdown().await;
    }

    /// A dashboard over a real engine probing two endpoints (a refused port: nothing
    /// to wait for) every second, with the reloader that `+` and `-` go through.
    fn probing_loop(now: Instant) -> (EventLoop<'static>, Arc<Engine>) {
        let clock = Clock::now();
        let window = Duration::from_secs(300);
        let endpoints: Vec<Endpoint> = ["a", "b"]
            .iter()
            .map(|name| {
                let url = url::Url::parse("tcp://127.0.0.1:9").expect("a URL");
                Endpoint::new(name, url, Duration::from_secs(1), Duration::from_secs(1))
            })
            .collect();
        let rules = endpoints
            .iter()
            .map(|e| stats::EndpointRules {
                state: e.state_rule,
                min_cert_days: None,
                canary: false,
            })
            .collect();
        let (recorder, stats, _thread) =
            stats::spawn(rules, window, window, clock).expect("the statistics thread");
        let engine: Arc<Engine> = Engine::start(&endpoints, &recorder, clock, None)
            .expect("an engine")
            .into();
        let config = crate::config::Config {
            source: None,
            window,
            export_dir: PathBuf::from("."),
            export_formats: vec![ExportFormat::Json],
            hlog: None,
            hlog_interval: Duration::from_secs(5),
            metrics_buckets: Vec::new(),
            metrics_phases: false,
            export_on_exit: false,
            alerts: Vec::new(),
            bell: true,
            endpoints: endpoints.clone().into(),
        };
        let reloader = crate::reload::Reloader::new(
            crate::reload::Source::default(),
            &config,
            engine.clone(),
            stats.clone(),
            crate::reload::channels(&config).0,
        )
        .shared();
        // Leaked: the loop borrows its engine for as long as the test runs.
        let borrowed: &'static Engine = Box::leak(Box::new(engine.clone()));
        let services = Services {
            endpoints: endpoints.into(),
            stats,
            engine: borrowed,
            export_dir: PathBuf::from("."),
            export_formats: vec![ExportFormat::Json],
            reloader: Some(reloader),
        };
        let app = EventLoop::new(services, Span::FiveMinutes, Theme { color: false }, now);
        (app, engine)
    }

    /// Handles background results until a fetch brings a set of `generation`, for
    /// at most 20 s: a change goes through the reloader, the engine and the
    /// statistics, and on a loaded machine takes longer than any fixed number of
    /// fetches (20 back to back were once not enough).
    async fn until_set(app: &mut EventLoop<'_>, generation: u64, now: Instant) {
        let give_up = Instant::now() + Duration::from_secs(20);
        // At most 2,000 fetches, 10 ms apart: bounded in count and in time.
        for _ in 0..2_000 {
            let event = tokio::time::timeout(Duration::from_secs(10), app.next_done())
                .await
                .expect("a background task ends");
            let done = matches!(&event, Event::Data(Some(f))
                if f.set.as_ref().map_or(0, |s| s.generation) == generation);
            app.handle(event, now).unwrap();
            if done {
                return;
            }
            if Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            app.handle(Event::RefreshDue, now).unwrap();
        }
        panic!("no fetch brought generation {generation} (gave up after 20 s)");
    }

    /// Handles what ends (fetches, changes' answers) until the status line reads
    /// `expected`: a change's answer may come after the fetch that showed its effect.
    async fn until_status(app: &mut EventLoop<'_>, expected: &str, now: Instant) {
        for _ in 0..10 {
            if status(app) == expected {
                return;
            }
            let event = tokio::time::timeout(Duration::from_secs(10), app.next_done())
                .await
                .expect("the change ends");
            app.handle(event, now).unwrap();
        }
        assert_eq!(status(app), expected);
    }

    #[tokio::test]
    async fn plus_and_minus_step_the_selected_interval_within_bounds() {
        let t0 = Instant::now();
        let (mut app, engine) = probing_loop(t0);
        app.handle(Event::RefreshDue, t0).unwrap();
        until_set(&mut app, 0, t0).await;
        assert_eq!(app.state().selected, Some(0));
        app.handle(key(KeyCode::Down), t0).unwrap();
        // `+` halves b's interval; a's stays.
        app.handle(key(KeyCode::Char('+')), t0).unwrap();
        until_set(&mut app, 1, t0).await;
        until_status(&mut app, "b: interval 500ms (file: 1s)", t0).await;
        let intervals = |app: &EventLoop<'_>| -> Vec<Duration> {
            app.view().endpoints.iter().map(|e| e.interval).collect()
        };
        assert_eq!(intervals(&app), [ms(1000), ms(500)]);
        // In the detail view `-` acts on the endpoint shown: twice is 2 s.
        app.handle(key(KeyCode::Enter), t0).unwrap();
        assert_eq!(app.state().mode, Mode::Detail(1));
        app.handle(key(KeyCode::Char('-')), t0).unwrap();
        until_set(&mut app, 2, t0).await;
        app.handle(key(KeyCode::Char('-')), t0).unwrap();
        until_set(&mut app, 3, t0).await;
        assert_eq!(intervals(&app), [ms(1000), ms(2000)]);
        assert_eq!(
            app.detail.as_ref().map(|d| d.file_interval),
            Some(Some(ms(1000)))
        );
        // Down to the shortest, then no further.
        for generation in 4..=7 {
            app.handle(key(KeyCode::Char('+')), t0).unwrap();
            until_set(&mut app, generation, t0).await;
        }
        assert_eq!(intervals(&app)[1], ms(125));
        app.handle(key(KeyCode::Char('+')), t0).unwrap();
        until_set(&mut app, 8, t0).await;
        assert_eq!(intervals(&app)[1], crate::reload::MIN_INTERVAL);
        app.handle(key(KeyCode::Char('=')), t0).unwrap();
        // A fetch, or the answer of the `+` before, may still be under way.
        until_status(&mut app, "b: interval stays 100ms (the shortest)", t0).await;
        assert_eq!(app.state().mode, Mode::Detail(1), "the view stays on b");
        engine.abort();
        app.shutdown().await;
    }
}
