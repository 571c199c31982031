//! The phases a probe's time divides into.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One phase of a probe.
///
/// DNS, connect and TLS belong to a new connection: on a reused connection they did
/// not happen, so they are not recorded at all (never as zero). TTFB and transfer
/// belong to every HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Resolving the host name (none for an IP address).
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Time to first byte: request sent (on a ready connection) to response headers.
    Ttfb,
    /// Response headers to the end of the body.
    Transfer,
}

impl Phase {
    /// Every phase, in the order they happen.
    pub const ALL: [Phase; 5] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Ttfb,
        Phase::Transfer,
    ];

    /// The snapshot key.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Transfer => "transfer",
        }
    }

    /// Position in [`Phase::ALL`], for values kept in arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What opening one connection cost. A phase is `None` when it did not happen (an IP
/// address needs no DNS, plain TCP no TLS) or did not complete (the attempt failed or
/// was cancelled during it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionPhases {
    /// Name resolution.
    pub dns: Option<Duration>,
    /// TCP connect (every address tried, until one answered).
    pub connect: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
}

/// Where the connections an endpoint's probes open are reported, with what each phase
/// cost, once each is made (or has failed). Called by the probe that dialed, on the
/// probing thread: it must not block. (Certificates travel with the probe outcome:
/// every response carries one.)
pub type ConnectionSink = Arc<dyn Fn(ConnectionPhases) + Send + Sync>;

/// A sink that forgets everything (tools and tests that only want outcomes).
pub fn discard_connections() -> ConnectionSink {
    Arc::new(|_| {})
}
