//! The HTTP probes' transport errors, mapped to error classes and to words.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use super::ErrorClass;
use super::explain;

/// What went wrong sending an HTTP request or reading its answer, with the error
/// beneath as its source: the phase it happened in decides the class, the error
/// beneath the words.
#[derive(Debug)]
pub enum HttpError {
    /// The name lookup failed.
    Dns(io::Error),
    /// No address accepted the TCP connection.
    Connect(io::Error),
    /// The TLS handshake failed, once the TCP connection was up (whatever the error
    /// beneath says: a server closing the connection mid-handshake is an io error,
    /// not a rustls one): classified `tls`, as a `tls://` probe's handshake is.
    Tls(io::Error),
    /// hyper's handshake, sending the request or reading the response head failed.
    Http(hyper::Error),
    /// Reading the body failed.
    Body(hyper::Error),
    /// The connection was not made within the probe's timeout.
    Timeout,
}

impl HttpError {
    /// Whether the connection was never made (the lookup, the TCP connect or the TLS
    /// handshake failed).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            HttpError::Dns(_) | HttpError::Connect(_) | HttpError::Tls(_)
        )
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::Dns(_) => "dns error",
            HttpError::Connect(_) => "tcp connect error",
            HttpError::Tls(_) => "TLS handshake failed",
            HttpError::Http(_) => "error sending request",
            HttpError::Body(_) => "error reading the body",
            HttpError::Timeout => "connection not made within the probe's timeout",
        })
    }
}

impl StdError for HttpError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            HttpError::Dns(e) | HttpError::Connect(e) | HttpError::Tls(e) => Some(e),
            HttpError::Http(e) | HttpError::Body(e) => Some(e),
            HttpError::Timeout => None,
        }
    }
}

/// `error` and every error beneath it, outermost first.
///
/// `io::Error::source` skips the error it wraps, so for io errors the chain follows
/// `get_ref` instead: that is where rustls and the resolver put their errors.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| -> Option<&'a (dyn StdError + 'static)> {
        match e.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        }
    })
}

/// Whether anything in `error`'s chain is a timeout.
fn timed_out(error: &(dyn StdError + 'static)) -> bool {
    causes(error).any(|e| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
            || e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

fn has_rustls(error: &(dyn StdError + 'static)) -> bool {
    causes(error).any(|e| e.is::<rustls::Error>())
}

/// The innermost io error in `error`'s chain.
fn innermost_io<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    causes(error)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .last()
}

/// Classifies an error from sending a request or reading its body.
pub fn classify(error: &HttpError) -> ErrorClass {
    match error {
        HttpError::Timeout => ErrorClass::Timeout,
        HttpError::Dns(_) => ErrorClass::Dns,
        HttpError::Connect(e) if timed_out(e) => ErrorClass::Timeout,
        HttpError::Connect(_) => ErrorClass::Connect,
        HttpError::Tls(e) if timed_out(e) => ErrorClass::Timeout,
        HttpError::Tls(_) => ErrorClass::Tls,
        HttpError::Http(e) | HttpError::Body(e) => {
            if timed_out(e) {
                return ErrorClass::Timeout;
            }
            if has_rustls(e) {
                return ErrorClass::Tls;
            }
            if matches!(error, HttpError::Body(_)) {
                return ErrorClass::Body;
            }
            let io_kind = causes(e)
                .find_map(|e| e.downcast_ref::<io::Error>())
                .map(io::Error::kind);
            match io_kind {
                Some(
                    io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof,
                ) => ErrorClass::Connect,
                _ => ErrorClass::Other,
            }
        }
    }
}

/// One line describing `error` in words: the innermost cause that says what
/// happened, without the wrappers around it (hyper's `http2 error`, `(os error N)`).
pub fn describe(error: &HttpError) -> String {
    match error {
        HttpError::Timeout => "timed out".to_string(),
        HttpError::Dns(e) => explain::lookup(innermost_io(e).unwrap_or(e)),
        HttpError::Connect(e) => explain::io(innermost_io(e).unwrap_or(e)),
        HttpError::Tls(e) => match causes(e).find_map(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => explain::tls(tls),
            None => explain::handshake(innermost_io(e).unwrap_or(e)),
        },
        HttpError::Http(e) | HttpError::Body(e) => describe_http(e),
    }
}

/// [`describe`] for hyper's errors.
fn describe_http(error: &hyper::Error) -> String {
    let all: Vec<&(dyn StdError + 'static)> = causes(error).collect();
    if let Some(tls) = all.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return explain::tls(tls);
    }
    if let Some(io) = all.iter().rev().find_map(|e| e.downcast_ref::<io::Error>()) {
        return explain::io(io);
    }
    let mut parts: Vec<String> = Vec::new();
    for e in &all {
        let text = e.to_string();
        if is_wrapper(&text) {
            continue;
        }
        let text = explain::strip_os_error(strip_wrappers(&text));
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        return explain::strip_os_error(&error.to_string());
    }
    parts.join(": ")
}

/// `text` without the prefixes hyper and h2 put before what happened.
fn strip_wrappers(mut text: &str) -> &str {
    for prefix in [
        "http2 error: ",
        "connection error detected: ",
        "stream error detected: ",
    ] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    text
}

/// Whether `text` is a library's wrapper around the error that says what happened.
fn is_wrapper(text: &str) -> bool {
    text == "http2 error"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_class_and_words() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let connect = HttpError::Connect(refused());
        assert_eq!(classify(&connect), ErrorClass::Connect);
        assert_eq!(describe(&connect), "connection refused");
        let lookup = HttpError::Dns(io::Error::other("no such host"));
        assert_eq!(classify(&lookup), ErrorClass::Dns);
        assert_eq!(describe(&lookup), "name lookup failed: no such host");
        let eof = HttpError::Tls(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(classify(&eof), ErrorClass::Tls);
        assert_eq!(
            describe(&eof),
            "the server closed the connection during the TLS handshake"
        );
        let alert = HttpError::Tls(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        ));
        assert_eq!(classify(&alert), ErrorClass::Tls);
        assert!(describe(&alert).starts_with("the server refused the handshake"));
        let slow = HttpError::Connect(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(classify(&slow), ErrorClass::Timeout);
    }
}
