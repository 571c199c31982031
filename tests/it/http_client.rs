//! probetop's own HTTP client (hyper's connection-level API and a pool of its own)
//! against real servers: connections kept and reused, `connection = "fresh"`, the
//! HTTP version negotiated over TLS or known beforehand, the phases of each new
//! connection recorded once, and a keep-alive connection the server closed while it
//! was idle replaced, not counted as the target's failure.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{
    TestCert, TestServer, count, endpoint, headless, headless_config, headless_with, phase_count,
    write_config,
};

/// An HTTP/1.1 server that keeps each connection alive (no `Connection: close`)
/// but closes it once it has been idle for `idle`, as nginx's `keepalive_timeout`
/// does; it counts the connections it accepted and the requests it answered.
struct ClosingServer {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClosingServer {
    fn start(idle: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, r, s) = (connections.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut served = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        let r = r.clone();
                        served.push(std::thread::spawn(move || serve(stream, idle, &r)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for thread in served {
                let _ = thread.join();
            }
        });
        ClosingServer {
            addr,
            connections,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Answers requests on `stream` until it has been idle for `idle`, then closes it.
fn serve(mut stream: std::net::TcpStream, idle: Duration, requests: &AtomicU64) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(idle)).is_err() {
        return;
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // At most 1,000 requests per connection: bounded whatever the client does.
    for _ in 0..1_000 {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                // Idle for too long (the read timed out), or the client left.
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.len() > 64 * 1024 {
                return;
            }
        }
        head.clear();
        requests.fetch_add(1, Ordering::Relaxed);
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(reply).is_err() {
            return;
        }
    }
}

impl Drop for ClosingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_keep_alive_connection_the_server_closed_while_idle_is_replaced_not_failed() {
    // Idle connections close after 100 ms; probes come every 400 ms, so every probe
    // finds its pooled connection closed by the server.
    let server = ClosingServer::start(Duration::from_millis(100));
    let snapshot = headless_config(
        &format!(
            r#"
[[endpoint]]
name = "closing"
url = "{}"
interval = "400ms"
http = "1.1"
"#,
            server.url()
        ),
        &["--duration", "2s"],
    );
    let e = endpoint(&snapshot, "closing");
    let probes = count(e, "probes");
    assert!(probes >= 4, "{e:#}");
    assert_eq!(count(e, "ok"), probes, "no probe may fail: {e:#}");
    // Each probe needed a new connection, and each new connection was timed once.
    let opened = server.connections.load(Ordering::Relaxed);
    assert_eq!(server.requests.load(Ordering::Relaxed), probes);
    assert_eq!(opened, probes, "{e:#}");
    assert_eq!(phase_count(e, "connect"), opened, "{e:#}");
}

#[test]
fn sequential_probes_share_one_connection_and_fresh_ones_open_one_each() {
    let reuse = TestServer::start();
    let fresh = TestServer::start();
    let cert = TestCert::generate();
    let tls = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let snapshot = headless_with(
        dir.path(),
        &format!(
            r#"
[defaults]
interval = "200ms"

[[endpoint]]
name = "reuse"
url = "{reuse}"
http = "1.1"

[[endpoint]]
name = "fresh"
url = "{fresh}"
http = "1.1"
connection = "fresh"

[[endpoint]]
name = "tls"
url = "{tls}"
ca_file = "ca.pem"
# Slower, so that even a slow first handshake on a loaded machine is over before the
# second probe (which would otherwise open a second connection, rightly).
interval = "500ms"
"#,
            reuse = reuse.url("/version"),
            fresh = fresh.url("/version"),
            tls = tls.url_by_name("/version"),
        ),
        &["--duration", "2s"],
    );

    let e = endpoint(&snapshot, "reuse");
    assert_eq!(count(e, "ok"), 10, "{e:#}");
    assert_eq!(reuse.requests(), 10);
    assert_eq!(
        reuse.connections(),
        1,
        "one connection for sequential probes"
    );
    assert_eq!(phase_count(e, "connect"), 1, "{e:#}");

    let e = endpoint(&snapshot, "fresh");
    assert_eq!(count(e, "ok"), 10, "{e:#}");
    assert_eq!(fresh.connections(), 10, "a connection per fresh probe");
    assert_eq!(phase_count(e, "connect"), 10, "{e:#}");

    let e = endpoint(&snapshot, "tls");
    assert_eq!(count(e, "ok"), 4, "{e:#}");
    assert_eq!(tls.connections(), 1);
    assert_eq!([phase_count(e, "connect"), phase_count(e, "tls")], [1, 1]);
    // The expiry is read from the connection, once, and reported with every response.
    assert!(e["cert_days_left"].as_i64().unwrap() > 365, "{e:#}");
}

#[test]
fn http2_is_spoken_when_negotiated_or_known_and_reported_so() {
    let cert = TestCert::generate();
    let alpn = TestServer::start_tls(&cert);
    let alpn_h1 = TestServer::start_tls(&cert);
    let h2c = TestServer::start();
    let plain = TestServer::start();
    let dir = cert.trusted_dir();
    write_config(
        dir.path(),
        &format!(
            r#"
[defaults]
interval = "300ms"

[[endpoint]]
name = "alpn"
url = "{alpn}"
ca_file = "ca.pem"
expect.body_contains = "HTTP/2.0"

[[endpoint]]
name = "alpn-h1"
url = "{alpn_h1}"
ca_file = "ca.pem"
http = "1.1"
expect.body_contains = "HTTP/1.1"

[[endpoint]]
name = "h2c"
url = "{h2c}"
http = "2"
expect.body_contains = "HTTP/2.0"

[[endpoint]]
name = "plain"
url = "{plain}"
expect.body_contains = "HTTP/1.1"
"#,
            alpn = alpn.url_by_name("/version"),
            alpn_h1 = alpn_h1.url_by_name("/version"),
            h2c = h2c.url("/version"),
            plain = plain.url("/version"),
        ),
    );
    let started = Instant::now();
    let snapshot = headless(dir.path(), &["--duration", "1500ms"]);
    assert!(started.elapsed() < Duration::from_secs(60));
    for (name, version, server) in [
        ("alpn", "HTTP/2", &alpn),
        ("alpn-h1", "HTTP/1.1", &alpn_h1),
        ("h2c", "HTTP/2", &h2c),
        ("plain", "HTTP/1.1", &plain),
    ] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "ok"), 5, "{e:#}");
        assert_eq!(e["last_response"]["http_version"], version, "{e:#}");
        // The server saw that version too (`/version` answers with it: the probes
        // expect it in the body), over one connection.
        assert_eq!(server.connections(), 1, "{name}");
        assert_eq!(server.requests(), 5, "{name}");
    }
}

#[test]
fn credentials_in_the_url_go_as_basic_authorization_never_in_the_request_line() {
    let server = TestServer::start();
    let url = server
        .url("/echo-header/authorization")
        .replace("http://", "http://ann:p%40ss@");
    // base64("ann:p@ss")
    let expected = "Basic YW5uOnBAc3M=";
    let snapshot = headless_config(
        &format!(
            r#"
[[endpoint]]
name = "userinfo"
url = "{url}"
interval = "200ms"
expect.body_contains = "{expected}"
"#
        ),
        &["--duration", "600ms"],
    );
    let e = endpoint(&snapshot, "userinfo");
    assert!(count(e, "probes") >= 2, "{e:#}");
    assert_eq!(count(e, "ok"), count(e, "probes"), "{e:#}");
}
