//! A headless probetop run driven from a test: stderr to a file (nothing waits on
//! a full pipe), polled with bounded waits; what the live-operations tests
//! (`ops_seams`, `reload_live`) share.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use super::tmux::Tmux;
use super::{free_port, get_metrics, probetop, wait_bounded};

/// Longest any one wait polls: a loaded 2-core machine may stall a debug binary for
/// seconds, and nothing here measures time.
pub const WAIT_LIMIT: Duration = Duration::from_secs(15);
/// Time between two looks.
pub const POLL_STEP: Duration = Duration::from_millis(100);

/// Polls `check` until it answers; fails with `what` and `context()` after
/// [`WAIT_LIMIT`].
pub fn wait_for<T>(
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT_LIMIT:?} waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(POLL_STEP);
    }
}

/// A headless probetop in `dir` on its `probetop.toml`, serving `/metrics`, logging to
/// `probetop.log`; stderr goes to `stderr.txt` (nothing waits on a full pipe).
pub struct Headless {
    child: Option<Child>,
    /// The run's directory.
    pub dir: PathBuf,
    /// Where it serves `/metrics`.
    pub port: u16,
}

impl Headless {
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let port = free_port();
        let stderr = File::create(dir.join("stderr.txt")).expect("creating stderr.txt");
        let mut command = probetop(dir);
        // The alerts' webhooks and the probes go to loopback only.
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            command.env_remove(var).env_remove(var.to_lowercase());
        }
        let child = command
            .args(["--headless", "--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(["--log-file", "probetop.log"])
            .args(args)
            .stderr(stderr)
            .spawn()
            .expect("starting probetop");
        Headless {
            child: Some(child),
            dir: dir.to_path_buf(),
            port,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("probetop.log")).unwrap_or_default()
    }

    /// Waits for a stderr line containing `needle` after the first `skip` such
    /// lines; returns every such line.
    pub fn wait_stderr(&self, needle: &str, skip: usize) -> Vec<String> {
        wait_for(
            &format!("stderr line {} with {needle:?}", skip + 1),
            || {
                let lines: Vec<String> = self
                    .stderr()
                    .lines()
                    .filter(|l| l.contains(needle))
                    .map(String::from)
                    .collect();
                (lines.len() > skip).then_some(lines)
            },
            || self.stderr(),
        )
    }

    /// Polls `/metrics` until `check` answers.
    pub fn wait_metrics<T>(&self, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
        let last = std::cell::RefCell::new(String::new());
        wait_for(
            what,
            || {
                let metrics = get_metrics(self.port)?;
                let found = check(&metrics);
                *last.borrow_mut() = metrics;
                found
            },
            || {
                format!(
                    "last scrape:\n{}\nstderr:\n{}",
                    last.borrow(),
                    self.stderr()
                )
            },
        )
    }

    /// Ends the run with SIGTERM and returns its snapshot.
    pub fn finish(mut self) -> serde_json::Value {
        let child = self.child.take().unwrap();
        super::signal(child.id(), libc::SIGTERM);
        let output = wait_bounded(child, Duration::from_secs(30));
        assert!(
            output.status.success(),
            "probetop exited {}: {}",
            output.status,
            self.stderr()
        );
        serde_json::from_slice(&output.stdout).expect("a JSON snapshot on stdout")
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls the pane until `check` holds; fails with `what` and the last screen.
pub fn wait_screen(tmux: &Tmux, what: &str, check: impl Fn(&str) -> bool) {
    let last = std::cell::RefCell::new(String::new());
    wait_for(
        what,
        || {
            let screen = tmux.capture().unwrap_or_default();
            let found = check(&screen).then_some(());
            *last.borrow_mut() = screen;
            found
        },
        || last.borrow().clone(),
    );
}
