//! An HTTP probe: send the request, time it, judge the response.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap};

use super::classify::{classify, describe};
use super::client::{ClientPool, HostLimit};
use super::phase::ConnectionSink;
use super::trace::{ProbeScope, connection_ready};
use super::{ErrorClass, ProbeError, ProbeOutcome, ResponseInfo};
use crate::config::mask::{is_secret_param, mask_url};
use crate::config::{Endpoint, Expect, HttpVersion};

/// Everything needed to probe one HTTP endpoint, prepared once.
pub struct HttpProber {
    client: reqwest::Client,
    /// Shared with every endpoint on the same host (see [`HostLimit`]).
    limit: HostLimit,
    template: reqwest::Request,
    /// The request body, for a redirect that keeps it (307, 308).
    body: Option<String>,
    /// Whether redirects are followed, and from https:// to http:// too.
    follow_redirects: bool,
    allow_downgrade: bool,
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
    /// How long one probe may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

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
            body: endpoint.body.clone(),
            follow_redirects: endpoint.follow_redirects,
            allow_downgrade: endpoint.allow_downgrade,
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

    /// Sends one request, timed from `started`, follows its redirects, and reads the
    /// whole body of the last response.
    async fn send(&self, started: Instant) -> ProbeOutcome {
        let Some(first) = self.template.try_clone() else {
            return ProbeOutcome::failed(ErrorClass::Other, "request body cannot be replayed");
        };
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let response = match self.follow(first, deadline).await {
            Ok(response) => response,
            Err(outcome) => return *outcome,
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
        let response_info = ResponseInfo {
            http_version: Some(version_name(response.version())),
            remote_addr: response.remote_addr(),
        };
        // The same deadline bounds the body, so a slow body is a timeout too; the
        // status that did arrive is still counted.
        let mut outcome = match tokio::time::timeout_at(
            deadline,
            self.read_body(response, status, started, headers_at),
        )
        .await
        {
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
        outcome.response = Some(response_info);
        outcome
    }

    /// Sends `request` and, when redirects are followed, the requests its redirects
    /// lead to, all within `deadline` and in one probe's scope (so each new
    /// connection's phases are reported as for a single request); returns the last
    /// response, its body unread.
    ///
    /// Each hop's request is built here, not by reqwest, so that what leaves the
    /// endpoint's origin is decided in one place ([`HttpProber::next_request`]).
    async fn follow(
        &self,
        mut request: reqwest::Request,
        deadline: tokio::time::Instant,
    ) -> Result<reqwest::Response, Box<ProbeOutcome>> {
        let scope = ProbeScope::new(self.connections.clone(), deadline.into_std());
        let mut redirects = 0usize;
        let mut last_location: Option<String> = None;
        loop {
            let method = request.method().clone();
            let sending = scope.run(self.client.execute(request));
            let after = |message: String| match &last_location {
                None => message,
                Some(location) => format!(
                    "{message} (after {redirects} redirect{}; last Location: {location})",
                    if redirects == 1 { "" } else { "s" }
                ),
            };
            let response = match tokio::time::timeout_at(deadline, sending).await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    // reqwest's outer message repeats the URL, which may hold a secret.
                    let e = e.without_url();
                    return Err(Box::new(match classify(&e) {
                        // The connection attempt ran out of the probe's time.
                        ErrorClass::Timeout => ProbeOutcome::failed(
                            ErrorClass::Timeout,
                            after(self.timeout_message("no response")),
                        ),
                        // The connection was made, and broke on the first HTTP/2 bytes.
                        ErrorClass::Other | ErrorClass::Connect
                            if self.prior_knowledge && !e.is_connect() =>
                        {
                            ProbeOutcome::failed(
                                ErrorClass::Other,
                                after(format!(
                                    "the server does not speak HTTP/2 from the first byte ({}): http = \"2\" sends HTTP/2 without negotiating it, which an HTTP/1.1-only server does not understand; use http = \"1.1\", or leave `http` unset to negotiate",
                                    describe(&e)
                                )),
                            )
                        }
                        class => ProbeOutcome::failed(class, after(describe(&e))),
                    }));
                }
                Err(_) => {
                    return Err(Box::new(ProbeOutcome::failed(
                        ErrorClass::Timeout,
                        after(self.timeout_message("no response")),
                    )));
                }
            };
            if !self.follow_redirects {
                return Ok(response);
            }
            let Some(location) = redirect_location(&response) else {
                return Ok(response);
            };
            let fail =
                |message: String| Err(Box::new(ProbeOutcome::failed(ErrorClass::Other, message)));
            let Ok(location) = location.to_str() else {
                return fail(format!(
                    "redirect {} with a Location that is not text",
                    response.status().as_u16()
                ));
            };
            let shown = cut_to(&mask_url(location), LOCATION_SHOWN);
            if redirects == ClientPool::MAX_REDIRECTS {
                return fail(format!(
                    "stopped after {redirects} redirects; last Location: {shown}"
                ));
            }
            let next = match response.url().join(location) {
                Ok(next) => next,
                Err(e) => return fail(format!("redirect to an invalid Location ({e}): {shown}")),
            };
            if !matches!(next.scheme(), "http" | "https") {
                return fail(format!(
                    "redirect to a {}: URL, which cannot be followed; Location: {shown}",
                    next.scheme()
                ));
            }
            if response.url().scheme() == "https"
                && next.scheme() == "http"
                && !self.allow_downgrade
            {
                return fail(format!(
                    "redirect from https:// to http:// refused (allow_downgrade = true follows it); Location: {shown}"
                ));
            }
            redirects += 1;
            last_location = Some(shown);
            let status = response.status().as_u16();
            drain(response, deadline).await;
            request = self.next_request(method, status, next);
        }
    }

    /// The request a `status` redirect of a `method` request to `url` makes.
    ///
    /// To the endpoint's own origin (scheme, host and port) it carries the
    /// configured headers; to another origin none of them (no `Authorization`, no
    /// `Cookie`, nothing from `headers`) but the `User-Agent`, and the URL's secret
    /// query parameters are left out. No hop carries a `Referer`.
    fn next_request(
        &self,
        method: reqwest::Method,
        status: u16,
        mut url: url::Url,
    ) -> reqwest::Request {
        // As browsers and reqwest do: 301, 302 and 303 turn into a GET without a body
        // (HEAD stays HEAD); 307 and 308 repeat the request.
        let keep_body = matches!(status, 307 | 308);
        let method = if keep_body || method == reqwest::Method::HEAD {
            method
        } else {
            reqwest::Method::GET
        };
        let same_origin = url.origin() == self.template.url().origin();
        let mut headers = HeaderMap::new();
        for (name, value) in self.template.headers() {
            let content =
                name.as_str().starts_with("content-") || name == header::TRANSFER_ENCODING;
            if (same_origin || name == header::USER_AGENT) && (keep_body || !content) {
                headers.append(name, value.clone());
            }
        }
        if !same_origin {
            drop_secret_params(&mut url);
        }
        // A fragment is the client's alone; it is never sent.
        url.set_fragment(None);
        let mut request = reqwest::Request::new(method, url);
        *request.headers_mut() = headers;
        if keep_body && let Some(body) = &self.body {
            *request.body_mut() = Some(body.clone().into());
        }
        request
    }

    fn timed_out(&self, what: &str) -> ProbeOutcome {
        ProbeOutcome::failed(ErrorClass::Timeout, self.timeout_message(what))
    }

    fn timeout_message(&self, what: &str) -> String {
        format!("{what} within {}", humantime::format_duration(self.timeout))
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

/// The Location of a redirect response (301, 302, 303, 307, 308), if it has one; a
/// redirect without one is the response.
fn redirect_location(response: &reqwest::Response) -> Option<&header::HeaderValue> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    response.headers().get(header::LOCATION)
}

/// The most of a redirect's body read so that its connection can be reused; beyond
/// it the connection is dropped instead.
const DRAIN_BYTES: usize = 64 * 1024;

/// Reads (and discards) a redirect's body, within `deadline`.
async fn drain(mut response: reqwest::Response, deadline: tokio::time::Instant) {
    let mut read = 0usize;
    // An error or the deadline only means the connection is not reused: the next
    // request finds out about the deadline itself.
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        read += chunk.len();
        if read > DRAIN_BYTES {
            break;
        }
    }
}

/// `url` without the query parameters whose names look secret (see
/// [`is_secret_param`]), the others kept exactly as they were.
fn drop_secret_params(url: &mut url::Url) {
    let Some(query) = url.query() else {
        return;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !is_secret_param(pair.split_once('=').map_or(*pair, |(name, _)| name)))
        .collect();
    if kept.len() == query.split('&').count() {
        return;
    }
    let kept = kept.join("&");
    url.set_query(if kept.is_empty() { None } else { Some(&kept) });
}

/// How an HTTP version is shown.
fn version_name(version: reqwest::Version) -> &'static str {
    match version {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_11 => "HTTP/1.1",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

/// JSON equality where numbers compare by value (TOML's `1` equals JSON's `1.0`).
fn json_equal(found: &serde_json::Value, expected: &serde_json::Value) -> bool {
    match (found.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => found == expected,
    }
}

/// The most characters of a `Location` a message quotes: enough for any URL a person
/// reads, while a hostile server's megabyte header stays out of every output.
const LOCATION_SHOWN: usize = 200;

/// At most 60 characters of `text`, for messages.
fn cut(text: &str) -> String {
    cut_to(text, 60)
}

/// At most `max` characters of `text`, with `…` when cut.
fn cut_to(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
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
