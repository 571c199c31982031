//! Mapping transport errors to error classes.

use std::error::Error as StdError;

use super::ErrorClass;

/// `error` and every error beneath it, outermost first.
///
/// `io::Error::source` skips the error it wraps, so for io errors the chain follows
/// `get_ref` instead: that is where rustls and the resolver put their errors.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| -> Option<&'a (dyn StdError + 'static)> {
        match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        }
    })
}

/// Classifies an error from sending a request or reading its body.
pub fn classify(error: &reqwest::Error) -> ErrorClass {
    if error.is_timeout() {
        return ErrorClass::Timeout;
    }
    if error.is_redirect() || error.is_builder() {
        return ErrorClass::Other;
    }
    let mut dns = false;
    let mut io_kind = None;
    for e in causes(error) {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return ErrorClass::Tls;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        let text = e.to_string();
        dns |= text.starts_with("dns error") || text.contains("failed to lookup address");
    }
    if dns {
        return ErrorClass::Dns;
    }
    if error.is_connect() {
        return ErrorClass::Connect;
    }
    if error.is_body() || error.is_decode() {
        return ErrorClass::Body;
    }
    match io_kind {
        Some(std::io::ErrorKind::TimedOut) => ErrorClass::Timeout,
        Some(
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof,
        ) => ErrorClass::Connect,
        _ => ErrorClass::Other,
    }
}

/// One line describing `error` by its causes (reqwest's outer message only repeats the URL).
pub fn describe(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in causes(error).skip(1) {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}
