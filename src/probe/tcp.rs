//! A TCP probe (`tcp://host:port`): resolve, connect; for `tls://`, then handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::phase::{ConnectionPhases, ConnectionRecord, ConnectionSink};
use super::tls::not_after;
use super::trace::resolve;
use super::{ErrorClass, ProbeOutcome};
use crate::config::Endpoint;

/// Everything needed to probe one TCP endpoint, prepared once.
pub struct TcpProber {
    host: String,
    port: u16,
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
        let mut record = ConnectionRecord::default();
        let attempt = tokio::time::timeout(self.timeout, self.connect(&mut record)).await;
        // Whatever completed is reported, even when a later phase failed.
        (self.connections)(record);
        match attempt {
            Ok(Ok(())) => {
                let latency = started.elapsed();
                ProbeOutcome {
                    latency: Some(latency),
                    slow: self.max_latency.is_some_and(|max| latency > max),
                    ..ProbeOutcome::default()
                }
            }
            Ok(Err(failure)) => ProbeOutcome::failed(failure.class, failure.message),
            Err(_) => {
                let phase = match (record.phases.connect, &self.tls) {
                    (None, _) if record.phases.dns.is_none() && self.needs_lookup() => {
                        "name lookup"
                    }
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
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<std::net::IpAddr>().is_err()
    }

    async fn connect(&self, record: &mut ConnectionRecord) -> Result<(), Failure> {
        let phases: &mut ConnectionPhases = &mut record.phases;
        let (addrs, lookup) = resolve(&self.host, self.port).await.map_err(|e| Failure {
            class: ErrorClass::Dns,
            message: format!("dns error: {e}"),
        })?;
        phases.dns = lookup;
        let connecting = Instant::now();
        let stream = connect_any(&addrs).await?;
        phases.connect = Some(connecting.elapsed());
        let Some((connector, name)) = &self.tls else {
            return Ok(());
        };
        let handshaking = Instant::now();
        let stream = connector
            .connect(name.clone(), stream)
            .await
            .map_err(|e| Failure {
                class: ErrorClass::Tls,
                message: format!("TLS handshake failed: {}", describe_io(&e)),
            })?;
        phases.tls = Some(handshaking.elapsed());
        record.cert_not_after = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| not_after(leaf));
        Ok(())
    }
}

/// Connects to the first address that accepts, trying them in order.
async fn connect_any(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => Failure {
            class: ErrorClass::Connect,
            message: format!("connect to {addr}: {e}"),
        },
        None => Failure {
            class: ErrorClass::Dns,
            message: "dns error: no address".to_string(),
        },
    })
}

/// An io error's text, with the rustls error inside it when there is one.
fn describe_io(error: &std::io::Error) -> String {
    match error.get_ref() {
        Some(inner) => inner.to_string(),
        None => error.to_string(),
    }
}
