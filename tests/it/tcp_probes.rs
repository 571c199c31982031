//! `tcp://` and `tls://` probes against real listeners on 127.0.0.1: what each phase
//! cost, the certificate read from the handshake, and failures classified with a
//! message saying which phase failed. The real prober, in-process.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use probetop::config::Endpoint;
use probetop::probe::{ClientPool, ConnectionPhases, ErrorClass, ProbeOutcome, Prober};
use support::{RawServer, TestCert, TestServer, Then};

/// Probes `url` once; returns the outcome and the connections reported.
async fn probe(
    url: &str,
    setup: impl FnOnce(&mut Endpoint),
) -> (ProbeOutcome, Vec<ConnectionPhases>) {
    let mut endpoint = Endpoint::new(
        "tcp",
        url.parse().unwrap(),
        Duration::from_secs(1),
        Duration::from_millis(800),
    );
    setup(&mut endpoint);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = Arc::clone(&seen);
        Arc::new(move |record| seen.lock().unwrap().push(record))
    };
    let prober = Prober::new(&endpoint, &mut ClientPool::default(), sink).unwrap();
    let outcome = prober.probe().await;
    let records = seen.lock().unwrap().clone();
    (outcome, records)
}

fn ca_file(cert: &TestCert) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = cert.write_ca(dir.path());
    (dir, path)
}

#[tokio::test]
async fn tcp_measures_connect_and_dns_only_for_a_name() {
    let server = TestServer::start();
    let port = server.addr().port();

    let (outcome, records) = probe(&format!("tcp://127.0.0.1:{port}"), |_| {}).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(outcome.latency.is_some() && outcome.status.is_none());
    assert_eq!(outcome.ttfb, None, "a TCP probe sends no request");
    assert_eq!(records.len(), 1);
    let phases = records[0];
    assert!(
        phases.dns.is_none(),
        "an address needs no lookup: {phases:?}"
    );
    assert!(
        phases.connect.is_some() && phases.tls.is_none(),
        "{phases:?}"
    );
    assert!(phases.connect.unwrap() <= outcome.latency.unwrap());

    let (outcome, records) = probe(&format!("tcp://localhost:{port}"), |_| {}).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(records[0].dns.is_some(), "{records:?}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (outcome, records) = probe(&format!("tcp://127.0.0.1:{port}"), |_| {}).await;
    let error = outcome.error.expect("refused");
    assert_eq!(error.class, ErrorClass::Connect, "{error:?}");
    assert!(error.message.contains(&port.to_string()), "{error:?}");
    assert_eq!(records[0].connect, None, "the connect did not complete");
}

#[tokio::test]
async fn tls_adds_the_handshake_and_reads_the_certificate() {
    let cert = TestCert::generate_for(&["localhost"], Duration::from_secs(5 * 86_400 + 3_600));
    let server = TestServer::start_tls(&cert);
    let (_dir, ca) = ca_file(&cert);
    let url = format!("tls://localhost:{}", server.addr().port());
    let (outcome, records) = probe(&url, |e| e.ca_file = Some(ca.clone())).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    let record = records[0];
    assert!(record.dns.is_some() && record.connect.is_some());
    assert!(record.tls.is_some(), "{record:?}");
    let left = outcome
        .cert_not_after
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert_eq!(left.as_secs() / 86_400, 5, "{left:?}");

    // Untrusted: the same server fails the handshake, after DNS and connect.
    let (outcome, records) = probe(&url, |_| {}).await;
    let error = outcome.error.expect("untrusted");
    assert_eq!(error.class, ErrorClass::Tls, "{error:?}");
    assert!(error.message.contains("certificate"), "{error:?}");
    assert!(records[0].connect.is_some() && records[0].tls.is_none());
}

#[tokio::test]
async fn tls_names_a_certificate_for_another_host() {
    let cert = TestCert::generate_for(&["other.example"], Duration::from_secs(86_400 * 30));
    let server = TestServer::start_tls(&cert);
    let (_dir, ca) = ca_file(&cert);
    let url = format!("tls://localhost:{}", server.addr().port());
    let (outcome, _) = probe(&url, |e| e.ca_file = Some(ca.clone())).await;
    let error = outcome.error.expect("wrong host");
    assert_eq!(error.class, ErrorClass::Tls, "{error:?}");
    assert!(
        error
            .message
            .contains("the certificate is valid for other.example, not localhost"),
        "{error:?}"
    );
    // insecure accepts it and still reads its expiry.
    let (outcome, _) = probe(&url, |e| e.insecure = true).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(outcome.cert_not_after.is_some());
}

#[tokio::test]
async fn a_handshake_that_never_completes_times_out_naming_the_phase() {
    let silent = RawServer::start(b"", Then::Hold);
    let url = format!("tls://{}", silent.addr());
    let started = std::time::Instant::now();
    let (outcome, records) = probe(&url, |_| {}).await;
    let error = outcome.error.expect("timeout");
    assert_eq!(error.class, ErrorClass::Timeout, "{error:?}");
    assert!(error.message.contains("TLS handshake"), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(records[0].connect.is_some() && records[0].tls.is_none());
}

#[tokio::test]
async fn tls_to_a_plain_http_server_fails_the_handshake() {
    let server = TestServer::start();
    let url = format!("tls://{}", server.addr());
    let (outcome, _) = probe(&url, |_| {}).await;
    let error = outcome.error.expect("not TLS");
    assert_eq!(error.class, ErrorClass::Tls, "{error:?}");
}
