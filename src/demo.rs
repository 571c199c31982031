//! The built-in demo target: a loopback HTTP server whose routes behave differently
//! (also over TLS, with a certificate generated at start), and the endpoints that
//! watch it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Endpoint, Expect};

/// How long the demo's certificate is valid: under the demo endpoint's
/// `min_cert_days`, so that the certificate check shows.
const DEMO_CERT_DAYS: u64 = 10;
/// The demo TLS endpoint's `min_cert_days`.
const DEMO_MIN_CERT_DAYS: u32 = 14;

/// The running demo server.
pub struct DemoServer {
    addr: SocketAddr,
    tls_addr: SocketAddr,
    /// The demo certificate as a PEM file, which the TLS endpoint trusts (`ca_file`).
    ca_file: tempfile::TempPath,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// A self-signed certificate for `localhost`, valid for [`DEMO_CERT_DAYS`] (and an
/// hour more, so the days left read as that number), with its TLS acceptor.
fn demo_certificate() -> anyhow::Result<(String, tokio_rustls::TlsAcceptor)> {
    use anyhow::Context as _;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .context("demo certificate name")?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - Duration::from_secs(3600);
    params.not_after = now + Duration::from_secs(DEMO_CERT_DAYS * 86_400 + 3600);
    let key = rcgen::KeyPair::generate().context("demo certificate key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the demo certificate")?;
    let private_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| anyhow::anyhow!("demo certificate key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("demo TLS versions")?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], private_key)
        .context("demo TLS configuration")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((
        cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    ))
}

impl DemoServer {
    /// Binds 127.0.0.1 on two ephemeral ports (plain and TLS) and starts serving.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let tls_listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let tls_addr = tls_listener.local_addr()?;
        // Key generation and a file write: off the runtime's threads.
        let (ca_file, acceptor) = tokio::task::spawn_blocking(|| {
            let (pem, acceptor) = demo_certificate()?;
            let mut file = tempfile::Builder::new()
                .prefix("probetop-demo-ca-")
                .suffix(".pem")
                .tempfile()?;
            std::io::Write::write_all(&mut file, pem.as_bytes())?;
            anyhow::Ok((file.into_temp_path(), acceptor))
        })
        .await??;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let handler: crate::serve::Handler = Arc::new(|request| Box::pin(handle(request)));
        tasks.spawn(crate::serve::accept_loop(
            listener,
            handler.clone(),
            None,
            cancel.clone(),
            tasks.clone(),
        ));
        tasks.spawn(crate::serve::accept_loop(
            tls_listener,
            handler,
            Some(acceptor),
            cancel.clone(),
            tasks.clone(),
        ));
        Ok(DemoServer {
            addr,
            tls_addr,
            ca_file,
            cancel,
            tasks,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoints that watch the demo routes.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let route = |name: &str, path: &str, interval_ms: u64, timeout_ms: u64, expect: Expect| {
            let interval = Duration::from_millis(interval_ms);
            let timeout = Duration::from_millis(timeout_ms);
            let url = format!("http://{}{path}", self.addr);
            let mut endpoint = Endpoint::new(
                name,
                url.parse()
                    .expect("a loopback address and a fixed path make a valid URL"),
                interval,
                timeout,
            );
            endpoint.expect = expect;
            endpoint
        };
        let slow_expect = Expect {
            max_latency: Some(Duration::from_millis(200)),
            ..Expect::default()
        };
        // By name, on a new connection every time: every probe shows its DNS lookup
        // (from /etc/hosts) and TCP connect in the phase breakdown.
        let mut fresh = route("demo-fresh", "/jitter", 1_000, 2_000, Expect::default());
        fresh.url = format!("http://localhost:{}/jitter", self.addr.port())
            .parse()
            .expect("localhost and a port make a valid URL");
        fresh.url_as_written = fresh.url.to_string();
        fresh.connection = crate::config::ConnectionMode::Fresh;
        let mut tcp = route("demo-tcp", "", 1_000, 1_000, Expect::default());
        tcp.url = format!("tcp://{}", self.addr)
            .parse()
            .expect("an address makes a valid tcp:// URL");
        tcp.url_as_written = tcp.url.to_string();
        // Over TLS by name, trusting the demo certificate, which expires in fewer days
        // than this endpoint wants: degraded, and the detail view says why.
        let mut tls = route(
            "demo-tls",
            "/fast",
            1_000,
            2_000,
            Expect {
                min_cert_days: Some(DEMO_MIN_CERT_DAYS),
                ..Expect::default()
            },
        );
        tls.url = format!("https://localhost:{}/fast", self.tls_addr.port())
            .parse()
            .expect("localhost and a port make a valid URL");
        tls.url_as_written = tls.url.to_string();
        tls.ca_file = Some(self.ca_file.to_path_buf());
        vec![
            route("demo-fast", "/fast", 500, 2_000, Expect::default()),
            route("demo-slow", "/slow", 1_000, 2_000, slow_expect),
            route("demo-jitter", "/jitter", 500, 2_000, Expect::default()),
            route("demo-flaky", "/flaky", 1_000, 2_000, Expect::default()),
            route("demo-stall", "/stall", 1_000, 1_000, Expect::default()),
            fresh,
            tcp,
            tls,
        ]
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn handle(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        response
    };
    let sleep_ms = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    match request.uri().path() {
        "/fast" => reply(StatusCode::OK, "fast\n"),
        "/slow" => {
            // 150–250 ms: over the 200 ms expectation about half the time.
            sleep_ms(150 + fastrand::u64(0..=100)).await;
            reply(StatusCode::OK, "slow\n")
        }
        "/jitter" => {
            // Mostly 5–40 ms, with a long tail up to 300 ms.
            let ms = if fastrand::u8(0..10) == 0 {
                fastrand::u64(40..=300)
            } else {
                fastrand::u64(5..=40)
            };
            sleep_ms(ms).await;
            reply(StatusCode::OK, "jitter\n")
        }
        "/flaky" => {
            sleep_ms(fastrand::u64(10..=30)).await;
            if fastrand::u8(0..100) < 15 {
                reply(StatusCode::INTERNAL_SERVER_ERROR, "flaky\n")
            } else {
                reply(StatusCode::OK, "flaky\n")
            }
        }
        "/stall" => {
            // One in eight stalls well past the endpoint's 1 s timeout.
            if fastrand::u8(0..8) == 0 {
                sleep_ms(30_000).await;
            } else {
                sleep_ms(fastrand::u64(20..=60)).await;
            }
            reply(StatusCode::OK, "stall\n")
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "routes: /fast /slow /jitter /flaky /stall\n",
        ),
    }
}
