//! The HTTP clients probes use.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;

use super::resolve::TimedResolver;
use super::tls::{TlsOptions, client_config};
use super::trace::TraceLayer;
use crate::config::{ConnectionMode, Endpoint, HttpVersion, TlsRoots};

/// What makes two endpoints need different clients: reqwest fixes TLS trust,
/// pooling, the HTTP version and name overrides (`resolve`) per client, so endpoints
/// differing in these get clients of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    ca_file: Option<std::path::PathBuf>,
    insecure: bool,
    tls_roots: TlsRoots,
    connection: ConnectionMode,
    http: Option<HttpVersion>,
    /// `resolve`: the URL's host and the address it is connected to instead.
    resolve: Option<(String, std::net::IpAddr)>,
}

impl ClientKey {
    fn of(endpoint: &Endpoint) -> Self {
        ClientKey {
            ca_file: endpoint.ca_file.clone(),
            insecure: endpoint.insecure,
            tls_roots: endpoint.tls_roots,
            connection: endpoint.connection,
            http: endpoint.http,
            resolve: endpoint
                .resolve
                .map(|ip| (endpoint.url.host_str().unwrap_or_default().to_string(), ip)),
        }
    }
}

/// Builds one `reqwest::Client` per distinct client setting and hands out clones (a
/// clone shares the connection pool), so endpoints with the same settings share one
/// client and its keep-alive connections, as one HTTP client in an application would.
///
/// A new connection's DNS, connect and TLS are recorded once, for the endpoint whose
/// probe opened it (see `trace`); another endpoint on the same host may then reuse
/// that connection. (One
/// client and pool per endpoint was measured: about 33 KiB more per endpoint, mostly
/// the idle keep-alive connection each pool holds, and 1,000 connections where the
/// shared pool needs a handful.)
///
/// Requests through one client to one host (scheme, host, port) are limited to
/// [`ClientPool::MAX_REQUESTS_PER_HOST`] at a time ([`HostLimit`]): hyper's pool has no
/// limit on connections per host and opens a new connection for every request that
/// finds none idle, so thousands of endpoints on one server, firing while the first
/// connections were still being made, opened 17,000 connections in a 10 s run and
/// never recovered (each new connection made every request slower, so more found
/// none idle). With the limit, the connections to a host stay below it too.
#[derive(Default)]
pub struct ClientPool {
    clients: HashMap<ClientKey, reqwest::Client>,
    tls: HashMap<TlsOptions, Arc<rustls::ClientConfig>>,
    limits: HashMap<(ClientKey, String), HostLimit>,
}

/// The requests allowed in flight at once through one client to one host, shared by
/// every endpoint on that host with that client.
#[derive(Clone)]
pub struct HostLimit(Arc<tokio::sync::Semaphore>);

impl HostLimit {
    fn new(permits: usize) -> Self {
        HostLimit(Arc::new(tokio::sync::Semaphore::new(permits)))
    }

    /// Waits for a turn to send a request; the turn ends when the permit is dropped.
    pub async fn acquire(&self) -> tokio::sync::SemaphorePermit<'_> {
        // Never closed (nothing calls `close`), so acquiring cannot fail; should it
        // ever, an unlimited probe is better than none.
        match self.0.acquire().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("a host limit's semaphore is never closed"),
        }
    }
}

impl ClientPool {
    /// The most redirects a probe follows.
    pub const MAX_REDIRECTS: usize = 10;

    /// The most requests in flight at once through one client to one host. Enough
    /// for 2,500 probes a second on a host answering in 100 ms; beyond that probes
    /// wait their turn, and the wait counts as probetop's own lag, not as latency.
    pub const MAX_REQUESTS_PER_HOST: usize = 256;

    /// The TLS configuration for `options`, built on first use.
    pub fn tls_config(&mut self, options: TlsOptions) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = self.tls.get(&options) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(client_config(&options)?);
        self.tls.insert(options, Arc::clone(&config));
        Ok(config)
    }

    /// The limit on requests in flight to `endpoint`'s host through its client.
    pub fn host_limit(&mut self, endpoint: &Endpoint) -> HostLimit {
        let url = &endpoint.url;
        let host = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        self.limits
            .entry((ClientKey::of(endpoint), host))
            .or_insert_with(|| HostLimit::new(Self::MAX_REQUESTS_PER_HOST))
            .clone()
    }

    /// The client for `endpoint`, built on first use.
    pub fn client_for(&mut self, endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
        let key = ClientKey::of(endpoint);
        if let Some(client) = self.clients.get(&key) {
            return Ok(client.clone());
        }
        let client = self
            .build(endpoint)
            .with_context(|| format!("building the HTTP client for {}", endpoint.name))?;
        self.clients.insert(key, client.clone());
        Ok(client)
    }

    /// A new client with `endpoint`'s settings (only those in [`ClientKey`] matter).
    fn build(&mut self, endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
        let alpn: &[&[u8]] = match endpoint.http {
            None => &[b"h2", b"http/1.1"],
            Some(HttpVersion::Http1) => &[b"http/1.1"],
            Some(HttpVersion::Http2) => &[b"h2"],
        };
        let tls = self.tls_config(TlsOptions {
            ca_file: endpoint.ca_file.clone(),
            insecure: endpoint.insecure,
            roots: endpoint.tls_roots,
            resume: endpoint.connection == ConnectionMode::Reuse,
            alpn: alpn.iter().map(|p| p.to_vec()).collect(),
        })?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
            .tls_info(true)
            .dns_resolver(Arc::new(TimedResolver))
            .connector_layer(TraceLayer)
            // Straight to the endpoint: through a proxy from the environment, the
            // phases and the certificate would be the proxy's.
            .no_proxy()
            .user_agent(concat!("probetop/", env!("CARGO_PKG_VERSION")))
            // Redirects are followed by the probe (`http.rs`), which decides what each
            // hop carries; and no Referer, ever: a monitor is not a browser.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .tcp_nodelay(true);
        if let Some((host, ip)) = ClientKey::of(endpoint).resolve {
            // Port 0: the URL's port. The override answers without a lookup, so
            // the probe records no DNS phase.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            builder = builder.resolve(host, std::net::SocketAddr::new(ip, 0));
        }
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
