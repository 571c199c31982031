//! Timing a new connection's phases underneath reqwest.
//!
//! reqwest runs its whole connector (resolve, TCP connect, TLS handshake) inside the
//! future of a connector layer. [`TraceLayer`] polls that future with a task-local
//! [`ConnectTrace`], which two hooks stamp as the connection is made:
//!
//! - `resolve::TimedResolver`, reqwest's DNS resolver here, times the lookup;
//! - [`HandshakeClock`], the rustls session store, is consulted by rustls the moment
//!   it builds its ClientHello, which is right after the TCP connection is up.
//!
//! When the connector finishes, DNS, connect and TLS follow from those stamps, exactly,
//! without a second connection made beside reqwest's. The layer reports them for the
//! probe that asked for the connection (its [`ProbeScope`], another task-local, read
//! when the connector is called), and notes when the connection became ready, by its
//! address pair: a probe's time to first byte starts when the connection its response
//! came over was ready, or when the probe started, whichever is later.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use rustls::client::ClientSessionStore;
use rustls::pki_types::ServerName;

use super::phase::{ConnectionPhases, ConnectionSink};

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
    // Outside a traced connect (a handshake probetop did not start through the
    // connector) there is nothing to mark, and nothing is lost.
    let _ = CONNECTING.try_with(|trace| {
        lock(&trace.marks).tls_started.get_or_insert(now);
    });
}

/// When each recent connection became ready, by its (local, remote) address pair:
/// a request cannot go out before its connection is ready, so a probe's TTFB starts
/// at `max(probe start, ready)` whichever probe or endpoint opened the connection.
/// Only the latest [`READY_KEPT`] connections are kept: an older one was ready long
/// before any probe still waiting for a response started.
static READY: LazyLock<Mutex<ReadyConnections>> = LazyLock::new(Mutex::default);

/// How many connections [`READY`] remembers.
const READY_KEPT: usize = 4096;

type ConnectionKey = (SocketAddr, SocketAddr);

#[derive(Default)]
struct ReadyConnections {
    at: HashMap<ConnectionKey, Instant>,
    order: VecDeque<ConnectionKey>,
}

impl ReadyConnections {
    fn insert(&mut self, key: ConnectionKey, ready: Instant) {
        if self.at.insert(key, ready).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > READY_KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.at.remove(&oldest);
            }
        }
    }
}

fn connection_key(info: &HttpInfo) -> ConnectionKey {
    (info.local_addr(), info.remote_addr())
}

/// When the connection that carried `response` became ready, if it was made recently.
pub fn connection_ready(response: &reqwest::Response) -> Option<Instant> {
    let key = connection_key(response.extensions().get::<HttpInfo>()?);
    lock(&READY).at.get(&key).copied()
}

/// The probe whose request is being sent: where the connections it opens report.
pub struct ProbeScope {
    sink: ConnectionSink,
    /// The probe's deadline, which bounds the connections it opens too (hyper may
    /// finish a connection in the background after the probe took another one).
    deadline: Instant,
}

impl ProbeScope {
    /// A scope reporting connections to `sink`, for a probe ending at `deadline`.
    pub fn new(sink: ConnectionSink, deadline: Instant) -> Arc<Self> {
        Arc::new(ProbeScope { sink, deadline })
    }

    /// Runs `future` (sending the request) in this scope.
    pub async fn run<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        PROBE.scope(Arc::clone(self), future).await
    }
}

/// Reports one connection attempt when it ends: connected, failed, or out of time.
/// An attempt dropped before that (the run was aborted) is not reported, as the
/// probes cancelled with it are not counted.
struct Report {
    trace: Arc<ConnectTrace>,
    probe: Option<Arc<ProbeScope>>,
}

impl Report {
    /// The connector succeeded with `connection`.
    fn connected(&self, connection: &impl Connection) {
        let ready = Instant::now();
        let mut extras = http::Extensions::new();
        connection.connected().get_extras(&mut extras);
        if let Some(info) = extras.get::<HttpInfo>() {
            lock(&READY).insert(connection_key(info), ready);
        }
        self.send(self.trace.phases(Some(ready)));
    }

    /// The attempt failed or ran out of time: the phases completed before count.
    fn failed(&self) {
        self.send(self.trace.phases(None));
    }

    fn send(&self, phases: ConnectionPhases) {
        if let Some(probe) = &self.probe {
            (probe.sink)(phases);
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
    S::Error: From<std::io::Error> + Into<BoxError> + Send + 'static,
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
        let deadline = probe.as_ref().map(|p| p.deadline);
        let connecting = CONNECTING.sync_scope(Arc::clone(&trace), || self.inner.call(target));
        Box::pin(async move {
            let report = Report {
                trace: Arc::clone(&trace),
                probe,
            };
            let connecting = CONNECTING.scope(Arc::clone(&trace), connecting);
            let result = match deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline.into(), connecting).await {
                        Ok(result) => result,
                        Err(_) => {
                            report.failed();
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "connection not made within the probe's timeout",
                            )
                            .into());
                        }
                    }
                }
                None => connecting.await,
            };
            match result {
                Ok(connection) => {
                    report.connected(&connection);
                    Ok(connection)
                }
                Err(error) => {
                    report.failed();
                    // Once the handshake started the TCP connection was up: whatever
                    // broke now (an alert, a close, a reset) is the TLS handshake's.
                    if lock(&trace.marks).tls_started.is_some() {
                        Err(HandshakeFailed::wrap(error))
                    } else {
                        Err(error)
                    }
                }
            }
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection that failed during its TLS handshake, whatever the error beneath
/// says (a server closing the connection mid-handshake is an io error, not a rustls
/// one): classified `tls`, as a `tls://` probe's handshake is.
#[derive(Debug)]
pub struct HandshakeFailed(BoxError);

impl HandshakeFailed {
    fn wrap<E: From<std::io::Error> + Into<BoxError>>(error: E) -> E {
        E::from(std::io::Error::other(HandshakeFailed(error.into())))
    }
}

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS handshake failed: {}", self.0)
    }
}

impl std::error::Error for HandshakeFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Where a name lookup for the connection being made reports its times.
pub(super) struct DnsMark(Option<Arc<ConnectTrace>>);

/// The [`DnsMark`] of the connection being made, if any (read when a lookup starts:
/// the lookup itself runs on another thread).
pub(super) fn dns_mark() -> DnsMark {
    DnsMark(CONNECTING.try_with(Arc::clone).ok())
}

impl DnsMark {
    /// The lookup ran from `started` to `ended`.
    pub(super) fn done(self, started: Instant, ended: Instant) {
        if let Some(trace) = self.0 {
            lock(&trace.marks).dns = Some((started, ended));
        }
    }
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
