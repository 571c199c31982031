//! The HTTP clients probes use.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;

use super::tls::{TlsOptions, client_config};
use super::trace::{TimedResolver, TraceLayer};
use crate::config::{ConnectionMode, Endpoint, HttpVersion};

/// Builds the `reqwest::Client` of each endpoint.
///
/// Each endpoint gets a client, and so a connection pool, of its own: its numbers
/// then describe its own connections (a connection another endpoint opened to the
/// same host never shows up as this one's reuse), and the connection phases can be
/// attributed to it. The rustls configurations, the heavy part (root store, session
/// cache), are shared between endpoints with the same TLS settings.
#[derive(Default)]
pub struct ClientPool {
    tls: HashMap<TlsOptions, Arc<rustls::ClientConfig>>,
}

impl ClientPool {
    /// The most redirects a probe follows.
    pub const MAX_REDIRECTS: usize = 10;

    /// The TLS configuration for `options`, built on first use.
    pub fn tls_config(&mut self, options: TlsOptions) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = self.tls.get(&options) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(client_config(&options)?);
        self.tls.insert(options, Arc::clone(&config));
        Ok(config)
    }

    /// A new client for `endpoint`.
    pub fn client_for(&mut self, endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
        self.build(endpoint)
            .with_context(|| format!("building the HTTP client for {}", endpoint.name))
    }

    fn build(&mut self, endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
        let alpn: &[&[u8]] = match endpoint.http {
            None => &[b"h2", b"http/1.1"],
            Some(HttpVersion::Http1) => &[b"http/1.1"],
            Some(HttpVersion::Http2) => &[b"h2"],
        };
        let tls = self.tls_config(TlsOptions {
            ca_file: endpoint.ca_file.clone(),
            insecure: endpoint.insecure,
            resume: endpoint.connection == ConnectionMode::Reuse,
            alpn: alpn.iter().map(|p| p.to_vec()).collect(),
        })?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
            .tls_info(true)
            .dns_resolver(Arc::new(TimedResolver))
            .connector_layer(TraceLayer)
            .user_agent(concat!("probetop/", env!("CARGO_PKG_VERSION")))
            .redirect(if endpoint.follow_redirects {
                reqwest::redirect::Policy::limited(Self::MAX_REDIRECTS)
            } else {
                reqwest::redirect::Policy::none()
            })
            .tcp_nodelay(true);
        builder = match endpoint.http {
            None => builder,
            Some(HttpVersion::Http1) => builder.http1_only(),
            Some(HttpVersion::Http2) => builder.http2_prior_knowledge(),
        };
        if endpoint.connection == ConnectionMode::Fresh {
            builder = builder.pool_max_idle_per_host(0);
        }
        Ok(builder.build()?)
    }
}
