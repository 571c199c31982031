//! Name resolution for probes, timed: reqwest's resolver and the TCP probes' lookups.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::trace::dns_mark;

/// Looks `host` up with the system resolver (`getaddrinfo`, on a blocking thread as
/// reqwest's own resolver does), timing the call itself: time spent waiting for a
/// free blocking thread is probetop's, not the resolver's.
async fn lookup(host: String, port: u16) -> std::io::Result<(Vec<SocketAddr>, Instant, Instant)> {
    tokio::task::spawn_blocking(move || {
        use std::net::ToSocketAddrs;
        let started = Instant::now();
        let addrs = (host.as_str(), port).to_socket_addrs()?.collect();
        Ok((addrs, started, Instant::now()))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The system resolver given to reqwest, timed (see [`lookup`]); the times go to the
/// connection being made (see `trace`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimedResolver;

impl Resolve for TimedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let mark = dns_mark();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let (addrs, started, ended) = lookup(host, 0).await?;
            mark.done(started, ended);
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Resolves `host` like [`TimedResolver`] for a TCP probe, returning the addresses
/// with `port` and how long the lookup took (`None` for an IP address: no lookup).
pub async fn resolve(
    host: &str,
    port: u16,
) -> std::io::Result<(Vec<SocketAddr>, Option<Duration>)> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], None));
    }
    let (addrs, started, ended) = lookup(bare.to_string(), port).await?;
    Ok((addrs, Some(ended - started)))
}
