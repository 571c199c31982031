//! The headless run: the snapshot's shape and numbers, its histogram decoding back
//! to the same counts, and a complete snapshot on SIGINT, SIGTERM and SIGQUIT.

use crate::support;

use std::time::{Duration, Instant};

use support::{
    TestCert, TestServer, count, endpoint, headless, headless_config, headless_with, probetop,
    wait_bounded, write_config,
};

fn ms(us: u64) -> f64 {
    (us as f64).round() / 1000.0
}

/// Checks the invariants every snapshot entry keeps, including that the encoded
/// histogram decodes to the counts and percentiles the entry reports.
fn assert_consistent(e: &serde_json::Value) {
    let (probes, ok, failed) = (count(e, "probes"), count(e, "ok"), count(e, "failed"));
    assert_eq!(ok + failed, probes, "{e:#}");
    let errors: u64 = e["errors"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(errors, failed, "{e:#}");
    assert_eq!(e["histogram"]["unit"], "us");
    assert_eq!(e["histogram"]["encoding"], "hdrhistogram-v2-deflate-base64");
    let histogram =
        probetop::snapshot::decode_histogram(e["histogram"]["data"].as_str().unwrap()).unwrap();
    let responses: u64 = e["status_codes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    // Every probe in this suite that got a status also got its whole body.
    assert_eq!(histogram.len(), responses, "{e:#}");
    if histogram.is_empty() {
        assert!(e["latency_ms"].is_null());
        return;
    }
    let latency = &e["latency_ms"];
    for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
        assert_eq!(
            latency[key].as_f64().unwrap(),
            ms(histogram.value_at_quantile(q)),
            "{key}: {e:#}"
        );
    }
    assert_eq!(latency["max"].as_f64().unwrap(), ms(histogram.max()));
    assert_eq!(latency["min"].as_f64().unwrap(), ms(histogram.min()));
}

#[test]
fn snapshot_has_the_documented_shape_and_consistent_numbers() {
    let server = TestServer::start();
    let snapshot = headless_config(
        &format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"1m\"\n\n[[endpoint]]\nname = \"ok\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"mixed\"\nurl = \"{}\"\n[endpoint.expect]\nstatus = [200]\n\n[[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"500ms\"\n",
            server.url("/delay/3"),
            server.url("/status/404"),
        ),
        &["--duration", "1s"],
    );
    assert_eq!(snapshot["probetop_snapshot"], 1);
    for key in ["started_at", "taken_at"] {
        let text = snapshot[key].as_str().unwrap();
        assert!(text.ends_with('Z') && text.len() == 20, "{key}: {text}");
    }
    assert!(snapshot["scheduler_lag_ms"]["p99"].as_f64().is_some());
    let ok = endpoint(&snapshot, "ok");
    assert_eq!(ok["state"], "up");
    assert_eq!(ok["url"], server.url("/delay/3"));
    assert_eq!(count(ok, "probes"), 10);
    assert_eq!(ok["window"]["seconds"], 60);
    assert_eq!(ok["window"]["probes"], 10);
    assert_eq!(ok["window"]["ok"], 10);
    assert_eq!(ok["window"]["latency_ms"]["p50"], ok["latency_ms"]["p50"]);
    let mixed = endpoint(&snapshot, "mixed");
    assert_eq!(mixed["state"], "down");
    assert_eq!(mixed["errors"]["status"], 10);
    // State changes are listed with their times.
    assert_eq!(ok["transitions"].as_array().unwrap().len(), 1, "{ok:#}");
    assert_eq!(ok["transitions"][0]["from"], "unknown");
    assert_eq!(ok["transitions"][0]["to"], "up");
    assert!(ok["transitions"][0]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(mixed["transitions"][0]["to"], "down");
    assert_eq!(endpoint(&snapshot, "refused")["errors"]["connect"], 10);
    for e in snapshot["endpoints"].as_array().unwrap() {
        assert_consistent(e);
    }
}

#[test]
fn http2_is_used_over_tls_when_the_server_offers_it() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let snapshot = headless_with(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"h2\"\nurl = \"{}\"\ninterval = \"200ms\"\nca_file = \"ca.pem\"\n[endpoint.expect]\nbody_contains = \"HTTP/2.0\"\n",
            server.url("/version"),
        ),
        &["--duration", "1s"],
    );
    let e = endpoint(&snapshot, "h2");
    assert_eq!(count(e, "ok"), 5, "{e:#}");
    assert_consistent(e);
}

/// Starts a headless run without `--duration`, waits until it has been probing
/// for a while, sends `signal`, and returns the snapshot and how long the exit took.
fn stop_with(signal: libc::c_int) -> (serde_json::Value, Duration) {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\n\n[[endpoint]]\nname = \"ok\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"stalled\"\nurl = \"{}\"\ntimeout = \"1h\"\n",
            server.url("/delay/1"),
            server.url("/stall"),
        ),
    );
    let child = probetop(dir.path()).arg("--headless").spawn().unwrap();
    // Long enough for several probes even if a loaded machine starts the binary slowly.
    std::thread::sleep(Duration::from_millis(2000));
    support::signal(child.id(), signal);
    let sent = Instant::now();
    let output = wait_bounded(child, Duration::from_secs(20));
    let took = sent.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (serde_json::from_slice(&output.stdout).unwrap(), took)
}

fn assert_complete_after_signal(snapshot: &serde_json::Value, took: Duration) {
    let ok = endpoint(snapshot, "ok");
    assert!(count(ok, "probes") >= 5, "{ok:#}");
    assert_consistent(ok);
    // The stalled probes were cancelled, not waited for (their timeout is an hour).
    let stalled = endpoint(snapshot, "stalled");
    assert_eq!(count(stalled, "probes"), 0, "{stalled:#}");
    assert_eq!(stalled["state"], "unknown");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
}

#[test]
fn sigterm_prints_a_complete_snapshot() {
    let (snapshot, took) = stop_with(libc::SIGTERM);
    assert_complete_after_signal(&snapshot, took);
}

#[test]
fn sigint_prints_a_complete_snapshot() {
    let (snapshot, took) = stop_with(libc::SIGINT);
    assert_complete_after_signal(&snapshot, took);
}

#[test]
fn sigquit_prints_a_complete_snapshot() {
    let (snapshot, took) = stop_with(libc::SIGQUIT);
    assert_complete_after_signal(&snapshot, took);
}

#[test]
fn demo_runs_headless() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = headless(dir.path(), &["--demo", "--duration", "3s"]);
    let names: Vec<&str> = snapshot["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "demo-fast",
            "demo-slow",
            "demo-jitter",
            "demo-flaky",
            "demo-stall",
            "demo-fresh",
            "demo-tcp",
            "demo-tls"
        ]
    );
    let fast = endpoint(&snapshot, "demo-fast");
    assert_eq!(count(fast, "probes"), 6, "{fast:#}");
    assert_eq!(fast["state"], "up");
    let slow = endpoint(&snapshot, "demo-slow");
    assert!(
        slow["latency_ms"]["min"].as_f64().unwrap() >= 150.0,
        "{slow:#}"
    );
    // A new connection per probe, by name: DNS and connect for every probe.
    let fresh = endpoint(&snapshot, "demo-fresh");
    let probes = count(fresh, "probes");
    assert!(probes >= 2, "{fresh:#}");
    for phase in ["dns", "connect", "ttfb"] {
        assert_eq!(
            fresh["phases_ms"][phase]["count"], probes,
            "{phase}: {fresh:#}"
        );
    }
    let tcp = endpoint(&snapshot, "demo-tcp");
    assert_eq!(tcp["state"], "up", "{tcp:#}");
    assert_eq!(tcp["phases_ms"]["connect"]["count"], tcp["probes"]);
    // Its certificate (10 days) is shorter than the 14 days the endpoint wants.
    let tls = endpoint(&snapshot, "demo-tls");
    assert_eq!(tls["cert_days_left"], 10, "{tls:#}");
    assert_eq!(tls["state"], "degraded", "{tls:#}");
    assert_eq!(tls["phases_ms"]["tls"]["count"], 1, "{tls:#}");
}

#[test]
fn fail_on_exits_3_when_an_endpoint_ends_too_unhealthy() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"200ms\"\n\n[[endpoint]]\nname = \"healthy\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"slow\"\nurl = \"{}\"\n[endpoint.expect]\nmax_latency = \"20ms\"\n",
            server.url("/"),
            server.url("/delay/60"),
        ),
    );
    let run_with = |fail_on: &str, extra: &[&str]| {
        let output = support::run(
            probetop(dir.path())
                .args(["--headless", "--duration", "1s", "--fail-on", fail_on])
                .args(extra),
            Duration::from_secs(30),
        );
        let snapshot: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("the snapshot is printed either way");
        (
            output.status.code(),
            snapshot,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // Degraded is not down.
    let (code, snapshot, stderr) = run_with("down", &[]);
    assert_eq!(endpoint(&snapshot, "slow")["state"], "degraded");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run_with("degraded", &[]);
    assert_eq!(code, Some(3), "{stderr}");
    // With the reason: the latest response against max_latency.
    assert!(
        stderr.lines().any(
            |l| l.starts_with("slow: degraded: slow: the latest response took ")
                && l.ends_with(" ms, over max_latency 20ms")
        ),
        "{stderr}"
    );
    // A failing endpoint given on the command line ends down.
    let (code, snapshot, stderr) = run_with("down", &[&server.url("/status/500")]);
    assert_eq!(
        endpoint(&snapshot, &server.url("/status/500"))["state"],
        "down"
    );
    assert_eq!(code, Some(3), "{stderr}");
    // One line per endpoint, with the reason: NAME: STATE: CLASS: MESSAGE.
    let failing = format!("{}: down: status: ", server.url("/status/500"));
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&failing) && l.contains("500")),
        "{stderr}"
    );
}

/// Names and URLs written in a config reach the terminal through `--check` and the
/// `--fail-on` report: escape sequences in them must not.
#[test]
fn check_and_fail_on_print_no_escape_sequences() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let hostile = r"\u001b]0;pwned\u0007\u001b[2J";
    let config = write_config(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"evil{hostile}\"\nurl = \"{}\"\ninterval = \"200ms\"\n",
            server.url("/status/500")
        ),
    );
    let config = config.to_string_lossy().into_owned();
    let check = support::run(
        probetop(dir.path()).args(["--check", "-c", &config]),
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(stdout.contains("evil]0;pwned[2J"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    let run = support::run(
        probetop(dir.path()).args([
            "--headless",
            "--duration",
            "1s",
            "--fail-on",
            "down",
            "-c",
            &config,
        ]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("evil]0;pwned[2J: down: status"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
}
