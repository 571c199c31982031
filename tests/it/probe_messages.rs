//! Failure messages a person reads: each kind of failure in words, with no library
//! wrapper (`client error (Connect)`, `(os error 111)`, `error sending request for
//! url`), one class per kind whatever the scheme. The real prober, in-process, against
//! servers on 127.0.0.1; the real binary for config errors.

use crate::support;

use std::io::Read as _;
use std::net::TcpListener;
use std::time::Duration;

use probetop::config::{Endpoint, HttpVersion, TlsRoots};
use probetop::probe::{ClientPool, ErrorClass, ProbeOutcome, Prober, discard_connections};
use support::{RawServer, TestServer, Then, probetop, run, write_config};

/// Texts of the libraries beneath that no message may carry.
const WRAPPERS: [&str; 6] = [
    "client error",
    "error sending request",
    "os error",
    "Other(",
    "hyper",
    "operation was canceled",
];

async fn probe(url: &str, setup: impl FnOnce(&mut Endpoint)) -> ProbeOutcome {
    let mut endpoint = Endpoint::new(
        "e",
        url.parse().unwrap(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    endpoint.tls_roots = TlsRoots::Webpki;
    setup(&mut endpoint);
    let prober = Prober::new(&endpoint, &mut ClientPool::default(), discard_connections())
        .expect("a prober");
    prober.probe().await
}

/// Asserts a failure of `class` whose message says `needle` and no wrapper.
fn assert_says(outcome: &ProbeOutcome, class: ErrorClass, needle: &str) {
    let error = outcome.error.as_ref().expect("a failure");

    assert_eq!(error.class, class, "{error:?}");
    assert!(
        error.message.contains(needle),
        "{needle:?} not in {:?}",
        error.message
    );
    for wrapper in WRAPPERS {
        assert!(
            !error.message.contains(wrapper),
            "{wrapper:?} in {:?}",
            error.message
        );
    }
}

/// A port nothing listens on (bound a moment ago, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_refused_connection_says_so_for_every_scheme() {
    let port = closed_port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("tcp://127.0.0.1:{port}"),
        format!("tls://127.0.0.1:{port}"),
    ] {
        let outcome = probe(&url, |_| {}).await;
        assert_says(&outcome, ErrorClass::Connect, "connection refused");
    }
}

/// A server that accepts, reads the first bytes (a ClientHello) and closes: a TLS
/// handshake that breaks off. Serves `connections` connections, then ends.
fn closing_server(connections: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            // The whole ClientHello record is read, so that closing sends a FIN (a
            // close with unread bytes would be a reset).
            let mut header = [0u8; 5];
            if stream.read_exact(&mut header).is_ok() {
                let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
                let mut record = vec![0u8; length];
                let _ = stream.read_exact(&mut record);
            }
            // Dropped: closed mid-handshake.
        }
    });
    (port, thread)
}

#[tokio::test]
async fn a_handshake_that_breaks_off_is_tls_for_https_and_tls_alike() {
    let (port, server) = closing_server(2);
    for url in [
        format!("https://127.0.0.1:{port}/"),
        format!("tls://127.0.0.1:{port}"),
    ] {
        let outcome = probe(&url, |_| {}).await;
        assert_says(
            &outcome,
            ErrorClass::Tls,
            "the server closed the connection during the TLS handshake",
        );
    }
    server.join().unwrap();
}

#[tokio::test]
async fn tls_to_a_plain_http_server_says_it_is_not_tls() {
    let server = TestServer::start();
    let port = server.addr().port();
    let outcome = probe(&format!("https://127.0.0.1:{port}/"), |_| {}).await;
    assert_says(
        &outcome,
        ErrorClass::Tls,
        "did not answer like a TLS server",
    );
}

#[tokio::test]
async fn http2_prior_knowledge_to_an_http1_server_says_so() {
    // What an HTTP/1.1-only server (python3 -m http.server) does with HTTP/2's
    // preface: answers 400 and closes.
    let server = RawServer::start(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Then::Close,
    );
    let outcome = probe(&server.url("/"), |e| e.http = Some(HttpVersion::Http2)).await;
    assert_says(&outcome, ErrorClass::Other, "does not speak HTTP/2");
    assert_says(&outcome, ErrorClass::Other, "http = \"1.1\"");
    // One that closes without a word (hyper: `operation was canceled: connection
    // closed`).
    let silent = RawServer::start(b"", Then::Close);
    let outcome = probe(&silent.url("/"), |e| e.http = Some(HttpVersion::Http2)).await;
    assert_says(&outcome, ErrorClass::Other, "does not speak HTTP/2");
    // Negotiated, the same server is understood: it answers its 400.
    let outcome = probe(&server.url("/"), |_| {}).await;
    assert_eq!(outcome.status, Some(400), "{outcome:?}");
}

#[tokio::test]
async fn an_unexpected_status_is_one_sentence() {
    let server = TestServer::start();
    let outcome = probe(&server.url("/status/503"), |_| {}).await;
    let error = outcome.error.expect("a failure");
    assert_eq!(error.class, ErrorClass::Status);
    assert_eq!(
        error.message,
        "the server answered status 503 Service Unavailable, expected 2xx or 3xx"
    );
}

#[test]
fn a_url_without_a_scheme_suggests_http() {
    let dir = tempfile::tempdir().unwrap();
    // On the command line.
    for url in ["example.com/x", "localhost:8080/health"] {
        let output = run(
            probetop(dir.path()).args(["--check", url]),
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("http://{url}")), "{stderr}");
        assert!(!stderr.contains("relative URL"), "{stderr}");
    }
    // In a config file, with its location.
    write_config(dir.path(), "[[endpoint]]\nurl = \"example.com/x\"\n");
    let output = run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("http://example.com/x"), "{stderr}");
    assert!(stderr.contains("endpoint[0].url"), "{stderr}");
    assert!(stderr.contains(":2:"), "line 2: {stderr}");
}
