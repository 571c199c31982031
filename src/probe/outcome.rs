//! What one probe found.

use std::fmt;
use std::time::Duration;

/// Why a probe failed: the snapshot's `errors` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// No complete response within the timeout.
    Timeout,
    /// The TCP connection could not be made (refused, reset, unreachable).
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// A response came, but its status is not an expected one.
    Status,
    /// A response came, but its body broke off, was too large, or lacked the expected text.
    Body,
    /// A redirect that could not be followed: too many, a refused downgrade from
    /// `https://` to `http://`, or a `Location` that is not text, does not parse or
    /// names a scheme other than `http` and `https`.
    Redirect,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Every class, in snapshot order.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Dns,
        ErrorClass::Tls,
        ErrorClass::Status,
        ErrorClass::Body,
        ErrorClass::Redirect,
        ErrorClass::Other,
    ];

    /// The snapshot key.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Dns => "dns",
            ErrorClass::Tls => "tls",
            ErrorClass::Status => "status",
            ErrorClass::Body => "body",
            ErrorClass::Redirect => "redirect",
            ErrorClass::Other => "other",
        }
    }

    /// Position in [`ErrorClass::ALL`], for counters kept in arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed probe: its class and a one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// The error class.
    pub class: ErrorClass,
    /// What happened, in one line (may contain text from the endpoint: sanitise before display).
    pub message: String,
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProbeOutcome {
    /// Request sent to end of body, when a complete response arrived (whatever its status).
    pub latency: Option<Duration>,
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// Why the probe failed, if it did.
    pub error: Option<ProbeError>,
    /// The response was good but slower than `expect.max_latency`.
    pub slow: bool,
    /// Time to first byte: request sent to response headers (HTTP, when headers came).
    pub ttfb: Option<Duration>,
    /// Response headers to the end of the body (HTTP, when the body was complete).
    pub transfer: Option<Duration>,
    /// When the certificate of the TLS connection that answered expires.
    pub cert_not_after: Option<std::time::SystemTime>,
    /// Where the latest response came from (HTTP: when headers came; `tcp://` and
    /// `tls://`: when the connection was made).
    pub response: Option<ResponseInfo>,
}

/// The connection a response came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The negotiated HTTP version (`"HTTP/1.1"`, `"HTTP/2"`); `None` for `tcp://`
    /// and `tls://`.
    pub http_version: Option<&'static str>,
    /// The server's address, when known.
    pub remote_addr: Option<std::net::SocketAddr>,
}

impl ProbeOutcome {
    /// A probe that failed before a complete response arrived.
    pub fn failed(class: ErrorClass, message: impl Into<String>) -> Self {
        ProbeOutcome {
            latency: None,
            status: None,
            error: Some(ProbeError {
                class,
                message: message.into(),
            }),
            slow: false,
            ttfb: None,
            transfer: None,
            cert_not_after: None,
            response: None,
        }
    }

    /// Whether the probe succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_indexes_its_place_with_its_own_key() {
        let keys: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            keys,
            [
                "timeout", "connect", "dns", "tls", "status", "body", "redirect", "other"
            ]
        );
        for (i, class) in ErrorClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i, "{class}");
        }
    }
}
