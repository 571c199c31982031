//! Name resolution for probes, timed: the system resolver, for HTTP and TCP probes alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Looks `host` up with the system resolver (`getaddrinfo`, on a blocking thread as
/// reqwest's and hyper's resolvers do), timing the call itself: time spent waiting for a
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

/// Resolves `host` (see [`lookup`]) for a probe's new connection, returning the addresses
/// with `port` and how long the lookup took (`None` for an IP address: no lookup).
pub async fn resolve(
    host: &str,
    port: u16,
) -> std::io::Result<(Vec<SocketAddr>, Option<Duration>)> {
    let (addrs, lookup) = resolve_timed(host, port).await?;
    Ok((addrs, lookup.map(|(started, ended)| ended - started)))
}

/// [`resolve`], with when the lookup started and ended: the HTTP probes' connect
/// phase starts at its end, not when the blocking thread's answer is seen.
pub async fn resolve_timed(
    host: &str,
    port: u16,
) -> std::io::Result<(Vec<SocketAddr>, Option<(Instant, Instant)>)> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], None));
    }
    let (addrs, started, ended) = lookup(bare.to_string(), port).await?;
    Ok((addrs, Some((started, ended))))
}
