//! Each kind of failure is classified into its snapshot error class, and TLS trust
//! follows `ca_file` and `insecure`. Real servers on 127.0.0.1, the real binary.

use crate::support;

use support::{
    RawServer, TestCert, TestServer, Then, count, endpoint, headless_config, headless_endpoint,
    headless_with, write_config,
};

/// The snapshot entry of `url` probed for a second every 500 ms with a 300 ms timeout:
/// two probes, each over before the next.
fn timing_out(url: &str) -> serde_json::Value {
    headless_endpoint(&["-i", "500ms", "-t", "300ms", "--duration", "1s", url])
}

#[test]
fn never_answering_server_times_out_at_the_timeout() {
    let server = TestServer::start();
    let started = std::time::Instant::now();
    let e = &timing_out(&server.url("/stall"));
    assert_eq!(count(e, "probes"), 2, "{e:#}");
    assert_eq!(e["errors"]["timeout"], 2, "{e:#}");
    assert_eq!(e["state"], "down");
    assert!(e["latency_ms"].is_null(), "no response, no latency: {e:#}");
    // Ticks at 0 and 500 ms, each timing out 300 ms later: the run ends at its 1 s
    // duration, not at some client default.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn refused_connection_is_a_connect_error() {
    // Bind, note the port, and close it again: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let e = &headless_endpoint(&["-i", "200ms", "--duration", "1s", &url]);
    assert_eq!(e["errors"]["connect"], count(e, "probes"), "{e:#}");
    assert_eq!(count(e, "probes"), 5, "{e:#}");
    assert_eq!(e["state"], "down");
}

#[test]
fn unexpected_status_is_a_status_error_with_latency() {
    let server = TestServer::start();
    let e = &headless_endpoint(&[
        "-i",
        "200ms",
        "--duration",
        "1s",
        &server.url("/status/503"),
    ]);
    assert_eq!(count(e, "probes"), 5, "{e:#}");
    assert_eq!(e["errors"]["status"], 5, "{e:#}");
    assert_eq!(e["status_codes"]["503"], 5, "{e:#}");
    assert_eq!(count(e, "failed"), 5);
    // A complete response was received, so its latency counts.
    assert!(e["latency_ms"]["p50"].as_f64().is_some(), "{e:#}");
}

#[test]
fn expected_status_and_body_conditions_apply() {
    let server = TestServer::start();
    let config = format!(
        r#"
[defaults]
interval = "200ms"

[[endpoint]]
name = "teapot-expected"
url = "{teapot}"
[endpoint.expect]
status = [418]

[[endpoint]]
name = "body-missing"
url = "{ok}"
[endpoint.expect]
body_contains = "healthy"

[[endpoint]]
name = "too-big"
url = "{big}"
max_body_bytes = 1000
"#,
        teapot = server.url("/status/418"),
        ok = server.url("/"),
        big = server.url("/bytes/5000"),
    );
    let snapshot = headless_config(&config, &["--duration", "1s"]);
    let teapot = endpoint(&snapshot, "teapot-expected");
    assert_eq!(count(teapot, "ok"), 5, "{teapot:#}");
    assert_eq!(teapot["state"], "up");
    let body = endpoint(&snapshot, "body-missing");
    assert_eq!(body["errors"]["body"], 5, "{body:#}");
    let big = endpoint(&snapshot, "too-big");
    assert_eq!(big["errors"]["body"], 5, "{big:#}");
    assert!(
        big["latency_ms"].is_null(),
        "an unread body is no complete response"
    );
}

#[test]
fn self_signed_tls_fails_unless_trusted() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let url = server.url("/version");
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "untrusted"
url = "{url}"

[[endpoint]]
name = "ca-file"
url = "{url}"
ca_file = "ca.pem"

[[endpoint]]
name = "insecure"
url = "{url}"
insecure = true
"#
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "1s"]);
    let untrusted = endpoint(&snapshot, "untrusted");
    assert_eq!(untrusted["errors"]["tls"], 4, "{untrusted:#}");
    assert_eq!(untrusted["state"], "down");
    for name in ["ca-file", "insecure"] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "ok"), 4, "{e:#}");
        assert_eq!(e["status_codes"]["200"], 4, "{e:#}");
    }
}

#[test]
fn a_body_that_stalls_times_out_but_its_status_counts() {
    let server = RawServer::start(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it",
        Then::Hold,
    );
    let e = &timing_out(&server.url("/"));
    assert_eq!(e["errors"]["timeout"], 2, "{e:#}");
    assert_eq!(e["status_codes"]["200"], 2, "{e:#}");
    assert!(e["latency_ms"].is_null(), "{e:#}");
}

/// The snapshot entry of a second's probes, every 250 ms, of a server that answers
/// `reply` and closes the connection.
fn replying_then_closing(reply: &'static [u8]) -> serde_json::Value {
    let server = RawServer::start(reply, Then::Close);
    headless_endpoint(&["-i", "250ms", "--duration", "1s", &server.url("/")])
}

#[test]
fn a_body_that_breaks_off_is_a_body_error() {
    let e = &replying_then_closing(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes.");
    assert_eq!(e["errors"]["body"], 4, "{e:#}");
    assert!(e["latency_ms"].is_null(), "{e:#}");
}

#[test]
fn garbage_instead_of_http_is_a_failure_not_a_crash() {
    let e = &replying_then_closing(b"\x1b[2J\x1b]0;pwned\x07NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(count(e, "failed"), 4, "{e:#}");
    assert_eq!(e["state"], "down");
}

#[test]
fn redirects_are_followed_up_to_ten() {
    let server = TestServer::start();
    let config = format!(
        "[defaults]\ninterval = \"250ms\"\n\n[[endpoint]]\nname = \"three\"\nurl = \"{}\"\n[endpoint.expect]\nbody_contains = \"arrived\"\n\n[[endpoint]]\nname = \"eleven\"\nurl = \"{}\"\n",
        server.url("/redirect/3"),
        server.url("/redirect/11"),
    );
    let snapshot = headless_config(&config, &["--duration", "1s"]);
    let three = endpoint(&snapshot, "three");
    assert_eq!(count(three, "ok"), 4, "{three:#}");
    // The final response is what counts, not the redirects on the way.
    assert_eq!(three["status_codes"]["200"], 4, "{three:#}");
    let eleven = endpoint(&snapshot, "eleven");
    assert_eq!(eleven["errors"]["redirect"], 4, "{eleven:#}");
}

#[test]
fn request_control_keys_shape_the_request() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("payload.json"), r#"{"from":"file"}"#).unwrap();
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "bearer"
url = "{auth}"
bearer_token = "${{PROBETOP_TEST_TOKEN}}"
[endpoint.expect]
body_contains = "Bearer s3cret"

[[endpoint]]
name = "basic"
url = "{auth}"
basic_auth = {{ username = "ann", password = "pw" }}
[endpoint.expect]
body_contains = "Basic YW5uOnB3"

[[endpoint]]
name = "agent"
url = "{agent}"
user_agent = "probe/9"
[endpoint.expect]
body_contains = "probe/9"

[[endpoint]]
name = "body-file"
url = "{body}"
method = "POST"
body_file = "payload.json"
[endpoint.expect]
body_contains = "from"

[[endpoint]]
name = "h2c"
url = "{version}"
http = "2"
[endpoint.expect]
body_contains = "HTTP/2.0"

[[endpoint]]
name = "h1"
url = "{version}"
http = "1.1"
[endpoint.expect]
body_contains = "HTTP/1.1"

[[endpoint]]
name = "no-redirects"
url = "{redirect}"
follow_redirects = false
"#,
        auth = server.url("/echo-header/authorization"),
        agent = server.url("/echo-header/user-agent"),
        body = server.url("/echo-body"),
        version = server.url("/version"),
        redirect = server.url("/redirect/1"),
    );
    write_config(dir.path(), &config);
    let output = support::run(
        support::probetop(dir.path())
            .env("PROBETOP_TEST_TOKEN", "s3cret")
            .args(["--headless", "--duration", "1s"]),
        std::time::Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for name in ["bearer", "basic", "agent", "body-file", "h2c", "h1"] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "ok"), 4, "{name}: {e:#}");
    }
    // Not followed: the 302 itself is the response (3xx is accepted by default).
    let e = endpoint(&snapshot, "no-redirects");
    assert_eq!(e["status_codes"]["302"], 4, "{e:#}");
}
