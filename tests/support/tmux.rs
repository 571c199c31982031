//! The dashboard in a real terminal: a tmux server of our own, for the end-to-end
//! tests and the UI benchmark's idle measurement.
//!
//! Every tmux server gets its own socket name (`-L`), so parallel runs and servers left
//! over from a crashed run never see each other; the guard kills the server (and so
//! the probetop in its pane) however the caller ends. Every tmux command is bounded
//! by [`TMUX_LIMIT`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// The session name (one session per tmux server, so it never collides).
pub const SESSION: &str = "probetop";
/// Longest a single tmux command may take before the caller gives up on it.
pub const TMUX_LIMIT: Duration = Duration::from_secs(10);

/// A tmux server of our own, on a unique socket; killed when dropped.
pub struct Tmux {
    socket: String,
    /// The socket file, once the server runs: tmux leaves it behind on `kill-server`,
    /// so the guard removes it.
    socket_path: Option<PathBuf>,
}

impl Tmux {
    /// A guard for a fresh socket name, `probetop-{tag}-{pid}-{nanos}`; nothing runs
    /// until [`Tmux::start`]. Fails, saying so, when tmux cannot be run.
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        require_tmux()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Tmux {
            socket: format!("probetop-{tag}-{}-{nanos}", std::process::id()),
            socket_path: None,
        })
    }

    /// A tmux command talking to our server only, with no user config read.
    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command
            .args(["-L", &self.socket, "-f", "/dev/null"])
            // Running from inside tmux must not make this tmux talk to the developer's
            // server.
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Starts the server with one `width`×`height` session running `shell_command`
    /// in `dir`.
    ///
    /// The server is started by this very command, so it inherits this environment:
    /// that is how HOME and XDG_CONFIG_HOME reach probetop, keeping it away from the
    /// user's config files (and RUST_LOG and NO_COLOR away from what it draws).
    pub fn start(
        &mut self,
        dir: &Path,
        (width, height): (u16, u16),
        shell_command: &str,
    ) -> anyhow::Result<()> {
        let mut command = self.command();
        command
            .current_dir(dir)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .env("SHELL", "/bin/sh")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .args(["new-session", "-d", "-s", SESSION])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg("-c")
            .arg(dir)
            .arg(shell_command);
        let output = run_bounded(&mut command, "tmux new-session")?;
        if !output.status.success() {
            bail!(
                "tmux new-session failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        self.socket_path =
            Some(PathBuf::from(self.display("#{socket_path}")?)).filter(|p| p.is_absolute());
        Ok(())
    }

    /// The visible screen of the pane, as plain text.
    pub fn capture(&self) -> anyhow::Result<String> {
        let output = run_bounded(
            self.command().args(["capture-pane", "-p", "-t", SESSION]),
            "tmux capture-pane",
        )?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A tmux format (`#{...}`) evaluated for the pane.
    pub fn display(&self, format: &str) -> anyhow::Result<String> {
        let output = run_bounded(
            self.command()
                .args(["display-message", "-p", "-t", SESSION, format]),
            "tmux display-message",
        )?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Types `key` into the pane.
    pub fn send_key(&self, key: &str) -> anyhow::Result<()> {
        let output = run_bounded(
            self.command().args(["send-keys", "-t", SESSION, key]),
            "tmux send-keys",
        )?;
        if !output.status.success() {
            bail!(
                "tmux send-keys {key} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Best effort, and never a panic inside a panic: the server may have ended by
        // itself already. Killing it hangs up the pane, which ends probetop too.
        if let Ok(child) = self.command().arg("kill-server").spawn() {
            let _ = wait_child(child, TMUX_LIMIT);
        }
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Fails, clearly, when tmux cannot be run.
pub fn require_tmux() -> anyhow::Result<()> {
    let found = Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!(
            "tmux is not installed (or not on PATH), and the dashboard runs in it here. \
             Install it, e.g. `apt-get install -y tmux`; CI's .ci/run does so."
        );
    }
    Ok(())
}

/// Runs `command` (`what`, for messages) to completion, killing it past
/// [`TMUX_LIMIT`].
pub fn run_bounded(command: &mut Command, what: &str) -> anyhow::Result<Output> {
    let child = command
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    wait_child(child, TMUX_LIMIT).with_context(|| format!("{what} hung for {TMUX_LIMIT:?}"))
}

/// Waits for `child` at most `limit`; kills it and returns `None` past that.
fn wait_child(mut child: Child, limit: Duration) -> Option<Output> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// `text` quoted for `sh`.
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The part of a pane's shell command that runs probetop on `config`, logging to
/// `log`: its pid is written to `pid_file` first, and `exec` makes that pid
/// probetop's own. Callers append what the pane does after probetop exits.
pub fn probetop_in_pane(pid_file: &Path, config: &Path, log: &Path) -> String {
    format!(
        "sh -c 'echo $$ > \"$0\"; exec \"$1\" -c \"$2\" --log-file \"$3\"' {} {} {} {}",
        sh_quote(&pid_file.to_string_lossy()),
        sh_quote(env!("CARGO_BIN_EXE_probetop")),
        sh_quote(&config.to_string_lossy()),
        sh_quote(&log.to_string_lossy()),
    )
}
