//! Trusting certificates as curl does, and saying why one is refused: a self-signed
//! certificate marked CA (what `openssl req -x509` makes) trusted through `ca_file`
//! with its host name and dates still checked, a `ca_file` of several certificates,
//! `tls_roots`, and `--check` warning about a `ca_file` that will verify nothing.
//! Real TLS servers on 127.0.0.1 with certificates made by rcgen.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use probetop::config::{Endpoint, TlsRoots};
use probetop::probe::{ClientPool, ErrorClass, ProbeOutcome, Prober, discard_connections};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use support::{TestCert, TestServer, count, endpoint, headless_with, probetop, run, write_config};

/// Certificate parameters for `names`, named `common_name`, valid from an hour ago
/// for `valid_for` from now (or, when `expired`, until an hour ago).
fn params(names: &[&str], common_name: &str, expired: bool) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let now = time::OffsetDateTime::now_utc();
    if expired {
        params.not_before = now - Duration::from_secs(30 * 86_400);
        params.not_after = now - Duration::from_secs(3600);
    } else {
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + Duration::from_secs(30 * 86_400);
    }
    params
}

/// What `openssl req -x509 -subj /CN=… -addext subjectAltName=…` makes: self-signed,
/// with `CA:TRUE`.
fn openssl_style(names: &[&str], expired: bool) -> TestCert {
    let mut params = params(names, names[0], expired);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A CA named `ca_name` and a server certificate for `names` that it signed: the CA's
/// PEM, and the server's certificate (its PEM holds the server certificate only).
fn issued(ca_name: &str, names: &[&str]) -> (String, TestCert) {
    let mut ca_params = params(&[], ca_name, false);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = params(names, names[0], false).signed_by(&key, &ca).unwrap();
    (
        ca.pem(),
        TestCert {
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Probes `url` once in-process, `ca_file` trusted, with the Mozilla roots only (so
/// that nothing depends on the machine's store).
async fn probe_once(url: &str, ca_file: Option<&Path>) -> ProbeOutcome {
    let mut endpoint = Endpoint::new(
        "tls",
        url.parse().unwrap(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    endpoint.ca_file = ca_file.map(Path::to_path_buf);
    endpoint.tls_roots = TlsRoots::Webpki;
    let prober = Prober::new(&endpoint, &mut ClientPool::default(), discard_connections())
        .expect("a prober");
    prober.probe().await
}

/// Asserts a `tls` failure whose message says every one of `needles` and none of the
/// libraries' wrappers.
fn assert_tls_failure(outcome: &ProbeOutcome, needles: &[&str]) {
    let error = outcome.error.as_ref().expect("a failure");
    assert_eq!(error.class, ErrorClass::Tls, "{error:?}");
    for needle in needles {
        assert!(
            error.message.contains(needle),
            "{needle:?} not in {:?}",
            error.message
        );
    }
    for wrapper in [
        "Other(",
        "OtherError",
        "client error",
        "error sending request",
    ] {
        assert!(!error.message.contains(wrapper), "{:?}", error.message);
    }
}

#[test]
fn a_self_signed_ca_certificate_in_ca_file_is_trusted_by_its_names() {
    let cert = openssl_style(&["localhost", "127.0.0.1"], false);
    let server = TestServer::start_tls(&cert);
    let dir = cert.trusted_dir();
    let config = format!(
        r#"
[defaults]
interval = "250ms"
tls_roots = "webpki"

[[endpoint]]
name = "by-address"
url = "{by_address}"
ca_file = "ca.pem"

[[endpoint]]
name = "by-name"
url = "{by_name}"
ca_file = "ca.pem"

[[endpoint]]
name = "tls-by-name"
url = "tls://localhost:{port}"
ca_file = "ca.pem"

[[endpoint]]
name = "untrusted"
url = "{by_address}"
"#,
        by_address = server.url("/version"),
        by_name = server.url_by_name("/version"),
        port = server.addr().port(),
    );
    let snapshot = headless_with(dir.path(), &config, &["--duration", "1s"]);
    for name in ["by-address", "by-name", "tls-by-name"] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "ok"), 4, "{e:#}");
        assert_eq!(e["state"], "up", "{e:#}");
    }
    let untrusted = endpoint(&snapshot, "untrusted");
    assert_eq!(untrusted["errors"]["tls"], 4, "{untrusted:#}");
}

#[tokio::test]
async fn a_ca_file_certificate_is_still_checked_for_the_host_name() {
    // Valid for localhost only, asked for as 127.0.0.1.
    let cert = openssl_style(&["localhost"], false);
    let server = TestServer::start_tls(&cert);
    let dir = tempfile::tempdir().unwrap();
    let ca = cert.write_ca(dir.path());
    let port = server.addr().port();
    let expected = ["the certificate is valid for localhost, not 127.0.0.1"];
    let https = probe_once(&server.url("/"), Some(&ca)).await;
    assert_tls_failure(&https, &expected);
    let tls = probe_once(&format!("tls://127.0.0.1:{port}"), Some(&ca)).await;
    assert_tls_failure(&tls, &expected);
    // By the name it carries, the same certificate is trusted.
    let by_name = probe_once(&server.url_by_name("/"), Some(&ca)).await;
    assert!(by_name.is_ok(), "{by_name:?}");
}

#[tokio::test]
async fn an_expired_ca_file_certificate_is_refused_with_its_date() {
    let cert = openssl_style(&["localhost", "127.0.0.1"], true);
    let server = TestServer::start_tls(&cert);
    let dir = tempfile::tempdir().unwrap();
    let ca = cert.write_ca(dir.path());
    let outcome = probe_once(&server.url("/"), Some(&ca)).await;
    let yesterday_or_today = time::OffsetDateTime::now_utc() - Duration::from_secs(3600);
    let date = format!(
        "{:04}-{:02}-{:02}",
        yesterday_or_today.year(),
        u8::from(yesterday_or_today.month()),
        yesterday_or_today.day()
    );
    assert_tls_failure(&outcome, &["the certificate expired on", &date, "UTC"]);
}

#[tokio::test]
async fn a_ca_certificate_not_in_ca_file_is_named_as_such() {
    let cert = openssl_style(&["localhost", "127.0.0.1"], false);
    let server = TestServer::start_tls(&cert);
    let outcome = probe_once(&server.url("/"), None).await;
    assert_tls_failure(
        &outcome,
        &[
            "a CA certificate as its own",
            "CN=localhost",
            "self-signed",
            "ca_file",
        ],
    );
}

#[tokio::test]
async fn an_unknown_issuer_is_named() {
    let (_, cert) = issued("probetop test authority", &["localhost", "127.0.0.1"]);
    let server = TestServer::start_tls(&cert);
    let outcome = probe_once(&server.url("/"), None).await;
    assert_tls_failure(
        &outcome,
        &[
            "issued by an unknown authority",
            "CN=probetop test authority",
        ],
    );
}

#[tokio::test]
async fn a_ca_file_of_several_certificates_trusts_each() {
    let (ca_pem, issued_cert) = issued("probetop test authority", &["localhost", "127.0.0.1"]);
    let own = openssl_style(&["localhost", "127.0.0.1"], false);
    let stale = openssl_style(&["localhost", "127.0.0.1"], true);
    let stranger = openssl_style(&["elsewhere.test"], false);
    let dir = tempfile::tempdir().unwrap();
    // An expired and an unrelated certificate first: neither spoils the others.
    let bundle = write(
        dir.path(),
        "bundle.pem",
        &format!(
            "{}{}{}{}",
            stale.cert_pem, stranger.cert_pem, ca_pem, own.cert_pem
        ),
    );
    let issued_server = TestServer::start_tls(&issued_cert);
    let own_server = TestServer::start_tls(&own);
    let stale_server = TestServer::start_tls(&stale);
    let by_ca = probe_once(&issued_server.url("/"), Some(&bundle)).await;
    assert!(
        by_ca.is_ok(),
        "a server certificate the CA signed: {by_ca:?}"
    );
    let by_itself = probe_once(&own_server.url("/"), Some(&bundle)).await;
    assert!(
        by_itself.is_ok(),
        "the server's own certificate: {by_itself:?}"
    );
    let stale = probe_once(&stale_server.url("/"), Some(&bundle)).await;
    assert_tls_failure(&stale, &["expired"]);
}

#[test]
fn tls_roots_chooses_the_system_store_or_mozillas() {
    // The system store is whatever SSL_CERT_FILE names (as OpenSSL reads it), so the
    // machine's own store plays no part.
    let (ca_pem, cert) = issued("probetop system authority", &["localhost", "127.0.0.1"]);
    let server = TestServer::start_tls(&cert);
    let dir = tempfile::tempdir().unwrap();
    let system = write(dir.path(), "system.pem", &ca_pem);
    let url = server.url("/version");
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "system"
url = "{url}"
tls_roots = "system"

[[endpoint]]
name = "default"
url = "{url}"

[[endpoint]]
name = "webpki"
url = "{url}"
tls_roots = "webpki"
"#
    );
    write_config(dir.path(), &config);
    let output = run(
        probetop(dir.path())
            .env("SSL_CERT_FILE", &system)
            .env_remove("SSL_CERT_DIR")
            .args(["--headless", "--duration", "1s"]),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for name in ["system", "default"] {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "ok"), 4, "{e:#}");
    }
    let webpki = endpoint(&snapshot, "webpki");
    assert_eq!(webpki["errors"]["tls"], 4, "{webpki:#}");
}

#[test]
fn check_warns_about_a_ca_file_that_verifies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Base64 that decodes, but not to a certificate.
    write(
        dir.path(),
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n",
    );
    write(
        dir.path(),
        "expired.pem",
        &openssl_style(&["localhost"], true).cert_pem,
    );
    write(
        dir.path(),
        "good.pem",
        &openssl_style(&["localhost"], false).cert_pem,
    );
    write_config(
        dir.path(),
        r#"
[[endpoint]]
name = "garbage"
url = "https://localhost:1/"
ca_file = "garbage.pem"

[[endpoint]]
name = "expired"
url = "tls://localhost:1"
ca_file = "expired.pem"

[[endpoint]]
name = "good"
url = "https://localhost:2/"
ca_file = "good.pem"
"#,
    );
    let output = run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "still a valid config: {stderr}");
    assert!(stdout.contains("OK, 3 endpoints"), "{stdout}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains("garbage.pem") && warnings[0].contains("not a certificate"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("expired.pem") && warnings[1].contains("expired on"),
        "{stderr}"
    );
    assert!(!stderr.contains("good.pem"), "{stderr}");
}

#[tokio::test]
async fn an_untrusted_self_signed_certificate_is_named_as_such() {
    // Not marked CA (rcgen's simple certificate), and in no ca_file.
    let cert = TestCert::generate();
    let server = TestServer::start_tls(&cert);
    let outcome = probe_once(&server.url("/"), None).await;
    assert_tls_failure(&outcome, &["self-signed", "not trusted", "ca_file"]);
}
