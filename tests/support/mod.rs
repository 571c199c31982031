//! Shared test fixtures: real HTTP(S) servers on 127.0.0.1:0, certificates, the tmux
//! harness, views drawn into `TestBackend` (`screen`), and helpers that write configs
//! and drive the real `probetop` binary.
//!
//! Included by every test binary (`tests/it/`, `tests/timing.rs`, `tests/e2e_tmux.rs`)
//! and by the benches (`#[path = "../tests/support/mod.rs"] mod support;`), so that
//! there is one test server and one tmux harness.

// Each binary that includes this module uses a different part of it, and an unused
// item of a binary's private module is a warning: allowed here, for the module only.
#![allow(dead_code, unused_imports)]

pub mod live;
pub mod process;
pub mod raw;
pub mod screen;
pub mod server;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use raw::{RawServer, Then};
pub use server::{Hook, ServerOptions, TestCert, TestServer};

/// A `probetop` command running in `dir`, isolated from the user's config files.
pub fn probetop(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_probetop"));
    command
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` at most `limit`, killing it (and failing the test) past that.
/// Its stdout and stderr are read meanwhile, so a large snapshot never fills a pipe
/// and stalls the child.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    fn drain(
        pipe: Option<impl std::io::Read + Send + 'static>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error ends the output; the status says what happened.
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("waiting for probetop") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr.join().unwrap_or_default();
                panic!(
                    "probetop did not exit within {limit:?}; stderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs `command` to completion within `limit`.
pub fn run(command: &mut Command, limit: Duration) -> Output {
    wait_bounded(command.spawn().expect("starting probetop"), limit)
}

/// Runs a headless probetop with `args` (which should include `--duration`) and
/// returns its snapshot; fails the test if it does not succeed.
pub fn headless(dir: &Path, args: &[&str]) -> serde_json::Value {
    let stdout = headless_output(dir, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not a snapshot ({e}): {stdout}"))
}

/// The snapshot entry of the first (usually the only) endpoint of a headless run of
/// `args` (URLs, and `--duration`) in a fresh directory.
pub fn headless_endpoint(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut snapshot = headless(dir.path(), args);
    snapshot["endpoints"][0].take()
}

/// The snapshot of a headless run of `config`, written in a fresh directory, with
/// `args` (which should include `--duration`).
pub fn headless_config(config: &str, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("a temporary directory");
    headless_with(dir.path(), config, args)
}

/// The snapshot of a headless run of `config`, written in `dir` (beside the files it
/// names), with `args` (which should include `--duration`).
pub fn headless_with(dir: &Path, config: &str, args: &[&str]) -> serde_json::Value {
    write_config(dir, config);
    headless(dir, args)
}

/// Runs a headless probetop with `args` and returns its stdout as text; fails the
/// test if it does not succeed.
pub fn headless_output(dir: &Path, args: &[&str]) -> String {
    let output = run(
        probetop(dir).arg("--headless").args(args),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "probetop {args:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Sends `signal` to the child process `id` (`Child::id`, before it is waited for).
pub fn signal(id: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(id).expect("a pid fits pid_t");
    // SAFETY: kill(2) with a valid signal number has no memory-safety preconditions;
    // the child is ours and has not been waited for, so the pid is still its own.
    assert_eq!(
        unsafe { libc::kill(pid, signal) },
        0,
        "kill({pid}, {signal})"
    );
}

/// Runs a headless probetop in `dir` without `--duration` for `run_for`, ends it with
/// SIGTERM, and returns its output once it exited successfully (within 20 s).
pub fn headless_until_sigterm(dir: &Path, run_for: Duration) -> Output {
    let child = probetop(dir)
        .arg("--headless")
        .spawn()
        .expect("starting probetop");
    std::thread::sleep(run_for);
    signal(child.id(), libc::SIGTERM);
    succeeded(wait_bounded(child, Duration::from_secs(20)))
}

/// `output`, once it is checked that probetop succeeded (else the test fails, with
/// its stderr).
pub fn succeeded(output: Output) -> Output {
    assert!(
        output.status.success(),
        "probetop failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes `text` as a config file in `dir`.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("probetop.toml");
    std::fs::write(&path, text).expect("writing the config");
    path
}

/// A config of `n` endpoints `e0` … `e{n-1}` on distinct paths of `server`, every
/// second with a 5 s timeout: the benches' load.
pub fn endpoints_config(server: &TestServer, n: usize) -> String {
    use std::fmt::Write as _;
    let mut toml = String::with_capacity(n * 100);
    for i in 0..n {
        let _ = writeln!(
            toml,
            "[[endpoint]]\nname = \"e{i}\"\nurl = \"{}\"\ninterval = \"1s\"\ntimeout = \"5s\"\n",
            server.url(&format!("/e{i}"))
        );
    }
    toml
}

/// The snapshot entry of the endpoint named `name`.
pub fn endpoint<'a>(snapshot: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    snapshot["endpoints"]
        .as_array()
        .expect("endpoints array")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name} in {snapshot:#}"))
}

/// The names of a snapshot's endpoints, in its order.
pub fn names(snapshot: &serde_json::Value) -> Vec<&str> {
    snapshot["endpoints"]
        .as_array()
        .expect("endpoints array")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect()
}

/// The count of `phase` in a snapshot entry's all-time `phases_ms`.
pub fn phase_count(entry: &serde_json::Value, phase: &str) -> u64 {
    entry["phases_ms"][phase]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no phases_ms.{phase}.count in {entry:#}"))
}

/// An integer field of a snapshot entry.
pub fn count(entry: &serde_json::Value, field: &str) -> u64 {
    entry[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {entry:#}"))
}

/// A port on 127.0.0.1 that was free a moment ago (for `--metrics-addr`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// The body of one `GET /metrics` on `port`, or `None` unless it answered 200 within
/// a few seconds.
pub fn get_metrics(port: u16) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
