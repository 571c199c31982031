//! The HTTP clients probes use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;

use super::conn::{HostPool, Protocol, Settings};
use super::tls::{TlsOptions, client_config};
use crate::config::{ConnectionMode, Endpoint, HttpVersion, TlsRoots};

/// What makes two endpoints need different clients: a client fixes TLS trust,
/// pooling, the HTTP version and name overrides (`resolve`) for its connections, so
/// endpoints differing in these get clients of their own.
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

/// Builds one [`Client`] per distinct client setting and hands out shared references,
/// so endpoints with the same settings share one client and its keep-alive
/// connections (a pool per origin, `conn::HostPool`), as one HTTP client in an
/// application would.
///
/// A new connection's DNS, connect and TLS are recorded once, for the endpoint whose
/// probe opened it (the probe that dials times them); another endpoint on the same
/// host may then reuse that connection. (One
/// client and pool per endpoint was measured: about 33 KiB more per endpoint, mostly
/// the idle keep-alive connection each pool holds, and 1,000 connections where the
/// shared pool needs a handful.)
///
/// Requests through one client to one host (scheme, host, port) are limited to
/// [`ClientPool::MAX_REQUESTS_PER_HOST`] at a time ([`HostLimit`]): a pool without a
/// limit on connections per host opens a new connection for every request that
/// finds none idle (ours does, as hyper-util's under reqwest did), so thousands of
/// endpoints on one server, firing while the first connections were still being made, opened 17,000 connections in a 10 s run and
/// never recovered (each new connection made every request slower, so more found
/// none idle). With the limit, the connections to a host stay below it too.
#[derive(Default)]
pub struct ClientPool {
    clients: HashMap<ClientKey, Arc<Client>>,
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
    pub(super) fn client_for(&mut self, endpoint: &Endpoint) -> anyhow::Result<Arc<Client>> {
        let key = ClientKey::of(endpoint);
        if let Some(client) = self.clients.get(&key) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(
            self.build(endpoint)
                .with_context(|| format!("building the HTTP client for {}", endpoint.name))?,
        );
        self.clients.insert(key, Arc::clone(&client));
        Ok(client)
    }

    /// A new client with `endpoint`'s settings (only those in [`ClientKey`] matter).
    fn build(&mut self, endpoint: &Endpoint) -> anyhow::Result<Client> {
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
        // Straight to the endpoint, never through a proxy from the environment: the
        // phases and the certificate would be the proxy's. Redirects are followed by
        // the probe (`http.rs`), which decides what each hop carries.
        let settings = Settings {
            tls: tokio_rustls::TlsConnector::from(tls),
            protocol: match endpoint.http {
                None => Protocol::Negotiate,
                Some(HttpVersion::Http1) => Protocol::Http1,
                Some(HttpVersion::Http2) => Protocol::Http2,
            },
            fresh: endpoint.connection == ConnectionMode::Fresh,
            resolve: ClientKey::of(endpoint).resolve.map(|(host, ip)| {
                (
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_ascii_lowercase(),
                    ip,
                )
            }),
        };
        Ok(Client {
            settings: Arc::new(settings),
            origins: Mutex::new(HashMap::new()),
        })
    }
}

/// One client: its settings, and a connection pool per origin it has talked to.
pub(super) struct Client {
    settings: Arc<Settings>,
    /// By (https, host, port). Locked only to find or add a pool, never across an
    /// `.await`.
    origins: Mutex<HashMap<(bool, String, u16), Arc<HostPool>>>,
}

impl Client {
    /// The pool for `url`'s origin (an http or https URL), made on first use.
    pub(super) fn pool(&self, url: &url::Url) -> anyhow::Result<Arc<HostPool>> {
        let https = url.scheme() == "https";
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("the URL has no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| anyhow::anyhow!("the URL has no port"))?;
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = origins.get(&(https, host.to_string(), port)) {
            return Ok(Arc::clone(pool));
        }
        let pool = Arc::new(HostPool::new(
            Arc::clone(&self.settings),
            https,
            host,
            port,
        )?);
        origins.insert((https, host.to_string(), port), Arc::clone(&pool));
        Ok(pool)
    }
}
