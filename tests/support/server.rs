//! A test HTTP server on 127.0.0.1:0 with routes whose behaviour the tests choose,
//! speaking HTTP/1.1 and HTTP/2 (h2c, or ALPN over TLS), on its own thread and runtime
//! so that the code under test never shares a scheduler with it.
//!
//! Routes: `/delay/{ms}` (200 after a sleep), `/status/{code}`, `/stall` (never
//! answers), `/bytes/{n}` (a body of n bytes), `/version` (the HTTP version used),
//! `/redirect/{n}` (n redirects, then 200), `/json` (a JSON body and an `X-Version`
//! header), `/echo-header/{name}` and `/echo-body` (what the request carried),
//! `/flip` (the status the test sets with [`TestServer::set_flip`], 200 at first),
//! `/hook` (200, keeping what was sent: [`TestServer::hooks`]), anything else
//! answers 200 `ok`.
//!
//! It counts the connections it accepts and the requests it answers, and can wait a
//! fixed time before every answer ([`ServerOptions::delay`]): what the benches need of
//! their target.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// A self-signed certificate for 127.0.0.1 and localhost.
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

impl TestCert {
    /// Generates a fresh certificate.
    pub fn generate() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("generating a certificate");
        TestCert {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        }
    }

    /// A self-signed certificate for `names`, valid from an hour ago for `valid_for`
    /// from now.
    pub fn generate_for(names: &[&str], valid_for: Duration) -> Self {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("certificate names");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + valid_for;
        let key = rcgen::KeyPair::generate().expect("generating a key");
        let cert = params.self_signed(&key).expect("signing a certificate");
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the certificate as `ca.pem` in `dir`, for a `ca_file` that trusts it.
    pub fn write_ca(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.cert_pem).expect("writing ca.pem");
        path
    }

    /// A fresh directory holding the certificate as `ca.pem` ([`TestCert::write_ca`]),
    /// for a config beside it to trust it with `ca_file = "ca.pem"`.
    pub fn trusted_dir(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        self.write_ca(dir.path());
        dir
    }

    /// A TLS acceptor presenting this certificate, offering h2 and http/1.1.
    pub fn acceptor(&self) -> TlsAcceptor {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate PEM");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .expect("key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

/// How a test server behaves beyond its routes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {
    /// Waited before every answer, whatever the route (on top of `/delay/{ms}`): a
    /// slower target for every path, as the engine benchmark asks for.
    pub delay: Duration,
}

/// What the server has done so far, and what the test set for `/flip`.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    /// `/flip`'s status; 0 stands for 200.
    flip: std::sync::atomic::AtomicU16,
    /// What `/hook` received.
    hooks: std::sync::Mutex<Vec<Hook>>,
}

/// One request `/hook` received.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its method.
    pub method: String,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: String,
}

/// A running test server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// A plain HTTP server (HTTP/1.1 and h2c).
    pub fn start() -> Self {
        Self::spawn(None, ServerOptions::default())
    }

    /// A plain HTTP server with `options`.
    pub fn start_with(options: ServerOptions) -> Self {
        Self::spawn(None, options)
    }

    /// An HTTPS server presenting `cert` (HTTP/1.1 and HTTP/2 by ALPN).
    pub fn start_tls(cert: &TestCert) -> Self {
        Self::spawn(Some(cert.acceptor()), ServerOptions::default())
    }

    fn spawn(tls: Option<TlsAcceptor>, options: ServerOptions) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel();
        let is_tls = tls.is_some();
        let counters = Arc::new(Counters::default());
        let serving = counters.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = stopped => {}
                    () = accept_loop(listener, tls, options, serving) => {}
                }
            });
            // Dropping the runtime cancels every connection, stalled ones included.
        });
        TestServer {
            addr,
            tls: is_tls,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The URL of `path` on this server by the name `localhost`, so that probes
    /// resolve a name (from /etc/hosts: nothing leaves the machine).
    pub fn url_by_name(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://localhost:{}{path}", self.addr.port())
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// Requests received so far (each is answered, unless the server stops first).
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    /// Makes `/flip` answer `status` from now on.
    pub fn set_flip(&self, status: u16) {
        self.counters.flip.store(status, Ordering::Relaxed);
    }

    /// What `/hook` received so far, in order.
    pub fn hooks(&self) -> Vec<Hook> {
        self.counters
            .hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until the server stops, one task each.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    options: ServerOptions,
    counters: Arc<Counters>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors and the like is transient (the probes report it); a
            // pause keeps the loop from spinning meanwhile.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        // Small answers go out at once, never held back by Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let counters = counters.clone();
        tokio::spawn(serve_connection(stream, tls.clone(), move |request| {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            handle(request, options.delay, counters.clone())
        }));
    }
}

/// Serves one accepted connection, HTTP/1.1 or HTTP/2 as the client speaks, over TLS
/// when `tls` is given, answering each request with `answer`. Errors end that one
/// connection of a test server (a client that rejects the certificate aborts the
/// handshake): nothing to report.
pub async fn serve_connection<A, F>(
    stream: tokio::net::TcpStream,
    tls: Option<TlsAcceptor>,
    answer: A,
) where
    A: Fn(Request<Incoming>) -> F + Send + 'static,
    F: std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let service = hyper::service::service_fn(answer);
    match tls {
        None => {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    delay: Duration,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let path = request.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("");
    let arg = parts.next().unwrap_or("");
    let reply = |status: u16, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
        Ok(response)
    };
    match route {
        "delay" => {
            let ms: u64 = arg.parse().unwrap_or(0);
            // No timer at all for 0 ms: even a zero sleep waits for the timer's next
            // millisecond tick.
            if ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            reply(200, Bytes::from_static(b"ok"))
        }
        "status" => reply(arg.parse().unwrap_or(500), Bytes::from_static(b"status")),
        "flip" => match counters.flip.load(Ordering::Relaxed) {
            0 => reply(200, Bytes::from_static(b"ok")),
            status => reply(status, Bytes::from_static(b"flipped")),
        },
        "hook" => {
            use http_body_util::BodyExt;
            let method = request.method().to_string();
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = request
                .into_body()
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            counters
                .hooks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Hook {
                    method,
                    headers,
                    body,
                });
            reply(200, Bytes::from_static(b"thanks"))
        }
        "stall" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            reply(200, Bytes::from_static(b"late"))
        }
        "bytes" => {
            let n: usize = arg.parse().unwrap_or(0);
            reply(200, Bytes::from(vec![b'x'; n]))
        }
        "version" => reply(200, Bytes::from(format!("{:?}", request.version()))),
        "echo-header" => {
            let value = request
                .headers()
                .get(arg)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            reply(200, Bytes::from(value))
        }
        "echo-body" => {
            use http_body_util::BodyExt;
            let body = request
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            reply(200, body)
        }
        "json" => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                br#"{"status":"ok","count":3,"items":[{"id":7}]}"#,
            )));
            let headers = response.headers_mut();
            headers.insert(
                hyper::header::CONTENT_TYPE,
                "application/json".parse().unwrap(),
            );
            headers.insert("x-version", "1.2.3".parse().unwrap());
            Ok(response)
        }
        "redirect" => match arg.parse::<u32>() {
            Ok(n) if n > 0 => {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::FOUND;
                let next = format!("/redirect/{}", n - 1);
                response.headers_mut().insert(
                    hyper::header::LOCATION,
                    next.parse().expect("valid location"),
                );
                Ok(response)
            }
            _ => reply(200, Bytes::from_static(b"arrived")),
        },
        _ => reply(200, Bytes::from_static(b"ok")),
    }
}
