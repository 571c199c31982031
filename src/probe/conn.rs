//! HTTP connections of our own, on hyper's connection-level client: dialing one
//! (resolve, TCP connect, TLS, the hyper handshake), timing its phases directly, and
//! the pool that keeps it for the next probe.
//!
//! Why not reqwest: its layers (URL parsing per response, request clones, service and
//! pool clones per request, and the task-local tracing we needed around its
//! connector to time phases) cost about a fifth of the probing thread at 10,000
//! endpoints, and every instruction of that long path runs on cold caches when idle.
//!
//! Who owns a connection: its driver (hyper's `Connection` future) runs as a task of
//! its own on the runtime of the probe that dialed it, and ends when every sender of
//! the connection is dropped (the pool's, the probes') or the server closes it. The
//! pools belong to the clients in the engine's [`super::ClientPool`]; when the
//! engine's runtime shuts down, the drivers are dropped with it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;

use super::classify::HttpError;
use super::phase::{ConnectionPhases, ConnectionSink};
use super::resolve::resolve_timed;
use super::tcp::connect_any_io;
use super::tls::not_after;

/// The request body type every probe sends (replayed from `Bytes`, a cheap clone).
pub type Body = Full<Bytes>;

/// How long an idle connection is kept (reqwest's default idle timeout).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Which HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Negotiate: HTTP/2 when ALPN says `h2`, else HTTP/1.1.
    Negotiate,
    /// `http = "1.1"`.
    Http1,
    /// `http = "2"`: HTTP/2 from the first byte (prior knowledge on plain http).
    Http2,
}

/// The settings a client fixes for every connection it makes (one client per
/// distinct `ClientKey` in `client.rs`).
pub struct Settings {
    /// The TLS configuration (ALPN already set from `protocol`).
    pub tls: tokio_rustls::TlsConnector,
    /// Which HTTP version to speak.
    pub protocol: Protocol,
    /// `connection = "fresh"`: never pooled.
    pub fresh: bool,
    /// `resolve`: the URL's host (bare) and the address connected to instead.
    pub resolve: Option<(String, std::net::IpAddr)>,
}

/// What a response's connection says about itself, learnt once when it was dialed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnInfo {
    /// The server's address (from the TCP stream).
    pub remote: Option<SocketAddr>,
    /// When the server's certificate expires (TLS only, parsed once per connection).
    pub cert_not_after: Option<SystemTime>,
}

/// A sender on one connection.
pub enum Sender {
    /// An HTTP/1.1 connection: one request at a time, so each is taken from the pool.
    H1(http1::SendRequest<Body>),
    /// An HTTP/2 connection: shared (cloned) by every probe to the origin.
    H2(http2::SendRequest<Body>),
}

/// A connection checked out for one request.
pub struct Conn {
    /// Where requests go.
    pub sender: Sender,
    /// What it is.
    pub info: ConnInfo,
    /// Whether it came from the pool (so the server may have closed it meanwhile).
    pub reused: bool,
    /// When its transport was up (TCP, and TLS): a request's TTFB starts then at the
    /// earliest (hyper's own handshake, the HTTP/2 preface, is part of the TTFB, as
    /// it was under reqwest).
    pub ready: Instant,
}

/// An idle HTTP/1.1 connection.
struct Idle {
    sender: http1::SendRequest<Body>,
    info: ConnInfo,
    since: Instant,
}

/// The connections to one origin (scheme, host, port) through one client.
pub struct HostPool {
    settings: Arc<Settings>,
    /// The host as the URL spells it, brackets removed from an IPv6 address.
    host: String,
    port: u16,
    /// The TLS server name (SNI and the certificate's check): https only.
    server_name: Option<ServerName<'static>>,
    /// `resolve`, when it names this host.
    resolve: Option<std::net::IpAddr>,
    /// Idle HTTP/1.1 connections, the most recently used last. Never locked across
    /// an `.await`.
    idle: Mutex<Vec<Idle>>,
    /// The HTTP/2 connection, once one is negotiated.
    h2: Mutex<Option<(http2::SendRequest<Body>, ConnInfo)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data are senders and times, valid whatever panicked while holding them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostPool {
    /// The pool for `scheme://host:port` with `settings`.
    pub fn new(
        settings: Arc<Settings>,
        https: bool,
        host: &str,
        port: u16,
    ) -> anyhow::Result<Self> {
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let server_name = if https {
            Some(
                ServerName::try_from(bare.clone())
                    .map_err(|e| anyhow::anyhow!("{host} is not a TLS server name: {e}"))?,
            )
        } else {
            None
        };
        let resolve = settings
            .resolve
            .as_ref()
            .filter(|(name, _)| name.eq_ignore_ascii_case(&bare))
            .map(|(_, ip)| *ip);
        Ok(HostPool {
            settings,
            host: bare,
            port,
            server_name,
            resolve,
            idle: Mutex::new(Vec::new()),
            h2: Mutex::new(None),
        })
    }

    /// A ready connection from the pool, if one is there: the shared HTTP/2 one, or
    /// the most recently used idle HTTP/1.1 one. Closed ones and ones idle longer than
    /// [`IDLE_TIMEOUT`] are dropped on the way.
    pub fn checkout(&self) -> Option<Conn> {
        if self.settings.fresh {
            return None;
        }
        {
            let mut h2 = lock(&self.h2);
            match &*h2 {
                Some((sender, info)) if !sender.is_closed() => {
                    return Some(Conn {
                        sender: Sender::H2(sender.clone()),
                        info: *info,
                        reused: true,
                        ready: Instant::now(),
                    });
                }
                Some(_) => *h2 = None,
                None => {}
            }
        }
        let mut idle = lock(&self.idle);
        let now = Instant::now();
        // The oldest are first: those idle too long go at once.
        let expired = idle
            .iter()
            .take_while(|conn| now.saturating_duration_since(conn.since) > IDLE_TIMEOUT)
            .count();
        idle.drain(..expired);
        let mut at = idle.len();
        while at > 0 {
            at -= 1;
            if idle[at].sender.is_ready() {
                let conn = idle.remove(at);
                return Some(Conn {
                    sender: Sender::H1(conn.sender),
                    info: conn.info,
                    reused: true,
                    ready: Instant::now(),
                });
            }
            if idle[at].sender.is_closed() {
                // Dropped, which ends its driver.
                idle.remove(at);
            }
            // Else its driver has not yet seen the last response end: kept for later.
        }
        None
    }

    /// Gives an HTTP/1.1 connection back after its response was read whole.
    pub fn check_in(&self, sender: http1::SendRequest<Body>, info: ConnInfo) {
        if self.settings.fresh || sender.is_closed() {
            return;
        }
        lock(&self.idle).push(Idle {
            sender,
            info,
            since: Instant::now(),
        });
    }

    /// Opens a new connection within `deadline`, reporting its phases to `sink` once
    /// it is made or has failed (the phases completed before count).
    pub async fn dial(
        &self,
        deadline: tokio::time::Instant,
        sink: &ConnectionSink,
    ) -> Result<Conn, HttpError> {
        let mut phases = ConnectionPhases::default();
        let dialed = tokio::time::timeout_at(deadline, self.dial_steps(&mut phases)).await;
        sink(phases);
        let conn = dialed.unwrap_or(Err(HttpError::Timeout))?;
        if let Sender::H2(sender) = &conn.sender
            && !self.settings.fresh
        {
            // Shared from now on; one dialed beside it by a concurrent probe replaces
            // it, and the older one ends when its last request does.
            *lock(&self.h2) = Some((sender.clone(), conn.info));
        }
        Ok(conn)
    }

    async fn dial_steps(&self, phases: &mut ConnectionPhases) -> Result<Conn, HttpError> {
        let mut connecting = Instant::now();
        let addrs = match self.resolve {
            // No lookup, so no DNS phase (not a zero).
            Some(ip) => vec![SocketAddr::new(ip, self.port)],
            None => {
                let (addrs, lookup) = resolve_timed(&self.host, self.port)
                    .await
                    .map_err(HttpError::Dns)?;
                // The connect starts when the lookup ended, so the way back from its
                // blocking thread is the connect's, as under reqwest.
                connecting = lookup.map_or_else(Instant::now, |(_, ended)| ended);
                phases.dns = lookup.map(|(started, ended)| ended - started);
                addrs
            }
        };
        let stream = match connect_any_io(&addrs).await {
            Ok(stream) => stream,
            Err(Some(e)) => return Err(HttpError::Connect(e)),
            Err(None) => {
                return Err(HttpError::Dns(std::io::Error::other("no address")));
            }
        };
        phases.connect = Some(connecting.elapsed());
        let remote = stream.peer_addr().ok();
        let mut info = ConnInfo {
            remote,
            cert_not_after: None,
        };
        match &self.server_name {
            None => {
                let h2 = self.settings.protocol == Protocol::Http2;
                let ready = Instant::now();
                self.handshake(TokioIo::new(stream), h2, info, ready).await
            }
            Some(name) => {
                let handshaking = Instant::now();
                let stream = self
                    .settings
                    .tls
                    .connect(name.clone(), stream)
                    .await
                    .map_err(HttpError::Tls)?;
                let ready = Instant::now();
                phases.tls = Some(ready - handshaking);
                let session = stream.get_ref().1;
                info.cert_not_after = session
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| not_after(leaf));
                let h2 = match self.settings.protocol {
                    Protocol::Http2 => true,
                    Protocol::Http1 => false,
                    Protocol::Negotiate => session.alpn_protocol() == Some(b"h2"),
                };
                self.handshake(TokioIo::new(stream), h2, info, ready).await
            }
        }
    }

    /// hyper's handshake on `io`, a connection `ready` since then (TCP, and TLS, up);
    /// the connection's driver is spawned (see the module docs for who owns it and
    /// how it ends).
    async fn handshake<T>(
        &self,
        io: TokioIo<T>,
        h2: bool,
        info: ConnInfo,
        ready: Instant,
    ) -> Result<Conn, HttpError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let sender = if h2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .handshake(io)
                .await
                .map_err(HttpError::Http)?;
            drive(connection);
            Sender::H2(sender)
        } else {
            let (sender, connection) = http1::Builder::new()
                .handshake(io)
                .await
                .map_err(HttpError::Http)?;
            drive(connection);
            Sender::H1(sender)
        };
        Ok(Conn {
            sender,
            info,
            reused: false,
            ready,
        })
    }
}

/// Spawns a connection's driver. Its end (closed by the server, or by a protocol
/// error) is seen by the requests on it; nothing else needs to hear of it, so its
/// result is dropped.
fn drive<F: std::future::Future + Send + 'static>(connection: F) {
    tokio::spawn(async move {
        let _ = connection.await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_applies_to_its_host_only() {
        let config = crate::probe::tls::client_config(&crate::probe::TlsOptions {
            ca_file: None,
            roots: crate::config::TlsRoots::default(),
            insecure: true,
            resume: false,
            alpn: Vec::new(),
        })
        .expect("a TLS configuration");
        let settings = Arc::new(Settings {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            protocol: Protocol::Negotiate,
            fresh: false,
            resolve: Some(("example.test".into(), [127, 0, 0, 2].into())),
        });
        let own = HostPool::new(Arc::clone(&settings), false, "Example.test", 80).unwrap();
        assert_eq!(own.resolve, Some([127, 0, 0, 2].into()));
        let other = HostPool::new(settings, true, "other.test", 443).unwrap();
        assert_eq!(other.resolve, None);
        assert!(other.server_name.is_some());
    }
}
