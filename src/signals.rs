//! SIGINT and SIGTERM, caught from the moment probetop starts.
//!
//! The handlers are installed once, before anything else happens, so a signal that
//! arrives during start-up (before the terminal is taken over, or while it is) is
//! never met by the default action, which would kill the process with the terminal
//! still in raw mode and no snapshot printed.

/// The installed handlers; [`Signals::recv`] resolves on the next SIGINT or SIGTERM
/// (including one that arrived before it was called).
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
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
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            // Without a Ctrl-C handler there is no signal to wait for: treat the
            // failure like a signal, so the run ends cleanly instead of hanging.
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
