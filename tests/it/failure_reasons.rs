//! The why of every failure, in every output: `last_error` and `recent_errors` in the
//! JSON, the `last_error*` columns of the CSV and the Markdown failures table for
//! refused, timed-out, bad-status, untrusted-TLS and unfollowable-redirect endpoints
//! against real loopback servers; state changes and first errors in `--log-file` and
//! on headless stderr; the detail view's latest error in full, and the overview's
//! LAST RESULT kept at 80 columns.

use std::process::Child;
use std::time::{Duration, SystemTime};

use crate::support::screen::{TAKEN_AT_SECS, at, screen as render, state_for};
use crate::support::{self, RawServer, TestCert, TestServer, Then, endpoint, probetop};

use probetop::config::Endpoint;
use probetop::probe::{ErrorClass, ProbeOutcome};
use probetop::stats::{EndpointStats, StatsStore};
use probetop::ui::model::{self, Span};
use probetop::ui::state::Mode;
use probetop::ui::theme::Theme;
use probetop::ui::view::ViewInput;

/// Every endpoint of [`failing_config`] that fails, with the class it must report
/// (any class for the redirect to `ftp:`, whose class belongs to the redirect rules:
/// the formats must only agree on it).
const FAILING: [(&str, Option<&str>); 5] = [
    ("refused", Some("connect")),
    ("timeout", Some("timeout")),
    ("status", Some("status")),
    ("tls", Some("tls")),
    ("ftp-redirect", None),
];

/// The servers behind [`failing_config`]; they stop when dropped.
struct Targets {
    plain: TestServer,
    tls: TestServer,
    redirect: RawServer,
    refused_port: u16,
}

fn targets() -> Targets {
    Targets {
        plain: TestServer::start(),
        // Its certificate is trusted by nobody: unknown issuer.
        tls: TestServer::start_tls(&TestCert::generate()),
        redirect: RawServer::start(
            b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/file\r\nContent-Length: 0\r\n\r\n",
            Then::Close,
        ),
        refused_port: support::free_port(),
    }
}

/// One healthy endpoint and one per way of failing; `refused` probes often enough
/// to fail more than ten times in a 2 s run.
fn failing_config(t: &Targets) -> String {
    format!(
        "[defaults]\ninterval = \"250ms\"\ntimeout = \"1s\"\n\n\
         [[endpoint]]\nname = \"healthy\"\nurl = \"{}\"\n\n\
         [[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:{}/\"\ninterval = \"100ms\"\n\n\
         [[endpoint]]\nname = \"timeout\"\nurl = \"{}\"\ninterval = \"400ms\"\ntimeout = \"300ms\"\n\n\
         [[endpoint]]\nname = \"status\"\nurl = \"{}\"\n\n\
         [[endpoint]]\nname = \"tls\"\nurl = \"{}\"\n\n\
         [[endpoint]]\nname = \"ftp-redirect\"\nurl = \"{}\"\n",
        t.plain.url("/"),
        t.refused_port,
        t.plain.url("/delay/3000"),
        t.plain.url("/status/503"),
        t.tls.url("/"),
        t.redirect.url("/"),
    )
}

/// Starts a headless run of `config` for 2 s printing `format`.
fn spawn_headless(dir: &std::path::Path, format: &str) -> Child {
    probetop(dir)
        .args(["--headless", "--duration", "2s", "--export-format", format])
        .args(["-c", "probetop.toml"])
        .spawn()
        .expect("starting probetop")
}

fn stdout_of(child: Child) -> String {
    let output = support::wait_bounded(child, Duration::from_secs(60));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// `2026-12-01T17:27:15Z`, parsed.
fn rfc3339(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

#[test]
fn every_format_says_why_each_endpoint_failed() {
    let targets = targets();
    let dir = tempfile::tempdir().unwrap();
    support::write_config(dir.path(), &failing_config(&targets));
    // The three runs at once: each takes its 2 s.
    let runs = ["json", "csv", "md"].map(|format| spawn_headless(dir.path(), format));
    let [json, csv, md] = runs.map(stdout_of);

    let snapshot: serde_json::Value = serde_json::from_str(&json).expect("a JSON snapshot");
    let (started, taken) = (
        rfc3339(snapshot["started_at"].as_str().unwrap()),
        rfc3339(snapshot["taken_at"].as_str().unwrap()),
    );
    let healthy = endpoint(&snapshot, "healthy");
    assert_eq!(healthy["state"], "up", "{healthy:#}");
    assert!(healthy["last_error"].is_null(), "{healthy:#}");
    assert_eq!(healthy["recent_errors"], serde_json::json!([]));
    let class_of = |name: &str| {
        endpoint(&snapshot, name)["last_error"]["class"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no last_error class in {snapshot:#}"))
            .to_string()
    };
    for (name, expected) in FAILING {
        let e = endpoint(&snapshot, name);
        let last = &e["last_error"];
        let class = class_of(name);
        if let Some(expected) = expected {
            assert_eq!(class, expected, "{name}: {e:#}");
        }
        let message = last["message"].as_str().unwrap();
        assert!(!message.trim().is_empty(), "{name}: {e:#}");
        // Whole seconds: the run's start may be later within the same second.
        let at = rfc3339(last["at"].as_str().unwrap());
        assert!(
            at + Duration::from_secs(1) >= started && at <= taken,
            "{name}: {e:#}"
        );
        // The latest ten at most, newest first, the first being last_error.
        let recent = e["recent_errors"].as_array().unwrap();
        let failed = support::count(e, "failed");
        assert_eq!(recent.len() as u64, failed.min(10), "{name}: {e:#}");
        assert_eq!(&recent[0], last, "{name}");
        let times: Vec<SystemTime> = recent
            .iter()
            .map(|r| rfc3339(r["at"].as_str().unwrap()))
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{name}: {times:?}");
        assert!(recent.iter().all(|r| r["class"] == class), "{name}: {e:#}");
    }
    assert_eq!(
        endpoint(&snapshot, "refused")["recent_errors"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let status = &endpoint(&snapshot, "status")["last_error"]["message"];
    assert!(status.as_str().unwrap().contains("503"), "{status}");

    // CSV: the latest error's class, message and time, empty for the healthy one.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (name_col, class_col, message_col, at_col) = (
        column("name"),
        column("last_error_class"),
        column("last_error"),
        column("last_error_at"),
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), FAILING.len() + 1, "{csv}");
    for row in &rows {
        let name = &row[name_col];
        match FAILING.iter().find(|(n, _)| *n == name) {
            None => {
                assert_eq!(name, "healthy");
                assert_eq!(
                    [&row[class_col], &row[message_col], &row[at_col]],
                    ["", "", ""]
                );
            }
            Some(_) => {
                assert_eq!(row[class_col], class_of(name), "{csv}");
                assert!(!row[message_col].trim().is_empty(), "{csv}");
                rfc3339(&row[at_col]);
            }
        }
    }
    let status_row = rows.iter().find(|r| &r[name_col] == "status").unwrap();
    assert!(status_row[message_col].contains("503"), "{csv}");

    // Markdown: a failures table with the failing endpoints only.
    let (_, failures) = md
        .split_once("### Failures")
        .unwrap_or_else(|| panic!("no failures section:\n{md}"));
    let rows: Vec<Vec<&str>> = failures
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.strip_suffix(" |"))
        .map(|l| l.split(" | ").collect())
        .collect();
    assert_eq!(rows[0], ["endpoint", "state", "class", "when", "message"]);
    let names: Vec<&str> = rows[2..].iter().map(|r| r[0]).collect();
    assert_eq!(names, FAILING.map(|(n, _)| n), "{md}");
    for row in &rows[2..] {
        assert_eq!(
            row.len(),
            5,
            "one cell each, nothing broke the table: {row:?}"
        );
        assert_eq!(row[1], "down", "{md}");
        assert_eq!(row[2], class_of(row[0]), "{md}");
        rfc3339(row[3]);
        assert!(!row[4].trim().is_empty(), "{md}");
    }
}

/// `--fail-on` gives the reason on every line; degraded ones say what degrades them.
#[test]
fn fail_on_gives_each_endpoint_its_reason() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    support::write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"200ms\"\n\n\
             [[endpoint]]\nname = \"slow\"\nurl = \"{}\"\n[endpoint.expect]\nmax_latency = \"20ms\"\n\n\
             [[endpoint]]\nname = \"failing\"\nurl = \"{}\"\n",
            server.url("/delay/60"),
            server.url("/status/500"),
        ),
    );
    let output = support::run(
        probetop(dir.path()).args(["--headless", "--duration", "1s", "--fail-on", "degraded"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let report: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("probetop: --fail-on degraded: 2 endpoints"))
        .collect();
    assert_eq!(report.len(), 3, "{stderr}");
    assert!(
        report[1].starts_with("slow: degraded: slow: the latest response took ")
            && report[1].ends_with(" ms, over max_latency 20ms"),
        "{stderr}"
    );
    assert!(
        report[2].starts_with("failing: down: status: ") && report[2].contains("500"),
        "{stderr}"
    );
}

/// The log file gets a line for a state change (with its reason) and for the first
/// error of each class, at most one per endpoint per 10 s, saying what it held back;
/// headless stderr gets the same lines.
#[test]
fn state_changes_and_first_errors_reach_the_log_and_stderr() {
    let vanishing = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let refused_port = support::free_port();
    support::write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\ntimeout = \"1s\"\n\n\
             [[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:{refused_port}/\"\n\n\
             [[endpoint]]\nname = \"vanishing\"\nurl = \"{}\"\ndown_after = 2\nconnection = \"fresh\"\n",
            vanishing.url("/"),
        ),
    );
    let log = dir.path().join("probetop.log");
    let child = probetop(dir.path())
        .args(["--headless", "--duration", "3s", "--log-file"])
        .arg(&log)
        .spawn()
        .expect("starting probetop");
    // Up for a second, then gone: a first connect error while still up, then down.
    std::thread::sleep(Duration::from_secs(1));
    drop(vanishing);
    let output = support::wait_bounded(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let log = std::fs::read_to_string(&log).expect("the log file");
    let lines = |name: &str| -> Vec<&str> {
        log.lines()
            .filter(|l| l.contains("probetop::endpoint") && l.contains(&format!(" {name}: ")))
            .collect()
    };
    let refused = lines("refused");
    assert_eq!(refused.len(), 1, "one line in 3 s:\n{log}");
    assert!(
        refused[0].contains("WARN")
            && refused[0].contains("refused: unknown -> down: connect: ")
            && refused[0].ends_with("(first connect error)"),
        "{log}"
    );
    let vanishing = lines("vanishing");
    // Its first probe found it up (no news); then the first error, and the change to
    // down within 10 s of it, held back and written at the end with its count.
    assert_eq!(vanishing.len(), 2, "{log}");
    // (Refused, as a rule; a probe in flight as the server went may end otherwise.)
    assert!(
        vanishing[0].contains("vanishing: first ")
            && vanishing[0].contains(" error: ")
            && vanishing[0].ends_with("(still up)"),
        "{log}"
    );
    assert!(
        vanishing[1].contains("vanishing: up -> down: ")
            && vanishing[1].contains("held back by the 10s limit, the latest of 1 line)"),
        "{log}"
    );
    // The same lines on stderr, since the run is headless.
    for line in refused.iter().chain(&vanishing) {
        let (_, text) = line.split_once("probetop::endpoint: ").unwrap();
        assert!(
            stderr.contains(text),
            "{text:?} missing from stderr:\n{stderr}"
        );
    }
}

/// A long error message: its end must still be on screen.
const LONG_MESSAGE: &str = "invalid peer certificate: the certificate was issued by \
    CN=Example Internal Root CA 2026, O=Example Corporation, which is not trusted here; \
    add it to ca_file or to the system trust store END-OF-MESSAGE";

/// One endpoint that answered once and then failed with [`LONG_MESSAGE`].
fn failing_store() -> (StatsStore, Vec<Endpoint>) {
    let span = Duration::from_secs(300);
    let mut stats = EndpointStats::default();
    let ok = ProbeOutcome {
        latency: Some(Duration::from_millis(4)),
        status: Some(200),
        ..ProbeOutcome::default()
    };
    stats.record(ok, 10, at(TAKEN_AT_SECS - 3), span);
    for i in 0..2u32 {
        let failed = ProbeOutcome::failed(ErrorClass::Tls, LONG_MESSAGE);
        stats.record(
            failed,
            20 + i * 10,
            at(TAKEN_AT_SECS - 2 + u64::from(i)),
            span,
        );
    }
    let mut store = StatsStore::new(at(TAKEN_AT_SECS - 5), span, vec![stats]);
    store.stamp(at(TAKEN_AT_SECS), 50);
    let endpoint = Endpoint::new(
        "internal-api",
        url::Url::parse("https://internal.example.com/health").unwrap(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    (store, vec![endpoint])
}

/// The screen's text joined into one line, so a wrapped message reads whole.
fn joined(screen: &str) -> String {
    screen.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_detail_view_shows_the_latest_error_in_full() {
    let (store, endpoints) = failing_store();
    let data = model::overview(&store, &endpoints, Span::FiveMinutes);
    let detail = model::detail(&store, 0, Span::FiveMinutes).unwrap();
    let mut state = state_for(&data);
    state.mode = Mode::Detail(0);
    let input = ViewInput {
        state: &state,
        data: &data,
        detail: Some(&detail),
        endpoints: &endpoints,
        rate: None,
        paused: false,
        theme: Theme { color: false },
    };
    for (width, height) in [(100, 30), (60, 30)] {
        let screen = render(width, height, &input);
        // Wrapped over several rows, each within the panel, ending with its last word.
        let first = screen
            .lines()
            .position(|l| l.contains("tls: invalid peer"))
            .unwrap_or_else(|| panic!("{width}x{height}:\n{screen}"));
        let last = screen
            .lines()
            .position(|l| l.contains("END-OF-MESSAGE"))
            .unwrap_or_else(|| panic!("{width}x{height}: the end is cut:\n{screen}"));
        assert!(last > first, "{width}x{height}: wrapped:\n{screen}");
        let whole: Vec<&str> = screen.lines().skip(first).take(last - first + 1).collect();
        let whole = joined(&whole.join(" "));
        for word in LONG_MESSAGE.split_whitespace() {
            assert!(
                whole.contains(word),
                "{width}x{height}: {word:?} missing:\n{screen}"
            );
        }
        // The older error stays one row, cut.
        assert!(
            screen
                .lines()
                .skip(last + 1)
                .any(|l| l.contains("tls: invalid peer") && l.contains('…')),
            "{width}x{height}:\n{screen}"
        );
    }
}

#[test]
fn last_result_survives_at_80_columns() {
    let (store, endpoints) = failing_store();
    let data = model::overview(&store, &endpoints, Span::FiveMinutes);
    let state = state_for(&data);
    let input = ViewInput {
        state: &state,
        data: &data,
        detail: None,
        endpoints: &endpoints,
        rate: None,
        paused: false,
        theme: Theme { color: false },
    };
    for width in [80, 60, 40] {
        let screen = render(width, 10, &input);
        let heading = screen.lines().nth(1).unwrap();
        assert!(
            heading.contains("LAST RESULT") || width < 60,
            "{width}:\n{screen}"
        );
        let row = screen
            .lines()
            .find(|l| l.contains("internal-api"))
            .unwrap_or_else(|| panic!("{width}:\n{screen}"));
        assert!(row.contains("tls: invalid"), "{width}: {row:?}\n{screen}");
    }
    // At 80 columns the percentiles stay beside it.
    let screen = render(80, 10, &input);
    let heading = screen.lines().nth(1).unwrap();
    for column in ["NAME", "P50", "P99", "OK%", "LAST RESULT"] {
        assert!(heading.contains(column), "{column}: {heading:?}");
    }
}
