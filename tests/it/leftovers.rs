//! What was left of issue 12: stderr that cannot be written does not crash the run,
//! and headless diagnostics on stderr carry no escape sequence or forged line,
//! whatever the config's names or a resumed snapshot's URLs hold.

use crate::support;

use std::process::Stdio;
use std::time::Duration;

use support::{free_port, probetop, run, write_config};

/// A config of one endpoint called `name` on a port nothing listens on, probed
/// every 200 ms: down from its first probe.
fn refused_config(name: &str) -> String {
    format!(
        "[[endpoint]]\nname = {}\nurl = \"http://127.0.0.1:{}/\"\ninterval = \"200ms\"\ntimeout = \"2s\"\n",
        toml_string(name),
        free_port()
    )
}

/// `text` as a TOML basic string: control and non-ASCII characters as `\uXXXX`.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => quoted.push(c),
            c => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
        }
    }
    quoted.push('"');
    quoted
}

/// `/dev/full`, which takes no byte, as a child's stream.
fn full() -> Stdio {
    let file = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .expect("opening /dev/full");
    Stdio::from(file)
}

/// `--fail-on` reports on stderr; a stderr that takes nothing (`/dev/full`) must not
/// turn the run's verdict into a panic (exit 101): the exit code still says it.
#[test]
fn a_full_stderr_leaves_the_fail_on_verdict_standing() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &refused_config("refused"));
    let output = run(
        probetop(dir.path())
            .args(["--headless", "--duration", "1s", "--fail-on", "down"])
            .stderr(full()),
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(3), "{:?}", output.status);
    // The snapshot on stdout is whole all the same.
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a snapshot ({e})"));
    let entry = support::endpoint(&snapshot, "refused");
    assert_eq!(entry["state"], "down", "{entry:#}");
    assert!(support::count(entry, "probes") > 0, "{entry:#}");
}

/// The same for a config error, which is reported before anything runs.
#[test]
fn a_full_stderr_leaves_a_config_error_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ntimout = \"1s\"\n",
    );
    let output = run(
        probetop(dir.path()).arg("--check").stderr(full()),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{:?}", output.status);
}

/// Every control character that could steer a terminal or forge a line.
fn assert_clean(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    for byte in [0x1b, 0x07, b'\r'] {
        assert!(
            !stderr.contains(&byte),
            "stderr holds byte {byte:#04x}: {text:?}"
        );
    }
    assert!(
        !text.contains('\u{9b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
}

/// A headless run without `--log-file` writes its warnings to stderr: an endpoint
/// name full of escape sequences shows there cleaned, in the log's line and in the
/// `--fail-on` report alike.
#[test]
fn headless_stderr_shows_hostile_names_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\u{1b}[31m\u{1b}]0;pwned\u{7}\u{9b}2J\rFAKE\u{202e}";
    write_config(dir.path(), &refused_config(name));
    let output = run(
        probetop(dir.path()).args(["--headless", "--duration", "1s", "--fail-on", "down"]),
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(3), "{:?}", output.status);
    assert_clean(&output.stderr);
    let text = String::from_utf8_lossy(&output.stderr);
    let cleaned = "evil[31m]0;pwned2J FAKE";
    assert!(
        text.lines()
            .any(|l| l.contains(" WARN ") && l.contains(&format!("{cleaned}: unknown -> down"))),
        "no log line of the state change: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{cleaned}: down: connect:"))),
        "no --fail-on line: {text}"
    );
}

/// A snapshot's text reaches the log unchecked by anything before it (the URL an
/// endpoint had when the snapshot was taken, in `--resume`'s warning): a carriage
/// return, a newline and an escape sequence there forge no line on stderr.
#[test]
fn a_resumed_snapshots_text_forges_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &refused_config("api"));
    let first = run(
        probetop(dir.path()).args(["--headless", "--duration", "500ms"]),
        Duration::from_secs(60),
    );
    let mut snapshot: serde_json::Value = serde_json::from_slice(&first.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a snapshot ({e})"));
    snapshot["endpoints"][0]["url"] =
        "http://old.invalid/\u{1b}[2J\r\n2026-01-01T00:00:00Z  INFO FAKE: all is well".into();
    let path = dir.path().join("old.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();

    let output = run(
        probetop(dir.path()).args(["--headless", "--duration", "500ms", "--resume", "old.json"]),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {text}", output.status);
    assert_clean(&output.stderr);
    // Both the log's line and the printed warning say it, each on one line.
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("was http://old.invalid/"))
        .collect();
    assert_eq!(warned.len(), 2, "{text}");
    assert!(
        warned
            .iter()
            .all(|l| l.contains("[2J  2026-01-01T00:00:00Z  INFO FAKE")),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.contains("FAKE") && !l.contains("was http")),
        "a forged line: {text}"
    );
}
