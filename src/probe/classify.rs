//! Mapping transport errors to error classes.

use std::error::Error as StdError;

use super::ErrorClass;

/// Classifies an error from sending a request or reading its body.
///
/// reqwest wraps hyper, which wraps the connector's error, which wraps rustls or io
/// errors: the class is decided by the innermost error that says what went wrong.
pub fn classify(error: &reqwest::Error) -> ErrorClass {
    if error.is_timeout() {
        return ErrorClass::Timeout;
    }
    if error.is_redirect() || error.is_builder() {
        return ErrorClass::Other;
    }
    let mut tls = false;
    let mut dns = false;
    let mut io_kind = None;
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                tls = true;
            }
        }
        let text = e.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            dns = true;
        }
        source = e.source();
    }
    if tls {
        return ErrorClass::Tls;
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

/// One line describing `error` and its causes, innermost last.
pub fn describe(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        // reqwest repeats the URL in its outer message; keep the causes, which say why.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.len() > 1 {
        parts.remove(0);
    }
    parts.join(": ")
}
