//! The HTTP clients probes share.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{ConnectionMode, Endpoint, HttpVersion};

/// What makes two endpoints need different clients: reqwest fixes TLS trust,
/// pooling, the HTTP version and the redirect policy per client, so endpoints
/// differing in these get clients of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    ca_file: Option<PathBuf>,
    insecure: bool,
    connection: ConnectionMode,
    http: Option<HttpVersion>,
    follow_redirects: bool,
}

/// Builds one `reqwest::Client` per distinct TLS/pooling setting and hands out clones
/// (a clone shares the connection pool), so all endpoints with default settings share
/// one client and its keep-alive connections.
#[derive(Default)]
pub struct ClientPool {
    clients: HashMap<ClientKey, reqwest::Client>,
}

impl ClientPool {
    /// The most redirects a probe follows.
    pub const MAX_REDIRECTS: usize = 10;

    /// The client for `endpoint`, built on first use.
    pub fn client_for(&mut self, endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
        let key = ClientKey {
            ca_file: endpoint.ca_file.clone(),
            insecure: endpoint.insecure,
            connection: endpoint.connection,
            http: endpoint.http,
            follow_redirects: endpoint.follow_redirects,
        };
        if let Some(client) = self.clients.get(&key) {
            return Ok(client.clone());
        }
        let client = build(&key)
            .with_context(|| format!("building the HTTP client for {}", endpoint.name))?;
        self.clients.insert(key, client.clone());
        Ok(client)
    }
}

fn build(key: &ClientKey) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("probetop/", env!("CARGO_PKG_VERSION")))
        .redirect(if key.follow_redirects {
            reqwest::redirect::Policy::limited(ClientPool::MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        })
        .tcp_nodelay(true);
    builder = match key.http {
        None => builder,
        Some(HttpVersion::Http1) => builder.http1_only(),
        Some(HttpVersion::Http2) => builder.http2_prior_knowledge(),
    };
    if key.connection == ConnectionMode::Fresh {
        builder = builder.pool_max_idle_per_host(0);
    }
    if key.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(path) = &key.ca_file {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("parsing {}", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}
