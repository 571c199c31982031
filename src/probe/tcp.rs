//! A TCP probe (`tcp://host:port`): resolve, connect; for `tls://`, then handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::phase::{ConnectionPhases, ConnectionSink};
use super::resolve::resolve;
use super::tls::not_after;
use super::{ErrorClass, ProbeOutcome, ResponseInfo};
use crate::config::Endpoint;

/// Everything needed to probe one TCP endpoint, prepared once.
pub struct TcpProber {
    host: String,
    port: u16,
    /// `resolve`: the address connected to instead of looking `host` up.
    resolve: Option<std::net::IpAddr>,
    /// For `tls://`: the configuration and the name the certificate must carry.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    timeout: Duration,
    max_latency: Option<Duration>,
    connections: ConnectionSink,
}

/// Why a connection attempt failed.
struct Failure {
    class: ErrorClass,
    message: String,
}

impl TcpProber {
    /// How long one probe may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Prepares probes of `endpoint` (a `tcp://` or `tls://` URL); `tls` is the
    /// configuration for `tls://`.
    pub fn new(
        endpoint: &Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        connections: ConnectionSink,
    ) -> anyhow::Result<Self> {
        let host = endpoint
            .url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("{} has no host", endpoint.url_as_written))?
            .to_string();
        let port = endpoint
            .url
            .port()
            .ok_or_else(|| anyhow::anyhow!("{} has no port", endpoint.url_as_written))?;
        let tls = match tls {
            None => None,
            Some(config) => {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(bare.to_string())
                    .map_err(|e| anyhow::anyhow!("{host} is not a TLS server name: {e}"))?;
                Some((tokio_rustls::TlsConnector::from(config), name))
            }
        };
        Ok(TcpProber {
            host,
            port,
            resolve: endpoint.resolve,
            tls,
            timeout: endpoint.timeout,
            max_latency: endpoint.expect.max_latency,
            connections,
        })
    }

    /// Opens one connection (and completes the handshake) within the timeout, then
    /// closes it.
    pub async fn probe(&self) -> ProbeOutcome {
        let started = Instant::now();
        let mut phases = ConnectionPhases::default();
        let attempt = tokio::time::timeout(self.timeout, self.connect(&mut phases)).await;
        let latency = started.elapsed();
        // Whatever completed is reported, even when a later phase failed.
        (self.connections)(phases);
        match attempt {
            Ok(Ok((remote_addr, tls))) => {
                let mut cert_not_after = None;
                if let Some(mut stream) = tls {
                    cert_not_after = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|leaf| not_after(leaf));
                    // Say goodbye properly (close_notify), so servers do not log an
                    // unclean end for every probe; not part of the latency.
                    use tokio::io::AsyncWriteExt as _;
                    // A server that does not answer the goodbye changes nothing measured.
                    let _ = tokio::time::timeout(CLOSE_GRACE, stream.shutdown()).await;
                }
                ProbeOutcome {
                    latency: Some(latency),
                    slow: self.max_latency.is_some_and(|max| latency > max),
                    cert_not_after,
                    response: Some(ResponseInfo {
                        http_version: None,
                        remote_addr,
                    }),
                    ..ProbeOutcome::default()
                }
            }
            Ok(Err(failure)) => ProbeOutcome::failed(failure.class, failure.message),
            Err(_) => {
                let phase = match (phases.connect, &self.tls) {
                    (None, _) if phases.dns.is_none() && self.needs_lookup() => "name lookup",
                    (None, _) => "connect",
                    (Some(_), Some(_)) => "TLS handshake",
                    (Some(_), None) => "connect",
                };
                ProbeOutcome::failed(
                    ErrorClass::Timeout,
                    format!(
                        "{phase} not complete within {}",
                        humantime::format_duration(self.timeout)
                    ),
                )
            }
        }
    }

    fn needs_lookup(&self) -> bool {
        if self.resolve.is_some() {
            return false;
        }
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<std::net::IpAddr>().is_err()
    }

    /// Makes the connection, noting each phase in `phases` as it completes; returns
    /// the server's address and the TLS stream for `tls://` (for its certificate, and
    /// to be closed politely).
    async fn connect(
        &self,
        phases: &mut ConnectionPhases,
    ) -> Result<
        (
            Option<SocketAddr>,
            Option<tokio_rustls::client::TlsStream<TcpStream>>,
        ),
        Failure,
    > {
        let (addrs, lookup) = match self.resolve {
            // No lookup, so no DNS phase.
            Some(ip) => (vec![SocketAddr::new(ip, self.port)], None),
            None => resolve(&self.host, self.port).await.map_err(|e| Failure {
                class: ErrorClass::Dns,
                message: super::explain::lookup(&e),
            })?,
        };
        phases.dns = lookup;
        let connecting = Instant::now();
        let stream = connect_any(&addrs).await?;
        phases.connect = Some(connecting.elapsed());
        let remote = stream.peer_addr().ok();
        let Some((connector, name)) = &self.tls else {
            return Ok((remote, None));
        };
        let handshaking = Instant::now();
        let stream = connector
            .connect(name.clone(), stream)
            .await
            .map_err(|e| Failure {
                class: ErrorClass::Tls,
                message: super::explain::handshake(&e),
            })?;
        phases.tls = Some(handshaking.elapsed());
        Ok((remote, Some(stream)))
    }
}

/// How long a `tls://` probe waits for its close_notify to be sent.
const CLOSE_GRACE: Duration = Duration::from_millis(100);

/// How long an attempt runs before the next address is tried alongside it (as
/// hyper's connector does for HTTP, "happy eyeballs"): an address that never answers
/// does not use up the whole timeout while another would have.
const FALLBACK_DELAY: Duration = Duration::from_millis(250);

/// Connects to the first address that accepts: addresses in order, the next one
/// started when an attempt fails or has been running for [`FALLBACK_DELAY`].
async fn connect_any(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    connect_any_addr(addrs).await.map_err(|last| match last {
        Some((addr, e)) => Failure {
            class: ErrorClass::Connect,
            message: format!("connect to {addr}: {}", super::explain::io(&e)),
        },
        None => Failure {
            class: ErrorClass::Dns,
            message: "name lookup failed: no address".to_string(),
        },
    })
}

/// [`connect_any`] for the HTTP probes, whose messages name no address: the last
/// attempt's error, `None` when there was no address to try.
pub(super) async fn connect_any_io(
    addrs: &[SocketAddr],
) -> Result<TcpStream, Option<std::io::Error>> {
    connect_any_addr(addrs)
        .await
        .map_err(|last| last.map(|(_, e)| e))
}

/// Connects as [`connect_any`] says (with `TCP_NODELAY`); fails with the last
/// address tried and its error.
async fn connect_any_addr(
    addrs: &[SocketAddr],
) -> Result<TcpStream, Option<(SocketAddr, std::io::Error)>> {
    use futures_util::StreamExt as _;
    use futures_util::stream::FuturesUnordered;
    let mut attempts = FuturesUnordered::new();
    let mut next = addrs.iter();
    let mut last = None;
    loop {
        if attempts.is_empty() {
            match next.next() {
                Some(addr) => attempts.push(attempt(*addr)),
                None => break,
            }
        }
        tokio::select! {
            Some((addr, result)) = attempts.next() => match result {
                Ok(stream) => {
                    // Only the connect is measured; a socket without TCP_NODELAY
                    // would still have connected.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some((addr, e)),
            },
            () = tokio::time::sleep(FALLBACK_DELAY), if next.len() > 0 => {
                if let Some(addr) = next.next() {
                    attempts.push(attempt(*addr));
                }
            }
        }
    }
    Err(last)
}

async fn attempt(addr: SocketAddr) -> (SocketAddr, std::io::Result<TcpStream>) {
    (addr, TcpStream::connect(addr).await)
}
