//! One probe: open the connection or send the request, time each phase, classify
//! the outcome.

mod classify;
mod client;
mod conn;
mod explain;
mod http;
mod outcome;
mod phase;
mod resolve;
mod tcp;
mod tls;
mod trust;

pub use classify::classify;
pub use client::{ClientPool, HostLimit};
pub use outcome::{ErrorClass, ProbeError, ProbeOutcome, ResponseInfo};
pub use phase::{ConnectionPhases, ConnectionSink, Phase, discard_connections};
pub use tls::{TlsOptions, not_after};
pub use trust::{ca_file_warning, preload_roots};

use crate::config::{Endpoint, ProbeKind};

/// Everything needed to probe one endpoint, prepared once.
pub enum Prober {
    /// `http://` and `https://` (boxed: a prepared request is large).
    Http(Box<http::HttpProber>),
    /// `tcp://` and `tls://`.
    Tcp(tcp::TcpProber),
}

impl Prober {
    /// Prepares probes of `endpoint`, with clients and TLS settings from `pool`; the
    /// connections its probes open are reported to `connections`.
    pub fn new(
        endpoint: &Endpoint,
        pool: &mut ClientPool,
        connections: ConnectionSink,
    ) -> anyhow::Result<Self> {
        Ok(match endpoint.kind() {
            ProbeKind::Http => Prober::Http(Box::new(http::HttpProber::new(
                endpoint,
                pool.client_for(endpoint)?,
                pool.host_limit(endpoint),
                connections,
            )?)),
            ProbeKind::Tcp => Prober::Tcp(tcp::TcpProber::new(endpoint, None, connections)?),
            ProbeKind::Tls => {
                let tls = pool.tls_config(TlsOptions {
                    ca_file: endpoint.ca_file.clone(),
                    insecure: endpoint.insecure,
                    roots: endpoint.tls_roots,
                    // Every TCP probe is a new connection with a full handshake.
                    resume: false,
                    alpn: Vec::new(),
                })?;
                Prober::Tcp(tcp::TcpProber::new(endpoint, Some(tls), connections)?)
            }
        })
    }

    /// Probes once.
    pub async fn probe(&self) -> ProbeOutcome {
        self.probe_after_turn().await.1
    }

    /// How long one probe may take, once it is sent.
    pub fn timeout(&self) -> std::time::Duration {
        match self {
            Prober::Http(prober) => prober.timeout(),
            Prober::Tcp(prober) => prober.timeout(),
        }
    }

    /// Probes once, and says how long the probe waited for its turn on a host
    /// shared with other endpoints before it was sent (zero for `tcp://` and
    /// `tls://`, which share nothing): that wait is probetop's lag, not latency.
    pub async fn probe_after_turn(&self) -> (std::time::Duration, ProbeOutcome) {
        match self {
            Prober::Http(prober) => prober.probe().await,
            // Boxed: a TLS handshake's state is more than twice an HTTP probe's, and
            // every probe task would otherwise be that large (see `engine::Probe::run`).
            Prober::Tcp(prober) => (std::time::Duration::ZERO, Box::pin(prober.probe()).await),
        }
    }
}
