//! Behaviour over time: measured latency matches the server's delay, and the schedule
//! keeps its fixed rate whatever the responses do.
//!
//! These tests run one at a time (the `SERIAL` lock) so that parallel tests in this
//! file cannot starve them; cargo runs test binaries one after another.

mod support;

use std::sync::Mutex;

use support::{TestCert, TestServer, count, endpoint, headless_config, headless_with};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn p50(entry: &serde_json::Value) -> f64 {
    entry["latency_ms"]["p50"]
        .as_f64()
        .unwrap_or_else(|| panic!("no p50 in {entry:#}"))
}

/// A config probing each `(name, url)` every 100 ms.
fn every_100ms(endpoints: &[(&str, &str)]) -> String {
    let mut config = String::from("[defaults]\ninterval = \"100ms\"\n");
    for (name, url) in endpoints {
        config.push_str(&format!(
            "\n[[endpoint]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    config
}

#[test]
fn latency_reads_as_the_server_delay() {
    let _serial = serial();
    let server = TestServer::start();
    let config = every_100ms(&[
        ("slow", &server.url("/delay/50")),
        ("fast", &server.url("/delay/0")),
    ]);
    let snapshot = headless_config(&config, &["--duration", "2s"]);
    let slow = endpoint(&snapshot, "slow");
    assert_eq!(count(slow, "ok"), 20, "{slow:#}");
    let slow_p50 = p50(slow);
    // The server sleeps 50 ms; the request, the timer's 1 ms tick and a loaded machine add a little.
    assert!(
        (50.0..=55.0).contains(&slow_p50),
        "p50 {slow_p50} ms: {slow:#}"
    );
    let fast = endpoint(&snapshot, "fast");
    let fast_p50 = p50(fast);
    assert!(fast_p50 < 3.0, "p50 {fast_p50} ms: {fast:#}");
}

#[test]
fn fixed_rate_holds_while_responses_take_longer_than_the_interval() {
    let _serial = serial();
    let server = TestServer::start();
    let config = every_100ms(&[
        ("quick", &server.url("/delay/0")),
        ("overlapping", &server.url("/delay/250")),
    ]);
    let snapshot = headless_config(&config, &["--duration", "3s"]);
    for name in ["quick", "overlapping"] {
        let e = endpoint(&snapshot, name);
        let probes = count(e, "probes");
        assert!(
            (28..=32).contains(&probes),
            "{name}: {probes} probes: {e:#}"
        );
        assert_eq!(count(e, "skipped"), 0, "{name}: {e:#}");
        assert_eq!(count(e, "ok"), probes, "{name}: {e:#}");
    }
    // Each of the overlapping probes still measured its own 250 ms.
    let overlapping = p50(endpoint(&snapshot, "overlapping"));
    assert!(
        (250.0..=260.0).contains(&overlapping),
        "p50 {overlapping} ms"
    );
}

#[test]
fn a_stalling_endpoint_does_not_slow_a_healthy_one() {
    let _serial = serial();
    let server = TestServer::start();
    let snapshot = headless_config(
        &format!(
            "[[endpoint]]\nname = \"healthy\"\nurl = \"{}\"\ninterval = \"100ms\"\n\n[[endpoint]]\nname = \"stalling\"\nurl = \"{}\"\ninterval = \"100ms\"\ntimeout = \"2s\"\n",
            server.url("/delay/0"),
            server.url("/delay/1000"),
        ),
        &["--duration", "3s"],
    );
    let healthy = endpoint(&snapshot, "healthy");
    let probes = count(healthy, "probes");
    assert!((28..=32).contains(&probes), "{probes} probes: {healthy:#}");
    assert_eq!(count(healthy, "ok"), probes);
    let stalling = endpoint(&snapshot, "stalling");
    assert_eq!(count(stalling, "skipped"), 0, "{stalling:#}");
    let stalled = p50(stalling);
    assert!((1000.0..=1010.0).contains(&stalled), "p50 {stalled} ms");
}

#[test]
fn overlap_cap_skips_ticks_and_counts_them() {
    let _serial = serial();
    let server = TestServer::start();
    // At most 2 probes in flight, each taking 450 ms, ticks every 100 ms: of every
    // ~4.5 ticks only 2 can be probed; the others must show up as skipped.
    let snapshot = headless_config(
        &format!(
            "[[endpoint]]\nname = \"capped\"\nurl = \"{}\"\ninterval = \"100ms\"\nmax_in_flight = 2\n",
            server.url("/delay/450"),
        ),
        &["--duration", "2s"],
    );
    let e = endpoint(&snapshot, "capped");
    let (probes, skipped) = (count(e, "probes"), count(e, "skipped"));
    assert_eq!(
        probes + skipped,
        20,
        "every tick is probed or skipped: {e:#}"
    );
    assert!((7..=10).contains(&probes), "{probes} probes: {e:#}");
}

#[test]
fn ttfb_starts_when_the_connection_is_ready_and_phases_add_up_to_the_latency() {
    let _serial = serial();
    let cert = TestCert::generate();
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let config = format!(
        r#"
[[endpoint]]
name = "slow-fresh"
url = "{url}"
ca_file = "ca.pem"
connection = "fresh"
interval = "10s"
"#,
        url = server.url_by_name("/delay/40"),
    );
    // One probe, so every percentile is that probe's own value.
    let snapshot = headless_with(dir.path(), &config, &["--duration", "100ms"]);
    let e = endpoint(&snapshot, "slow-fresh");
    assert_eq!(count(e, "ok"), 1, "{e:#}");
    for phase in ["dns", "connect", "tls", "ttfb", "transfer"] {
        assert_eq!(e["phases_ms"][phase]["count"], 1, "{phase}: {e:#}");
    }
    let phase = |p: &str| {
        e["phases_ms"][p]["p50"]
            .as_f64()
            .unwrap_or_else(|| panic!("no phases_ms.{p}.p50 in {e:#}"))
    };
    let latency = e["latency_ms"]["p50"].as_f64().unwrap();
    // The server waits 40 ms before answering: that is the TTFB, not the handshake.
    assert!(phase("ttfb") >= 40.0, "{e:#}");
    assert!(phase("tls") > 0.0 && phase("connect") > 0.0 && phase("dns") > 0.0);
    // The phases follow one another: together they are the latency, never more (up
    // to the histogram's 3 significant digits), and what they leave out (writing the
    // request, scheduling) is small.
    let sum: f64 = ["dns", "connect", "tls", "ttfb", "transfer"]
        .into_iter()
        .map(phase)
        .sum();
    assert!(
        sum <= latency * 1.003 + 0.005,
        "sum {sum} > latency {latency}: {e:#}"
    );
    assert!(sum >= latency * 0.9, "sum {sum} ≪ latency {latency}: {e:#}");
}
