//! The live dashboard: ratatui on crossterm's event stream, fed by the statistics
//! thread, never slowing the probes down.
//!
//! Data flows one way: the statistics thread computes plain data ([`model`]); the
//! event loop ([`event_loop`]) takes every input as an event, applies keys through
//! the one key table ([`keymap`]) to the state and its [`mode`] ([`state`]), and
//! decides when to draw: only when something changed, and at most every
//! [`FRAME_INTERVAL`]. Views ([`view`], one module per screen or widget) take plain
//! data and draw it. [`run`] only wires the terminal, the signals, the deadline
//! and the settings a reload changes (`[ui]`, `[export]`) in.

pub mod action;
pub mod detail;
pub mod event_loop;
pub mod format;
pub mod help;
pub mod keymap;
pub mod mode;
pub mod model;
pub mod overview;
pub mod sanitize;
pub mod sparkline;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod trail;
pub mod view;
pub mod widgets;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::Event as TerminalEvent;
use tokio::sync::watch;

use crate::config::Endpoint;
use crate::engine::Engine;
use crate::engine::timer::Alarm;
use crate::reload::UiSettings;
use crate::signals::Signal;
use crate::snapshot::export;
use crate::stats::StatsHandle;
use event_loop::{Event, EventLoop, Flow, Services};
use model::Span;
use theme::Theme;

/// The shortest time between two frames.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// How often fresh data is fetched from the statistics: once a second, just after
/// the run's clock turns (see [`event_loop`]), so that each second of the run time
/// shows once and an idle dashboard wakes once a second, not twice.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Most input events applied before the next frame is drawn.
const INPUT_BATCH: usize = 256;
/// Longest wait for the final snapshot of a dashboard whose terminal is gone: the
/// process must end (nothing shows it any more), not hang.
pub const FINAL_EXPORT_LIMIT: Duration = Duration::from_secs(10);
/// How long a message stays on the status line.
pub const STATUS_TIME: Duration = Duration::from_secs(5);

/// What the dashboard works with.
pub struct Dashboard<'a> {
    /// The endpoints, in config order.
    pub endpoints: Arc<[Endpoint]>,
    /// The statistics.
    pub stats: StatsHandle,
    /// The engine, for pausing.
    pub engine: &'a Engine,
    /// The configured window (the dashboard starts at the closest span).
    pub window: Duration,
    /// `[ui]`, as of the latest reload: whether an endpoint going down rings the
    /// terminal bell. Taken before the next frame.
    pub ui: watch::Receiver<UiSettings>,
    /// `[export]`, as of the latest reload: where exports go and in which formats,
    /// and whether the caller writes `on_exit`'s snapshot after the dashboard ends
    /// (then that is the final snapshot of a lost terminal or a SIGQUIT, and the
    /// dashboard writes none of its own: one run, one last snapshot).
    pub export: watch::Receiver<export::Settings>,
    /// End of `--duration`, if given.
    pub deadline: Option<Instant>,
    /// SIGINT and SIGTERM, installed before the terminal was taken over.
    pub signals: &'a mut crate::signals::Signals,
    /// Reloads and interval changes, when the run allows them.
    pub reload: Option<Reloading<'a>>,
}

/// How the dashboard ended.
pub struct Ended {
    /// Its result.
    pub result: anyhow::Result<()>,
    /// The `[export]` it ended with: the caller's exit snapshot follows it (a reload
    /// after the dashboard decided must not make that snapshot written twice, or
    /// not at all).
    pub export: export::Settings,
}

/// What the dashboard needs to change endpoints and hear of reloads.
pub struct Reloading<'a> {
    /// Changes intervals (`+`, `-`).
    pub reloader: crate::reload::Shared,
    /// The reports of the reloads the file watch started, for the status line.
    pub notices: &'a mut tokio::sync::mpsc::UnboundedReceiver<crate::reload::Notice>,
}

/// Runs the dashboard until `q`, Ctrl-C, a signal or the deadline.
///
/// When the terminal goes away (SIGHUP, its events end or fail, drawing fails), a
/// final snapshot is written to the export directory before returning, so nothing
/// measured is lost with it. SIGQUIT ("quit and dump") writes one too, after the
/// terminal is restored, and says where on stderr. Neither is written twice: with
/// `[export] on_exit`, the caller's is the one.
pub async fn run(dashboard: Dashboard<'_>) -> Ended {
    let Dashboard {
        endpoints,
        stats,
        engine,
        window,
        ui: mut ui_settings,
        export: mut export_settings,
        deadline,
        signals,
        reload,
    } = dashboard;
    let mut settings = Settings {
        ui: ui_settings.borrow_and_update().clone(),
        export: export_settings.borrow_and_update().clone(),
    };
    let (reloader, mut notices) = match reload {
        Some(Reloading { reloader, notices }) => (Some(reloader), Some(notices)),
        None => (None, None),
    };
    let (mut terminal, guard) = match terminal::enter() {
        Ok(entered) => entered,
        Err(e) => {
            return Ended {
                result: Err(e.into()),
                export: settings.export,
            };
        }
    };
    let services = Services {
        endpoints,
        stats,
        engine,
        export_dir: settings.export.dir.clone(),
        export_formats: settings.export.formats.clone(),
        reloader,
    };
    let mut app = EventLoop::new(
        services,
        Span::closest_to(window),
        Theme::from_env(),
        Instant::now(),
    );
    let mut events = terminal::Events::start();
    let deadline = sleep_until(deadline);
    tokio::pin!(deadline);
    // The next frame (or the status line's end) and the next fetch: alarms rather
    // than tokio's sleeps, which wake twice for a second's wait (see
    // `engine::timer`).
    let mut frame_alarm = Alarm::new();
    let mut refresh_alarm = Alarm::new();
    // A terminal that cannot be drawn on is as good as gone.
    let mut draw_failed = false;
    // SIGQUIT: quit and dump.
    let mut dump = false;
    let mut result = loop {
        if app.should_draw(Instant::now()) {
            let input = app.view();
            let mut layout = None;
            let area = match terminal.draw(|frame| layout = view::draw(frame, &input)) {
                Ok(done) => done.area,
                Err(e) => {
                    draw_failed = true;
                    break Err(e.into());
                }
            };
            app.drawn(layout, Instant::now());
            app.frame_area(area);
        }
        let (frame_at, refresh_at) = (app.wake_due(), app.refresh_due());
        if let Some(at) = frame_at {
            frame_alarm.set(at);
        }
        if let Some(at) = refresh_at {
            refresh_alarm.set(at);
        }
        let event = tokio::select! {
            () = frame_alarm.wait(), if frame_at.is_some() => Event::FrameDue,
            event = events.next() => match terminal_event(event) {
                Some(event) => event,
                None => continue,
            },
            () = refresh_alarm.wait(), if refresh_at.is_some() => Event::RefreshDue,
            event = app.next_done() => event,
            signal = signals.recv() => {
                tracing::info!(signal = signal.name(), "signal received: leaving the dashboard");
                // SIGHUP is the terminal going away (a closed window, a dropped ssh
                // session), whatever else it means to a headless run.
                if signal == Signal::HangUp {
                    Event::TerminalClosed
                } else {
                    dump |= signal == Signal::Quit;
                    Event::Signal
                }
            }
            () = &mut deadline => Event::Deadline,
            Some(notice) = next_notice(&mut notices) => Event::Notice(notice),
            ui = next_change(&mut ui_settings) => {
                settings.ui = ui;
                continue;
            }
            export = next_change(&mut export_settings) => {
                app.set_export(&export);
                settings.export = export;
                continue;
            }
        };
        let input = matches!(event, Event::Key(_) | Event::Mouse(_));
        let mut flow = app.handle(event, Instant::now());
        // Input that came together (a paste, typing a filter, key repeat) is applied
        // together, so that one frame shows it all instead of one key per frame
        // interval.
        let mut taken = 0;
        while input && taken < INPUT_BATCH && matches!(flow, Ok(Flow::Continue)) {
            let Some(next) = events.ready() else {
                break;
            };
            taken += 1;
            if let Some(event) = terminal_event(next) {
                flow = app.handle(event, Instant::now());
            }
        }
        if app.take_bell() && settings.ui.bell {
            ring_bell(&mut terminal);
        }
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // A reload that came with the end: its `[export]` is the one the final
    // snapshot (this one or the caller's) follows.
    if export_settings.has_changed().unwrap_or(false) {
        settings.export = export_settings.borrow_and_update().clone();
        app.set_export(&settings.export);
    }
    let exit_snapshot_follows = settings.export.on_exit;
    // With `exit_snapshot_follows`, the caller's exit snapshot keeps what was
    // measured; a lost terminal is still let go of.
    if draw_failed || app.terminal_lost() {
        let_go_of_the_terminal();
        if !exit_snapshot_follows {
            keep_what_was_measured(&app).await;
        }
    } else if dump && result.is_ok() && !exit_snapshot_follows {
        // Given back before anything is said on it, and once: restoring again
        // after a line was printed would move the cursor back over that line
        // (leaving the alternate screen restores the cursor saved on entering).
        drop(terminal);
        drop(guard);
        result = dump_on_quit(&app).await;
    }
    app.shutdown().await;
    Ended {
        result,
        export: settings.export,
    }
}

/// The settings a reload changes, as the dashboard uses them now.
struct Settings {
    ui: UiSettings,
    export: export::Settings,
}

/// The next value a reload sends through `settings`; never once its sender is gone
/// (the run is ending). Cancel-safe.
async fn next_change<T: Clone>(settings: &mut watch::Receiver<T>) -> T {
    if settings.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    settings.borrow_and_update().clone()
}

/// The terminal is gone: gives it back as far as it still listens, and stops
/// writing to it if it does not.
fn let_go_of_the_terminal() {
    // Restored first: a SIGHUP may come from `kill` with the terminal still there.
    if let Err(e) = terminal::try_restore() {
        tracing::info!("the terminal is gone ({e}): output goes to /dev/null from here");
        terminal::detach();
    }
}

/// The terminal is gone (and let go of): writes the final snapshot.
async fn keep_what_was_measured(app: &EventLoop<'_>) {
    match tokio::time::timeout(FINAL_EXPORT_LIMIT, app.final_export()).await {
        Ok(status) if status.is_error => {
            tracing::error!(status = %status.text, "the final snapshot was not written");
        }
        Ok(status) => tracing::info!(status = %status.text, "final snapshot written"),
        Err(_) => tracing::error!(
            limit = ?FINAL_EXPORT_LIMIT,
            "the final snapshot took too long and was given up"
        ),
    }
}

/// SIGQUIT, with the terminal given back: writes the final snapshot and says on
/// stderr where it went; a snapshot that could not be written is the run's error
/// (exit 1), since it was asked for.
async fn dump_on_quit(app: &EventLoop<'_>) -> anyhow::Result<()> {
    match tokio::time::timeout(FINAL_EXPORT_LIMIT, app.final_export()).await {
        Ok(status) if status.is_error => {
            tracing::error!(status = %status.text, "the final snapshot was not written");
            anyhow::bail!(
                "SIGQUIT: the final snapshot was not written: {}",
                status.text
            )
        }
        Ok(status) => {
            tracing::info!(status = %status.text, "final snapshot written");
            crate::text::say(&format!(
                "probetop: SIGQUIT: final snapshot {}",
                status.text
            ));
            Ok(())
        }
        Err(_) => {
            tracing::error!(
                limit = ?FINAL_EXPORT_LIMIT,
                "the final snapshot took too long and was given up"
            );
            anyhow::bail!(
                "SIGQUIT: the final snapshot took longer than {}s and was given up",
                FINAL_EXPORT_LIMIT.as_secs()
            )
        }
    }
}

/// The next reload report; never without a source of them.
async fn next_notice(
    notices: &mut Option<&mut tokio::sync::mpsc::UnboundedReceiver<crate::reload::Notice>>,
) -> Option<crate::reload::Notice> {
    match notices {
        Some(notices) => notices.recv().await,
        None => std::future::pending().await,
    }
}

/// Rings the terminal's bell (BEL) between frames: here, on the dashboard's own
/// terminal, never from the statistics or the alerting.
fn ring_bell(terminal: &mut terminal::Tui) {
    use std::io::Write as _;
    let backend = terminal.backend_mut();
    if let Err(e) = backend.write_all(b"\x07").and_then(|()| backend.flush()) {
        tracing::warn!("ringing the terminal bell failed: {e}");
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The event loop's view of what the terminal sent; `None` for what it ignores
/// (focus changes, pastes).
fn terminal_event(event: Option<std::io::Result<TerminalEvent>>) -> Option<Event> {
    match event {
        Some(Ok(TerminalEvent::Key(key))) => Some(Event::Key(key)),
        Some(Ok(TerminalEvent::Mouse(mouse))) => Some(Event::Mouse(mouse)),
        Some(Ok(TerminalEvent::Resize(_, _))) => Some(Event::Resize),
        Some(Ok(_)) => None,
        Some(Err(e)) => {
            tracing::warn!("reading the terminal failed: {e}");
            Some(Event::TerminalClosed)
        }
        None => Some(Event::TerminalClosed),
    }
}
