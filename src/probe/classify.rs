//! Mapping transport errors to error classes and to words.

use std::error::Error as StdError;

use super::ErrorClass;
use super::explain;
use super::trace::HandshakeFailed;

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
        if e.downcast_ref::<rustls::Error>().is_some() || e.is::<HandshakeFailed>() {
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

/// One line describing `error` in words: the innermost cause that says what
/// happened, without the wrappers around it (reqwest's `error sending request for
/// url (…)`, hyper's `client error (Connect)`, `(os error N)`).
pub fn describe(error: &reqwest::Error) -> String {
    let all: Vec<&(dyn StdError + 'static)> = causes(error).collect();
    if let Some(tls) = all.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return explain::tls(tls);
    }
    let handshake = all.iter().any(|e| e.is::<HandshakeFailed>());
    // hyper's connector says only `dns error` around the resolver's own error.
    let lookup = all.iter().any(|e| e.to_string() == "dns error");
    if let Some(io) = all
        .iter()
        .rev()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .filter(|io| {
            io.get_ref()
                .is_none_or(|inner| !inner.is::<HandshakeFailed>())
        })
    {
        return if handshake {
            explain::handshake(io)
        } else if lookup {
            explain::lookup(io)
        } else {
            explain::io(io)
        };
    }
    let mut parts: Vec<String> = Vec::new();
    for e in all.iter().skip(1) {
        let text = e.to_string();
        if is_wrapper(&text) || e.is::<HandshakeFailed>() {
            continue;
        }
        let text = explain::strip_os_error(strip_wrappers(&text));
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        // The URL is left out: resolved, it may hold a secret.
        let text = error.to_string();
        let text = text.split(" for url (").next().unwrap_or_default();
        return explain::strip_os_error(text);
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
    text.starts_with("client error (")
        || text.starts_with("error sending request")
        || text == "tcp connect error"
        || text == "http2 error"
}
