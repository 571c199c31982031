//! Taking the terminal over and always giving it back: on quit, on error, on a
//! signal, and on a panic anywhere (whose message is printed after the restore,
//! and which then ends the program).

use std::io::{Stdout, Write};
use std::sync::Once;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The dashboard's terminal.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Switches to raw mode and the alternate screen, with mouse reporting, and installs
/// the panic hook that undoes it.
pub fn enter() -> std::io::Result<(Tui, Guard)> {
    install_panic_hook();
    enable_raw_mode()?;
    // From here on, anything that fails must still restore: the guard sees to it.
    let guard = Guard(());
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        cursor::Hide
    )?;
    let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    Ok((terminal, guard))
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    // A failure is not reported: this runs on the way out (also from the panic hook,
    // where logging could wait on a lock the panicking thread holds), and the
    // terminal it would be reported on is the one that could not be restored.
    let _ = try_restore();
}

/// [`restore`], saying whether the terminal took it: an error means it is gone.
pub fn try_restore() -> std::io::Result<()> {
    let mut out = std::io::stdout();
    // Each step is tried whatever the others did; the first error is the answer.
    let screen = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let raw = disable_raw_mode();
    let flushed = out.flush();
    screen.and(raw).and(flushed)
}

/// Points standard output and standard error at `/dev/null`, for a terminal that is
/// gone (hung up): every later write there fails otherwise, and `eprintln!` (or
/// ratatui's drop, which shows the cursor) panics on a failed write.
pub fn detach() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
            // Nowhere to point them: later writes fail, as they would have anyway.
            return;
        };
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            // SAFETY: dup2(2) on two open descriptors has no memory-safety
            // preconditions; `null` stays open for the call, and closing it after
            // leaves the duplicates open.
            let _ = unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
            // A panic on any thread (a probe task, the statistics) leaves the
            // dashboard showing something untrue on a terminal it no longer owns:
            // end the program here, with the message printed on a usable terminal.
            std::process::exit(101);
        }));
    });
}

/// What the terminal sends (keys, the mouse, resizes), read by a task of its own
/// and queued; the task ends when this is dropped.
///
/// crossterm's `EventStream` takes its reader's lock on every poll, and while its
/// own thread waits for input holding that lock, a poll spins on it (a handful of
/// `sched_yield`s): polled in the dashboard's `select!` at every turn of the loop,
/// that was most of what an idle dashboard's loop did in the kernel. The task polls
/// it only when it said it has something.
pub struct Events {
    queued: tokio::sync::mpsc::UnboundedReceiver<std::io::Result<crossterm::event::Event>>,
    reader: tokio::task::AbortHandle,
}

impl Events {
    /// Starts reading the terminal's events (on the current runtime).
    pub fn start() -> Self {
        use futures_util::StreamExt as _;
        let (tx, queued) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut events = crossterm::event::EventStream::new();
            while let Some(event) = events.next().await {
                if tx.send(event).is_err() {
                    // The dashboard is gone.
                    break;
                }
            }
            // The events ended: dropping the sender says so.
        });
        Events {
            queued,
            reader: reader.abort_handle(),
        }
    }

    /// The next event; `None` once the terminal's events ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<std::io::Result<crossterm::event::Event>> {
        self.queued.recv().await
    }

    /// An event that came already, if any: `Some(None)` once the events ended.
    pub fn ready(&mut self) -> Option<Option<std::io::Result<crossterm::event::Event>>> {
        match self.queued.try_recv() {
            Ok(event) => Some(Some(event)),
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => None,
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => Some(None),
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
