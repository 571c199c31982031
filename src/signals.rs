//! The signals that end a run (SIGINT, SIGTERM, SIGHUP, SIGQUIT), caught from the
//! moment probetop starts.
//!
//! The handlers are installed once, before anything else happens, so a signal that
//! arrives during start-up (before the terminal is taken over, or while it is) is
//! never met by the default action, which would kill the process with the terminal
//! still in raw mode and no snapshot printed. SIGQUIT (Ctrl-\) ends the run the
//! same way as SIGTERM, and is "quit and dump": the dashboard restores the terminal
//! and writes a final snapshot to the export directory (`ui`), a headless run prints
//! its snapshot as always. SIGHUP depends on the mode, which is the caller's
//! business: in the dashboard it means the terminal closed (an ssh session
//! dropped), so it ends the run like SIGTERM and writes the final snapshot; a
//! headless run has no terminal to lose, and reloads its config instead (`app`,
//! `reload`).

/// Which signal ended the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP: the terminal went away (the dashboard), or reload (headless).
    HangUp,
    /// SIGQUIT (Ctrl-\).
    Quit,
}

impl Signal {
    /// The signal's usual name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::HangUp => "SIGHUP",
            Signal::Quit => "SIGQUIT",
        }
    }
}

/// The installed handlers; [`Signals::recv`] resolves on the next of them (including
/// one that arrived before it was called).
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hang_up: tokio::signal::unix::Signal,
    #[cfg(unix)]
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers. Must be called inside the tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
                hang_up: signal(SignalKind::hangup())?,
                quit: signal(SignalKind::quit())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next signal that ends the run, and says which.
    pub async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Signal::Interrupt,
                _ = self.terminate.recv() => Signal::Terminate,
                _ = self.hang_up.recv() => Signal::HangUp,
                _ = self.quit.recv() => Signal::Quit,
            }
        }
        #[cfg(not(unix))]
        {
            // Without a Ctrl-C handler there is no signal to wait for: treat the
            // failure like a signal, so the run ends cleanly instead of hanging.
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}
