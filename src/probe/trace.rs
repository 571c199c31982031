//! Timing a new connection's phases underneath reqwest.
//!
//! reqwest runs its whole connector (resolve, TCP connect, TLS handshake) inside the
//! future of a connector layer. [`TraceLayer`] polls that future with a task-local
//! [`ConnectTrace`], which two hooks stamp as the connection is made:
//!
//! - [`TimedResolver`], reqwest's DNS resolver here, times the lookup;
//! - [`HandshakeClock`], the rustls session store, is consulted by rustls the moment
//!   it builds its ClientHello, which is right after the TCP connection is up.
//!
//! When the connector finishes, DNS, connect and TLS follow from those stamps, exactly,
//! without a second connection made beside reqwest's. The layer reports them to the
//! probe that asked for the connection (its [`ProbeScope`], another task-local, read
//! when the connector is called), and tells it the connection's local address, so the
//! probe can tell whether its response came over that new connection (its time to
//! first byte starts when the connection was ready) or over a reused one.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::client::ClientSessionStore;
use rustls::pki_types::ServerName;

use super::phase::{ConnectionPhases, ConnectionRecord, ConnectionSink};

tokio::task_local! {
    /// The connection being made by the connector future being polled.
    static CONNECTING: Arc<ConnectTrace>;
    /// The probe whose request is being sent.
    static PROBE: Arc<ProbeScope>;
}

/// Locks `mutex`, ignoring poisoning (the data are timestamps, valid whatever panicked).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Time stamps of one connection attempt.
#[derive(Debug)]
struct ConnectTrace {
    started: Instant,
    marks: Mutex<Marks>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    /// Start and end of the name lookup, when there was one and it succeeded.
    dns: Option<(Instant, Instant)>,
    /// When the TLS handshake started (the TCP connection was up).
    tls_started: Option<Instant>,
}

impl ConnectTrace {
    fn new() -> Self {
        ConnectTrace {
            started: Instant::now(),
            marks: Mutex::new(Marks::default()),
        }
    }

    /// The phases, given that the connector finished at `ready` (`None`: it failed
    /// or was dropped, so only the phases completed before count).
    fn phases(&self, ready: Option<Instant>) -> ConnectionPhases {
        let marks = *lock(&self.marks);
        let connect_started = marks.dns.map_or(self.started, |(_, end)| end);
        // TCP is up when TLS starts; without TLS, when the connector is done.
        let tcp_up = marks.tls_started.or(ready);
        ConnectionPhases {
            dns: marks.dns.map(|(start, end)| end - start),
            connect: tcp_up.map(|up| up.saturating_duration_since(connect_started)),
            tls: marks
                .tls_started
                .zip(ready)
                .map(|(start, end)| end.saturating_duration_since(start)),
        }
    }
}

/// Notes that the TLS handshake of the connection being made starts now.
fn mark_tls_started() {
    let now = Instant::now();
    let _ = CONNECTING.try_with(|trace| {
        lock(&trace.marks).tls_started.get_or_insert(now);
    });
}

/// What one probe learns about the connections opened while its request was sent.
pub struct ProbeScope {
    sink: ConnectionSink,
    /// Local address and ready time of each connection opened for this probe.
    opened: Mutex<Vec<(Option<SocketAddr>, Instant)>>,
}

impl ProbeScope {
    /// A scope reporting connections to `sink`.
    pub fn new(sink: ConnectionSink) -> Arc<Self> {
        Arc::new(ProbeScope {
            sink,
            opened: Mutex::new(Vec::new()),
        })
    }

    /// Runs `future` (sending the request) in this scope.
    pub async fn run<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        PROBE.scope(Arc::clone(self), future).await
    }

    /// When the connection that carried `response` became ready, if this probe opened
    /// it; `None` if the response came over a connection that already existed.
    pub fn new_connection_ready(&self, response: &reqwest::Response) -> Option<Instant> {
        let local = response.extensions().get::<HttpInfo>()?.local_addr();
        lock(&self.opened)
            .iter()
            .rev()
            .find(|(addr, _)| *addr == Some(local))
            .map(|&(_, ready)| ready)
    }
}

/// Reports a connection attempt when its connector future ends, however it ends.
struct Report {
    trace: Arc<ConnectTrace>,
    probe: Option<Arc<ProbeScope>>,
    done: bool,
}

impl Report {
    /// The connector succeeded with `connection`.
    fn connected(&mut self, connection: &impl Connection) {
        self.done = true;
        let ready = Instant::now();
        let mut extras = http::Extensions::new();
        connection.connected().get_extras(&mut extras);
        // The certificate is read by the probes, from each response: every endpoint
        // sharing this connection needs it, not only the one that opened it.
        let record = ConnectionRecord {
            phases: self.trace.phases(Some(ready)),
            cert_not_after: None,
        };
        if let Some(probe) = &self.probe {
            let local = extras.get::<HttpInfo>().map(HttpInfo::local_addr);
            lock(&probe.opened).push((local, ready));
            (probe.sink)(record);
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(probe) = &self.probe {
            (probe.sink)(ConnectionRecord {
                phases: self.trace.phases(None),
                cert_not_after: None,
            });
        }
    }
}

/// A reqwest connector layer that times each new connection (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> tower_layer::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

/// The service [`TraceLayer`] wraps reqwest's connector in.
#[derive(Debug, Clone)]
pub struct TraceService<S> {
    inner: S,
}

impl<S, Target> tower_service::Service<Target> for TraceService<S>
where
    S: tower_service::Service<Target>,
    S::Response: Connection + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let trace = Arc::new(ConnectTrace::new());
        // Read now: hyper may finish the connection in a task of its own.
        let probe = PROBE.try_with(Arc::clone).ok();
        let connecting = CONNECTING.sync_scope(Arc::clone(&trace), || self.inner.call(target));
        Box::pin(async move {
            let mut report = Report {
                trace: Arc::clone(&trace),
                probe,
                done: false,
            };
            let result = CONNECTING.scope(trace, connecting).await;
            if let Ok(connection) = &result {
                report.connected(connection);
            }
            result
        })
    }
}

/// The system resolver (`getaddrinfo` on a blocking thread, as reqwest's own), timed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimedResolver;

impl Resolve for TimedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let trace = CONNECTING.try_with(Arc::clone).ok();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let started = Instant::now();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(trace) = trace {
                lock(&trace.marks).dns = Some((started, Instant::now()));
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Resolves `host` like [`TimedResolver`] for a TCP probe, returning the addresses
/// with `port` and how long the lookup took (`None` for an IP address: no lookup).
pub async fn resolve(
    host: &str,
    port: u16,
) -> std::io::Result<(Vec<SocketAddr>, Option<std::time::Duration>)> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], None));
    }
    let started = Instant::now();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port)).await?.collect();
    Ok((addrs, Some(started.elapsed())))
}

/// The session store of every probe's rustls configuration: it delegates to the real
/// store, and notes when rustls first asks it about a server, which it does while
/// building the ClientHello, so that is when the TLS handshake starts.
#[derive(Debug)]
pub struct HandshakeClock {
    inner: Arc<dyn ClientSessionStore>,
}

impl HandshakeClock {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ClientSessionStore>) -> Self {
        HandshakeClock { inner }
    }
}

impl ClientSessionStore for HandshakeClock {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        mark_tls_started();
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        mark_tls_started();
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.inner.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        mark_tls_started();
        self.inner.take_tls13_ticket(server_name)
    }
}
