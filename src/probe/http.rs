//! An HTTP probe: send the request, time it, judge the response.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::classify::{classify, describe};
use super::client::HostLimit;
use super::phase::ConnectionSink;
use super::trace::{ProbeScope, connection_ready};
use super::{ErrorClass, ProbeError, ProbeOutcome};
use crate::config::{Endpoint, Expect, HttpVersion};

/// Everything needed to probe one HTTP endpoint, prepared once.
pub struct HttpProber {
    client: reqwest::Client,
    /// Shared with every endpoint on the same host (see [`HostLimit`]).
    limit: HostLimit,
    template: reqwest::Request,
    timeout: Duration,
    max_body_bytes: u64,
    expect: Expect,
    /// `http = "2"`: HTTP/2 from the first byte, without negotiating it.
    prior_knowledge: bool,
    connections: ConnectionSink,
    /// The latest certificate seen (a hash of its DER) and its expiry, so that the
    /// same certificate is not parsed again for every response.
    certificate: Mutex<Option<(u64, Option<SystemTime>)>>,
}

impl HttpProber {
    /// Prepares the request for `endpoint`, sent through `client`; the connections
    /// its probes open are reported to `connections`.
    pub fn new(
        endpoint: &Endpoint,
        client: reqwest::Client,
        limit: HostLimit,
        connections: ConnectionSink,
    ) -> anyhow::Result<Self> {
        let mut builder = client.request(endpoint.method.clone(), endpoint.url.clone());
        for (name, value) in &endpoint.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &endpoint.body {
            builder = builder.body(body.clone());
        }
        Ok(HttpProber {
            template: builder.build()?,
            client,
            limit,
            timeout: endpoint.timeout,
            max_body_bytes: endpoint.max_body_bytes,
            expect: endpoint.expect.clone(),
            prior_knowledge: endpoint.http == Some(HttpVersion::Http2),
            connections,
            certificate: Mutex::new(None),
        })
    }

    /// When the certificate of the TLS connection `response` came over expires.
    fn cert_not_after(&self, response: &reqwest::Response) -> Option<SystemTime> {
        let der = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()?
            .peer_certificate()?;
        let mut hasher = DefaultHasher::new();
        der.hash(&mut hasher);
        let hash = hasher.finish();
        let mut cached = self
            .certificate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *cached {
            Some((seen, not_after)) if seen == hash => not_after,
            _ => {
                let not_after = super::tls::not_after(der);
                *cached = Some((hash, not_after));
                not_after
            }
        }
    }

    /// Waits for a turn on the host, then sends one request and reads the whole body
    /// within the timeout; returns how long the turn took to come, and the outcome.
    ///
    /// The wait is not latency (the request had not been sent): the caller counts it
    /// as probetop's own lag.
    pub async fn probe(&self) -> (Duration, ProbeOutcome) {
        let queued = Instant::now();
        let _turn = self.limit.acquire().await;
        let started = Instant::now();
        let waited = started - queued;
        (waited, self.send(started).await)
    }

    /// Sends one request, timed from `started`, and reads the whole body.
    async fn send(&self, started: Instant) -> ProbeOutcome {
        let Some(request) = self.template.try_clone() else {
            return ProbeOutcome::failed(ErrorClass::Other, "request body cannot be replayed");
        };
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let scope = ProbeScope::new(self.connections.clone(), deadline.into_std());
        let sending = scope.run(self.client.execute(request));
        let response = match tokio::time::timeout_at(deadline, sending).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return match classify(&e) {
                    // The connection attempt ran out of the probe's time.
                    ErrorClass::Timeout => self.timed_out("no response"),
                    // The connection was made, and broke on the first HTTP/2 bytes.
                    ErrorClass::Other | ErrorClass::Connect
                        if self.prior_knowledge && !e.is_connect() =>
                    {
                        ProbeOutcome::failed(
                            ErrorClass::Other,
                            format!(
                                "the server does not speak HTTP/2 from the first byte ({}): http = \"2\" sends HTTP/2 without negotiating it, which an HTTP/1.1-only server does not understand; use http = \"1.1\", or leave `http` unset to negotiate",
                                describe(&e)
                            ),
                        )
                    }
                    class => ProbeOutcome::failed(class, describe(&e)),
                };
            }
            Err(_) => return self.timed_out("no response"),
        };
        let headers_at = Instant::now();
        // The request went out once its connection was ready: at once on a connection
        // that was idle, later on one being opened (by this probe or, when shared, by
        // another). DNS, connect and TLS are reported by the connector, once per
        // connection.
        let sent_at = connection_ready(&response).map_or(started, |ready| ready.max(started));
        let ttfb = headers_at.saturating_duration_since(sent_at);
        let cert_not_after = self.cert_not_after(&response);
        let status = response.status().as_u16();
        // The same deadline bounds the body, so a slow body is a timeout too; the
        // status that did arrive is still counted.
        let reading = self.read_body(response, status, started, headers_at);
        let mut outcome = match tokio::time::timeout_at(deadline, reading).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let mut outcome = self.timed_out("body not complete");
                outcome.status = Some(status);
                outcome
            }
        };
        // Headers came, so the TTFB holds even when the body then failed.
        outcome.ttfb = Some(ttfb);
        outcome.cert_not_after = cert_not_after;
        outcome
    }

    fn timed_out(&self, what: &str) -> ProbeOutcome {
        ProbeOutcome::failed(
            ErrorClass::Timeout,
            format!("{what} within {}", humantime::format_duration(self.timeout)),
        )
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        status: u16,
        started: Instant,
        headers_at: Instant,
    ) -> ProbeOutcome {
        let keep_body = self.expect.needs_body();
        // Headers are checked now: reading the body consumes the response.
        let header_error = self.check_headers(response.headers());
        let mut body = Vec::new();
        let mut size: u64 = 0;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > self.max_body_bytes {
                        return body_error(
                            status,
                            format!("body larger than {} bytes", self.max_body_bytes),
                        );
                    }
                    if keep_body {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let class = match classify(&e) {
                        ErrorClass::Timeout => ErrorClass::Timeout,
                        _ => ErrorClass::Body,
                    };
                    let mut outcome = ProbeOutcome::failed(
                        class,
                        format!("body broke off after {size} bytes: {}", describe(&e)),
                    );
                    outcome.status = Some(status);
                    return outcome;
                }
            }
        }
        let finished = Instant::now();
        let latency = finished - started;
        ProbeOutcome {
            latency: Some(latency),
            status: Some(status),
            error: self.judge(status, header_error, &body),
            slow: self.expect.max_latency.is_some_and(|max| latency > max),
            transfer: Some(finished - headers_at),
            // The TTFB and the certificate are set by `probe`, whatever the body did.
            ..ProbeOutcome::default()
        }
    }

    /// Checks a complete response against the expectations: status, then headers,
    /// then body. The first failed expectation is reported, saying what came back.
    fn judge(&self, status: u16, header_error: Option<String>, body: &[u8]) -> Option<ProbeError> {
        let fail = |class, message| Some(ProbeError { class, message });
        if !self.expect.accepts_status(status) {
            let expected = match &self.expect.status {
                Some(list) => list
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "2xx or 3xx".to_string(),
            };
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|code| code.canonical_reason())
                .map(|reason| format!(" {reason}"))
                .unwrap_or_default();
            return fail(
                ErrorClass::Status,
                format!("the server answered status {status}{reason}, expected {expected}"),
            );
        }
        if let Some(message) = header_error {
            return fail(ErrorClass::Status, message);
        }
        if let Some(needle) = &self.expect.body_contains {
            let found =
                needle.is_empty() || body.windows(needle.len()).any(|w| w == needle.as_bytes());
            if !found {
                return fail(
                    ErrorClass::Body,
                    format!(
                        "body does not contain {needle:?}; it starts {}",
                        excerpt(body)
                    ),
                );
            }
        }
        if let Some(regex) = &self.expect.body_regex
            && !regex.is_match(&String::from_utf8_lossy(body))
        {
            return fail(
                ErrorClass::Body,
                format!(
                    "body does not match /{}/; it starts {}",
                    regex.as_str(),
                    excerpt(body)
                ),
            );
        }
        if !self.expect.json.is_empty() {
            let document: serde_json::Value = match serde_json::from_slice(body) {
                Ok(document) => document,
                Err(e) => {
                    return fail(
                        ErrorClass::Body,
                        format!("body is not JSON ({e}); it starts {}", excerpt(body)),
                    );
                }
            };
            for (pointer, expected) in &self.expect.json {
                match document.pointer(pointer) {
                    None => {
                        return fail(ErrorClass::Body, format!("json {pointer:?} is missing"));
                    }
                    Some(found) if !json_equal(found, expected) => {
                        return fail(
                            ErrorClass::Body,
                            format!(
                                "json {pointer:?} is {}, expected {expected}",
                                cut(&found.to_string())
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }

    /// The first header expectation that fails, as a message.
    fn check_headers(&self, headers: &reqwest::header::HeaderMap) -> Option<String> {
        for (name, regex) in &self.expect.headers {
            let Some(value) = headers.get(name.as_str()) else {
                return Some(format!("header {name} is missing"));
            };
            let value = String::from_utf8_lossy(value.as_bytes());
            if !regex.is_match(&value) {
                return Some(format!(
                    "header {name} is {:?}, which does not match /{}/",
                    cut(&value),
                    regex.as_str()
                ));
            }
        }
        None
    }
}

/// JSON equality where numbers compare by value (TOML's `1` equals JSON's `1.0`).
fn json_equal(found: &serde_json::Value, expected: &serde_json::Value) -> bool {
    match (found.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => found == expected,
    }
}

/// At most 60 characters of `text`, for messages.
fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The start of a body, quoted, for messages.
fn excerpt(body: &[u8]) -> String {
    format!("{:?}", cut(&String::from_utf8_lossy(body)))
}

fn body_error(status: u16, message: String) -> ProbeOutcome {
    let mut outcome = ProbeOutcome::failed(ErrorClass::Body, message);
    outcome.status = Some(status);
    outcome
}
