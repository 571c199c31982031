//! Phase counts against real servers: DNS, connect and TLS are counted once per new
//! connection (`connection = "reuse"`) or once per probe (`"fresh"`), never as zeros;
//! TTFB and transfer once per response; over HTTP/1.1, HTTP/2 and TLS, by name and by
//! address. Certificate days come from the certificate the server presents.

use crate::support;

use std::time::Duration;

use support::{
    RawServer, TestCert, TestServer, Then, count, endpoint, headless_config,
    headless_until_sigterm, headless_with, phase_count, write_config,
};

fn phase_p50(e: &serde_json::Value, phase: &str) -> f64 {
    e["phases_ms"][phase]["p50"]
        .as_f64()
        .unwrap_or_else(|| panic!("no phases_ms.{phase}.p50 in {e:#}"))
}

/// [dns, connect, tls, ttfb, transfer] counts.
fn counts(e: &serde_json::Value) -> [u64; 5] {
    ["dns", "connect", "tls", "ttfb", "transfer"].map(|p| phase_count(e, p))
}

#[test]
fn reused_connections_pay_dns_connect_and_tls_once_fresh_ones_every_probe() {
    let plain = TestServer::start();
    let cert = TestCert::generate();
    let tls = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let config = format!(
        r#"
[defaults]
interval = "200ms"

[[endpoint]]
name = "h1-reuse"
url = "{h1}"
http = "1.1"

[[endpoint]]
name = "h1-reuse-twin"
url = "{h1}"
http = "1.1"

[[endpoint]]
name = "h1-fresh"
url = "{h1}"
http = "1.1"
connection = "fresh"

[[endpoint]]
name = "h2c-reuse"
url = "{h1}"
http = "2"

[[endpoint]]
name = "tls-reuse"
url = "{tls}"
ca_file = "ca.pem"
# Slower, so that even a slow first handshake on a loaded machine is over before the
# second probe (which would otherwise open a second connection, rightly).
interval = "500ms"

[[endpoint]]
name = "tls-fresh"
url = "{tls}"
ca_file = "ca.pem"
connection = "fresh"

[[endpoint]]
name = "by-address"
url = "{by_address}"
connection = "fresh"
"#,
        h1 = plain.url_by_name("/version"),
        tls = tls.url_by_name("/version"),
        by_address = plain.url("/version"),
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "2s"]);

    assert_eq!(count(endpoint(&snapshot, "tls-reuse"), "ok"), 4);
    for name in [
        "h1-reuse",
        "h1-reuse-twin",
        "h1-fresh",
        "h2c-reuse",
        "tls-fresh",
    ] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "probes"), 10, "{e:#}");
        assert_eq!(count(e, "ok"), 10, "{e:#}");
    }
    // Endpoints with the same settings share a pool: their 20 probes (interleaved, as
    // the endpoints are spread over the interval) go over one connection, or two if
    // two requests ever overlapped, counted for whichever endpoint's probe opened it;
    // every response has a TTFB.
    let (one, twin) = (
        endpoint(&snapshot, "h1-reuse"),
        endpoint(&snapshot, "h1-reuse-twin"),
    );
    let opened = phase_count(one, "connect") + phase_count(twin, "connect");
    assert!((1..=2).contains(&opened), "{one:#} {twin:#}");
    assert_eq!(opened, phase_count(one, "dns") + phase_count(twin, "dns"));
    for e in [one, twin] {
        assert_eq!(
            [phase_count(e, "tls"), phase_count(e, "ttfb")],
            [0, 10],
            "{e:#}"
        );
    }
    assert_eq!(counts(endpoint(&snapshot, "h2c-reuse")), [1, 1, 0, 10, 10]);
    assert_eq!(counts(endpoint(&snapshot, "tls-reuse")), [1, 1, 1, 4, 4]);
    // A new connection for every probe.
    assert_eq!(counts(endpoint(&snapshot, "h1-fresh")), [10, 10, 0, 10, 10]);
    assert_eq!(
        counts(endpoint(&snapshot, "tls-fresh")),
        [10, 10, 10, 10, 10]
    );
    // An IP address needs no lookup: no DNS samples at all, not zeros.
    let by_address = endpoint(&snapshot, "by-address");
    assert_eq!(counts(by_address), [0, 10, 0, 10, 10]);
    assert!(
        by_address["phases_ms"]["dns"]["p50"].is_null(),
        "{by_address:#}"
    );

    // HTTP/2 was really used for h2c-reuse and tls-reuse (one multiplexed connection).
    for name in ["h2c-reuse", "tls-reuse"] {
        let e = endpoint(&snapshot, name);
        assert!(
            count(e, "ok") > 0 && e["status_codes"]["200"] == e["ok"],
            "{e:#}"
        );
    }
    // A handshake costs something, and the window holds the same counts as all-time.
    let tls_fresh = endpoint(&snapshot, "tls-fresh");
    assert!(phase_p50(tls_fresh, "tls") > 0.0, "{tls_fresh:#}");
    assert_eq!(tls_fresh["window"]["phases_ms"]["tls"]["count"], 10);
    assert_eq!(tls_fresh["window"]["phases_ms"]["dns"]["count"], 10);
    // The certificate's days are read from the connection (rcgen's default: valid
    // until 4096, so thousands of days).
    assert!(
        tls_fresh["cert_days_left"].as_i64().unwrap() > 365,
        "{tls_fresh:#}"
    );
    assert!(endpoint(&snapshot, "h1-reuse")["cert_days_left"].is_null());
}

#[test]
fn certificate_days_left_are_reported_and_min_cert_days_degrades() {
    let cert = TestCert::generate_for(&["localhost"], Duration::from_secs(5 * 86_400 + 3_600));
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let url = server.url_by_name("/version");
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "wants-7-days"
url = "{url}"
ca_file = "ca.pem"
expect = {{ min_cert_days = 7 }}

[[endpoint]]
name = "wants-3-days"
url = "{url}"
ca_file = "ca.pem"
expect = {{ min_cert_days = 3 }}
"#
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "1s"]);
    let strict = endpoint(&snapshot, "wants-7-days");
    let lenient = endpoint(&snapshot, "wants-3-days");
    for e in [strict, lenient] {
        assert_eq!(e["cert_days_left"], 5, "{e:#}");
        assert_eq!(
            count(e, "ok"),
            4,
            "a short certificate is no failure: {e:#}"
        );
        assert!(e["cert_not_after"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(strict["state"], "degraded", "{strict:#}");
    assert_eq!(lenient["state"], "up", "{lenient:#}");
}

#[test]
fn a_certificate_for_another_host_fails_tls_after_dns_and_connect() {
    let cert = TestCert::generate_for(&["other.example"], Duration::from_secs(30 * 86_400));
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let url = server.url_by_name("/version");
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "wrong-host"
url = "{url}"
ca_file = "ca.pem"

[[endpoint]]
name = "wrong-host-insecure"
url = "{url}"
insecure = true
"#
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "1s"]);
    let wrong = endpoint(&snapshot, "wrong-host");
    assert_eq!(wrong["errors"]["tls"], 4, "{wrong:#}");
    assert_eq!(wrong["state"], "down");
    // Every attempt resolved and connected; no handshake completed.
    assert_eq!(counts(wrong), [4, 4, 0, 0, 0], "{wrong:#}");
    assert!(wrong["cert_days_left"].is_null());
    // insecure accepts it, and still reads its expiry.
    let insecure = endpoint(&snapshot, "wrong-host-insecure");
    assert_eq!(count(insecure, "ok"), 4, "{insecure:#}");
    assert_eq!(insecure["cert_days_left"], 29, "{insecure:#}");
}

#[test]
fn tcp_and_tls_endpoints_get_the_same_statistics() {
    let plain = TestServer::start();
    let cert = TestCert::generate_for(&["localhost"], Duration::from_secs(5 * 86_400 + 3_600));
    let tls = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "tcp"
url = "tcp://{plain}"

[[endpoint]]
name = "tls"
url = "tls://localhost:{tls_port}"
ca_file = "ca.pem"
expect = {{ min_cert_days = 7 }}
"#,
        plain = plain.addr(),
        tls_port = tls.addr().port(),
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "1s"]);
    let tcp = endpoint(&snapshot, "tcp");
    assert_eq!(count(tcp, "ok"), 4, "{tcp:#}");
    assert_eq!(tcp["state"], "up");
    assert_eq!(counts(tcp), [0, 4, 0, 0, 0], "{tcp:#}");
    assert!(tcp["status_codes"].as_object().unwrap().is_empty());
    assert!(tcp["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    let tls = endpoint(&snapshot, "tls");
    assert_eq!(count(tls, "ok"), 4, "{tls:#}");
    assert_eq!(counts(tls), [4, 4, 4, 0, 0], "{tls:#}");
    assert_eq!(tls["cert_days_left"], 5, "{tls:#}");
    assert_eq!(
        tls["state"], "degraded",
        "certificate expires in 5 < 7 days: {tls:#}"
    );
}

#[test]
fn overlapping_probes_share_one_http2_connection() {
    let server = TestServer::start();
    // 300 ms answers every 100 ms: about three requests in flight at once.
    let config = format!(
        r#"
[[endpoint]]
name = "multiplexed"
url = "{url}"
http = "2"
interval = "100ms"
"#,
        url = server.url("/delay/300"),
    );
    let snapshot = headless_config(&config, &["--duration", "1s"]);
    let e = endpoint(&snapshot, "multiplexed");
    assert_eq!(count(e, "ok"), 10, "{e:#}");
    assert_eq!(counts(e), [0, 1, 0, 10, 10], "{e:#}");
    // The requests waited for the server, not for a connection.
    assert!(phase_p50(e, "ttfb") >= 300.0, "{e:#}");
}

#[test]
fn body_failures_keep_their_ttfb_and_handshake_timeouts_their_connect() {
    let server = TestServer::start();
    let silent = RawServer::start(b"", Then::Hold);
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "too-big"
url = "{big}"
max_body_bytes = 100

[[endpoint]]
name = "handshake-hangs"
url = "https://{silent}/"
timeout = "200ms"
"#,
        big = server.url("/bytes/100000"),
        silent = silent.addr(),
    );
    let snapshot = headless_config(&config, &["--duration", "1s"]);
    // Headers came, the body was refused: a TTFB but no transfer. (A connection left
    // with an unread body cannot carry the next request: one connection per probe.)
    let big = endpoint(&snapshot, "too-big");
    assert_eq!(big["errors"]["body"], 4, "{big:#}");
    assert_eq!(counts(big), [0, 4, 0, 4, 0], "{big:#}");
    // TCP connected, the handshake never finished: connect counted, TLS not.
    let hangs = endpoint(&snapshot, "handshake-hangs");
    assert_eq!(hangs["errors"]["timeout"], 4, "{hangs:#}");
    assert_eq!(counts(hangs), [0, 4, 0, 0, 0], "{hangs:#}");
}

#[test]
fn connections_cut_short_by_a_signal_are_not_counted() {
    let silent = RawServer::start(b"", Then::Hold);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[[endpoint]]\nname = \"hangs\"\nurl = \"https://{}/\"\ntimeout = \"1h\"\n",
        silent.addr()
    );
    write_config(dir.path(), &config);
    let output = headless_until_sigterm(dir.path(), Duration::from_millis(1500));
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hangs = endpoint(&snapshot, "hangs");
    // The probe was cancelled, so neither it nor its half-made connection counts.
    assert_eq!(count(hangs, "probes"), 0, "{hangs:#}");
    assert_eq!(counts(hangs), [0, 0, 0, 0, 0], "{hangs:#}");
}
