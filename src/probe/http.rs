//! An HTTP probe: send the request, time it, judge the response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;

use super::classify::{HttpError, classify, describe};
use super::client::{Client, ClientPool, HostLimit};
use super::conn::{Body, Conn, ConnInfo, HostPool, Sender};
use super::phase::ConnectionSink;
use super::{ErrorClass, ProbeError, ProbeOutcome, ResponseInfo};
use crate::config::mask::{is_secret_param, mask_url};
use crate::config::{Endpoint, Expect, HttpVersion};

/// The `User-Agent` every request carries unless the endpoint sets its own.
const USER_AGENT: &str = concat!("probetop/", env!("CARGO_PKG_VERSION"));

/// Everything needed to probe one HTTP endpoint, prepared once.
pub struct HttpProber {
    /// For the origins redirects lead to.
    client: Arc<Client>,
    /// Shared with every endpoint on the same host (see [`HostLimit`]).
    limit: HostLimit,
    /// The first request, ready to send.
    template: Hop,
    /// The configured headers (without the defaults), for the hops of redirects.
    headers: HeaderMap,
    /// The request body, for a redirect that keeps it (307, 308).
    body: Option<Bytes>,
    /// Whether redirects are followed, and from https:// to http:// too.
    follow_redirects: bool,
    allow_downgrade: bool,
    timeout: Duration,
    max_body_bytes: u64,
    expect: Expect,
    /// `http = "2"`: HTTP/2 from the first byte, without negotiating it.
    prior_knowledge: bool,
    connections: ConnectionSink,
}

/// One request, prepared to be sent as often as needed: everything hyper needs but
/// the request value itself, which is built per send from cheap clones.
struct Hop {
    method: Method,
    url: url::Url,
    /// `/path?query`, what HTTP/1.1 sends.
    origin_form: Uri,
    /// The whole URI, what HTTP/2 sends (`:scheme`, `:authority`, `:path`).
    absolute: Uri,
    /// The `Host` an HTTP/1.1 request carries, unless the headers have one.
    host: HeaderValue,
    /// The configured headers and the defaults (`User-Agent`, `Accept`).
    headers: HeaderMap,
    body: Bytes,
    /// The connections to this request's origin.
    pool: Arc<HostPool>,
}

impl Hop {
    /// A `method` request to `url` (its fragment left out: it is the client's alone)
    /// with `headers` and the defaults, through `client`.
    fn new(
        client: &Client,
        method: Method,
        mut url: url::Url,
        mut headers: HeaderMap,
        body: Option<Bytes>,
    ) -> anyhow::Result<Self> {
        url.set_fragment(None);
        // Credentials in the URL never go out in it (see `take_userinfo`).
        let _ = take_userinfo(&mut url);
        let absolute = Uri::try_from(url.as_str())?;
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let origin_form = Uri::try_from(if path.is_empty() { "/" } else { path })?;
        let authority = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("the URL has no host"))?;
        // The port only when it is not the scheme's own, as browsers (and hyper) do.
        let host = HeaderValue::try_from(match url.port() {
            Some(port) => format!("{authority}:{port}"),
            None => authority.to_string(),
        })?;
        headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        Ok(Hop {
            pool: client.pool(&url)?,
            method,
            url,
            origin_form,
            absolute,
            host,
            headers,
            body: body.unwrap_or_default(),
        })
    }

    /// The request to send on `sender`'s connection.
    fn request(&self, sender: &Sender) -> Request<Body> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        let mut headers = self.headers.clone();
        match sender {
            Sender::H1(_) => {
                *request.uri_mut() = self.origin_form.clone();
                headers
                    .entry(header::HOST)
                    .or_insert_with(|| self.host.clone());
            }
            Sender::H2(_) => {
                *request.uri_mut() = self.absolute.clone();
                *request.version_mut() = Version::HTTP_2;
            }
        }
        *request.headers_mut() = headers;
        request
    }
}

/// A response head, and what is needed to give its connection back.
struct Answer {
    response: Response<Incoming>,
    /// The HTTP/1.1 connection it came over, to go back to the pool once the body is
    /// read whole (an HTTP/2 one stays shared in its pool).
    h1: Option<hyper::client::conn::http1::SendRequest<Body>>,
    info: ConnInfo,
    /// When the request was handed to a ready connection.
    sent_at: Instant,
}

impl HttpProber {
    /// How long one probe may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Prepares the request for `endpoint`, sent through `client`; the connections
    /// its probes open are reported to `connections`.
    pub(super) fn new(
        endpoint: &Endpoint,
        client: Arc<Client>,
        limit: HostLimit,
        connections: ConnectionSink,
    ) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        let mut url = endpoint.url.clone();
        if let Some(authorization) = take_userinfo(&mut url) {
            headers.append(header::AUTHORIZATION, authorization);
        }
        for (name, value) in &endpoint.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        let body = endpoint.body.clone().map(Bytes::from);
        let template = Hop::new(
            &client,
            endpoint.method.clone(),
            url,
            headers.clone(),
            body.clone(),
        )?;
        Ok(HttpProber {
            template,
            headers,
            body,
            follow_redirects: endpoint.follow_redirects,
            allow_downgrade: endpoint.allow_downgrade,
            client,
            limit,
            timeout: endpoint.timeout,
            max_body_bytes: endpoint.max_body_bytes,
            expect: endpoint.expect.clone(),
            prior_knowledge: endpoint.http == Some(HttpVersion::Http2),
            connections,
        })
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
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let (last, answer) = match self.follow(deadline).await {
            Ok(answer) => answer,
            Err(outcome) => return *outcome,
        };
        let headers_at = Instant::now();
        // The request went out once its connection was ready: at once on a connection
        // that was idle, later on one being opened. DNS, connect and TLS are reported
        // by the probe that dialed, once per connection.
        let ttfb = headers_at.saturating_duration_since(answer.sent_at.max(started));
        let status = answer.response.status().as_u16();
        let response_info = ResponseInfo {
            http_version: Some(version_name(answer.response.version())),
            remote_addr: answer.info.remote,
        };
        let pool = &last.as_deref().unwrap_or(&self.template).pool;
        // The same deadline bounds the body, so a slow body is a timeout too; the
        // status that did arrive is still counted.
        let mut outcome = match tokio::time::timeout_at(
            deadline,
            self.read_body(answer.response, status, started, headers_at),
        )
        .await
        {
            Ok((outcome, whole)) => {
                if whole && let Some(sender) = answer.h1 {
                    pool.check_in(sender, answer.info);
                }
                outcome
            }
            Err(_) => {
                let mut outcome = self.timed_out("body not complete");
                outcome.status = Some(status);
                outcome
            }
        };
        // Headers came, so the TTFB holds even when the body then failed.
        outcome.ttfb = Some(ttfb);
        outcome.cert_not_after = answer.info.cert_not_after;
        outcome.response = Some(response_info);
        outcome
    }

    /// Sends `hop` on a pooled connection or a new one. A reused connection the
    /// server closed just as the request went to it is no fault of the target's, so
    /// the request is sent again, once, on a new connection: when it was not written
    /// (hyper gives it back), and, for a method that may be repeated, when the
    /// connection closed before the answer's head came (the server closed an idle
    /// keep-alive connection as the request crossed it: `keepalive_timeout`'s race).
    async fn exchange(
        &self,
        hop: &Hop,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, HttpError> {
        let mut conn = match hop.pool.checkout() {
            Some(conn) => conn,
            // Boxed: a TLS handshake's state is large, and most probes never dial.
            None => Box::pin(hop.pool.dial(deadline, &self.connections)).await?,
        };
        loop {
            let request = hop.request(&conn.sender);
            let Conn {
                mut sender,
                info,
                reused,
                ready,
            } = conn;
            // A pooled connection was ready before this probe: the request goes out now.
            let sent_at = if reused { Instant::now() } else { ready };
            let result = match &mut sender {
                Sender::H1(h1) => h1.try_send_request(request).await,
                Sender::H2(h2) => h2.try_send_request(request).await,
            };
            match result {
                Ok(response) => {
                    return Ok(Answer {
                        response,
                        h1: match sender {
                            Sender::H1(h1) => Some(h1),
                            Sender::H2(_) => None,
                        },
                        info,
                        sent_at,
                    });
                }
                Err(e)
                    if reused
                        && (e.message().is_some()
                            || e.error().is_canceled()
                            || (idempotent(&hop.method) && closed_unanswered(e.error()))) =>
                {
                    conn = Box::pin(hop.pool.dial(deadline, &self.connections)).await?;
                }
                Err(e) => return Err(HttpError::Http(e.into_error())),
            }
        }
    }

    /// Sends the first request and, when redirects are followed, the requests its
    /// redirects lead to, all within `deadline`; returns the last request (`None`:
    /// the first) and its response, the body unread.
    ///
    /// Each hop's request is built here, so that what leaves the endpoint's origin
    /// is decided in one place ([`HttpProber::next_request`]).
    async fn follow(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<(Option<Box<Hop>>, Answer), Box<ProbeOutcome>> {
        let mut redirects = 0usize;
        let mut last_location: Option<String> = None;
        let mut next: Option<Box<Hop>> = None;
        loop {
            let hop = next.as_deref().unwrap_or(&self.template);
            let after = |message: String| match &last_location {
                None => message,
                Some(location) => format!(
                    "{message} (after {redirects} redirect{}; last Location: {location})",
                    if redirects == 1 { "" } else { "s" }
                ),
            };
            let answer = match tokio::time::timeout_at(deadline, self.exchange(hop, deadline)).await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
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
                return Ok((next, answer));
            }
            let Some(location) = redirect_location(&answer.response) else {
                return Ok((next, answer));
            };
            let fail = |message: String| {
                Err(Box::new(ProbeOutcome::failed(
                    ErrorClass::Redirect,
                    message,
                )))
            };
            let status = answer.response.status().as_u16();
            let shown = shown_location(location);
            let Ok(location) = location.to_str() else {
                return fail(format!(
                    "redirect {status} with a Location that is not text: {shown}"
                ));
            };
            if redirects == ClientPool::MAX_REDIRECTS {
                return fail(format!(
                    "stopped after {redirects} redirects; last Location: {shown}"
                ));
            }
            let target = match hop.url.join(location) {
                Ok(target) => target,
                Err(e) => return fail(format!("redirect to an invalid Location ({e}): {shown}")),
            };
            if !matches!(target.scheme(), "http" | "https") {
                return fail(format!(
                    "redirect to a {}: URL, which cannot be followed; Location: {shown}",
                    target.scheme()
                ));
            }
            if hop.url.scheme() == "https" && target.scheme() == "http" && !self.allow_downgrade {
                return fail(format!(
                    "redirect from https:// to http:// refused (allow_downgrade = true follows it); Location: {shown}"
                ));
            }
            let method = hop.method.clone();
            redirects += 1;
            last_location = Some(shown.clone());
            let pool = Arc::clone(&hop.pool);
            if drain(answer.response, deadline).await
                && let Some(sender) = answer.h1
            {
                pool.check_in(sender, answer.info);
            }
            next = match self.next_request(method, status, target) {
                Ok(hop) => Some(Box::new(hop)),
                Err(e) => return fail(format!("redirect to an invalid Location ({e}): {shown}")),
            };
        }
    }

    /// The request a `status` redirect of a `method` request to `url` makes.
    ///
    /// To the endpoint's own origin (scheme, host and port) it carries the
    /// configured headers; to another origin none of them (no `Authorization`, no
    /// `Cookie`, nothing from `headers`) but the `User-Agent`, and the URL's secret
    /// query parameters are left out. No hop carries a `Referer`.
    fn next_request(&self, method: Method, status: u16, mut url: url::Url) -> anyhow::Result<Hop> {
        // As browsers and reqwest do: 301, 302 and 303 turn into a GET without a body
        // (HEAD stays HEAD); 307 and 308 repeat the request.
        let keep_body = matches!(status, 307 | 308);
        let method = if keep_body || method == Method::HEAD {
            method
        } else {
            Method::GET
        };
        let same_origin = url.origin() == self.template.url.origin();
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let content =
                name.as_str().starts_with("content-") || name == header::TRANSFER_ENCODING;
            if (same_origin || name == header::USER_AGENT) && (keep_body || !content) {
                headers.append(name, value.clone());
            }
        }
        if !same_origin {
            drop_secret_params(&mut url);
        }
        let body = if keep_body { self.body.clone() } else { None };
        Hop::new(&self.client, method, url, headers, body)
    }

    fn timed_out(&self, what: &str) -> ProbeOutcome {
        ProbeOutcome::failed(ErrorClass::Timeout, self.timeout_message(what))
    }

    fn timeout_message(&self, what: &str) -> String {
        format!("{what} within {}", humantime::format_duration(self.timeout))
    }

    /// Reads the body of `response`; says too whether it was read to its end (so
    /// that its connection can be reused).
    async fn read_body(
        &self,
        response: Response<Incoming>,
        status: u16,
        started: Instant,
        headers_at: Instant,
    ) -> (ProbeOutcome, bool) {
        let keep_body = self.expect.needs_body();
        // Headers are checked now: reading the body consumes the response.
        let header_error = self.check_headers(response.headers());
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        let mut size: u64 = 0;
        loop {
            match incoming.frame().await {
                Some(Ok(frame)) => {
                    // Trailers are not part of the body.
                    let Ok(chunk) = frame.into_data() else {
                        continue;
                    };
                    size += chunk.len() as u64;
                    if size > self.max_body_bytes {
                        let message = format!("body larger than {} bytes", self.max_body_bytes);
                        return (body_error(status, message), false);
                    }
                    if keep_body {
                        body.extend_from_slice(&chunk);
                    }
                }
                None => break,
                Some(Err(e)) => {
                    let e = HttpError::Body(e);
                    let class = match classify(&e) {
                        ErrorClass::Timeout => ErrorClass::Timeout,
                        _ => ErrorClass::Body,
                    };
                    let mut outcome = ProbeOutcome::failed(
                        class,
                        format!("body broke off after {size} bytes: {}", describe(&e)),
                    );
                    outcome.status = Some(status);
                    return (outcome, false);
                }
            }
        }
        let finished = Instant::now();
        let latency = finished - started;
        let outcome = ProbeOutcome {
            latency: Some(latency),
            status: Some(status),
            error: self.judge(status, header_error, &body),
            slow: self.expect.max_latency.is_some_and(|max| latency > max),
            transfer: Some(finished - headers_at),
            // The TTFB and the certificate are set by `send`, whatever the body did.
            ..ProbeOutcome::default()
        };
        (outcome, true)
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
            let reason = http::StatusCode::from_u16(status)
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
    fn check_headers(&self, headers: &HeaderMap) -> Option<String> {
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

/// Whether a request with `method` may be sent twice with the effect of once (RFC 9110,
/// 9.2.2), so repeating it after a connection closed under it is safe.
fn idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

/// Whether `error` says the connection closed (or was reset) before any answer came.
fn closed_unanswered(error: &hyper::Error) -> bool {
    use std::error::Error as _;
    if error.is_incomplete_message() {
        return true;
    }
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            );
        }
        source = e.source();
    }
    false
}

/// The Location of a redirect response (301, 302, 303, 307, 308), if it has one; a
/// redirect without one is the response.
fn redirect_location(response: &Response<Incoming>) -> Option<&HeaderValue> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    response.headers().get(header::LOCATION)
}

/// The most of a redirect's body read so that its connection can be reused; beyond
/// it the connection is dropped instead.
const DRAIN_BYTES: usize = 64 * 1024;

/// Reads (and discards) a redirect's body, within `deadline`; says whether it was
/// read to its end, so that its connection can be reused.
async fn drain(response: Response<Incoming>, deadline: tokio::time::Instant) -> bool {
    let mut body = response.into_body();
    let mut read = 0usize;
    // An error or the deadline only means the connection is not reused: the next
    // request finds out about the deadline itself.
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > DRAIN_BYTES {
                    return false;
                }
            }
            Ok(None) => return true,
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}

/// Takes a user name and password out of `url` and returns them as a Basic
/// `Authorization` value (marked sensitive), as reqwest did: a URL's credentials are
/// sent as a header, never in the request line or HTTP/2's `:authority`.
fn take_userinfo(url: &mut url::Url) -> Option<HeaderValue> {
    use base64::Engine as _;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let user = percent_decoded(url.username());
    let password = url.password().map(percent_decoded).unwrap_or_default();
    // Cannot fail for a URL with a host, which every http(s) URL has.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut value = HeaderValue::try_from(format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// `text` with its `%XX` escapes decoded (invalid UTF-8 replaced).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .filter(|pair| pair.iter().all(u8::is_ascii_hexdigit))
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
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

/// A redirect's `Location` as its failure messages show it: its secrets masked, cut
/// to [`LOCATION_SHOWN`] characters, and each byte that is not visible ASCII (a TAB,
/// the bytes of a `Location` that is not text) written as `\xNN`, so that the
/// message is terminal-safe in whatever output it reaches, and a `Location` that is
/// not text is still shown.
fn shown_location(location: &HeaderValue) -> String {
    let mut text = String::with_capacity(location.len());
    for &byte in location.as_bytes() {
        if byte.is_ascii_graphic() || byte == b' ' {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    cut_to(&mask_url(&text), LOCATION_SHOWN)
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

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::time::Duration;

    use crate::config::Endpoint;
    use crate::probe::{ClientPool, Prober, discard_connections};

    /// Reads one request head from `stream` and answers it, keeping the connection.
    fn answer(stream: &mut std::net::TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }

    /// Probes a server twice with `method`, the server closing the first connection
    /// while it is idle and the client cannot see it; returns both outcomes and the
    /// connections the server accepted.
    fn probe_twice_across_an_unseen_close(
        method: http::Method,
    ) -> (crate::probe::ProbeOutcome, crate::probe::ProbeOutcome, u32) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
        let addr = listener.local_addr().expect("an address");
        listener.set_nonblocking(true).expect("non-blocking");
        let (close, closing) = std::sync::mpsc::channel::<()>();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probed = std::sync::Arc::clone(&done);
        let server = std::thread::spawn(move || {
            let mut accepted = 0;
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            for first in [true, false] {
                // Until the client has done its probes: a second connection may not come.
                let mut stream = loop {
                    if probed.load(std::sync::atomic::Ordering::Relaxed)
                        || std::time::Instant::now() > give_up
                    {
                        return accepted;
                    }
                    match listener.accept() {
                        Ok((stream, _)) => break stream,
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                };
                let _ = stream.set_nonblocking(false);
                accepted += 1;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                answer(&mut stream);
                if first {
                    // Kept alive until the test says the client holds it idle.
                    let _ = closing.recv_timeout(Duration::from_secs(5));
                } else {
                    // Until the client has read the answer and left.
                    let _ = stream.read(&mut [0u8; 1]);
                }
            }
            accepted
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let url = url::Url::parse(&format!("http://{addr}/")).expect("a URL");
        let mut endpoint = Endpoint::new("e", url, Duration::from_secs(1), Duration::from_secs(5));
        endpoint.method = method;
        let mut clients = ClientPool::default();
        let prober = Prober::new(&endpoint, &mut clients, discard_connections()).expect("a prober");
        let (first, second) = runtime.block_on(async {
            let first = prober.probe().await;
            // The connection's driver settles: idle, ready for the next request.
            tokio::time::sleep(Duration::from_millis(50)).await;
            close.send(()).expect("the server waits");
            // The runtime's only thread sleeps, so the driver cannot see the close
            // before the next probe hands its request to the connection.
            std::thread::sleep(Duration::from_millis(200));
            (first, prober.probe().await)
        });
        drop(prober);
        drop(clients);
        drop(runtime);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let accepted = server.join().expect("the server");
        (first, second, accepted)
    }

    #[test]
    fn a_kept_connection_the_server_closed_unseen_is_retried_on_a_new_one() {
        let (first, second, accepted) = probe_twice_across_an_unseen_close(http::Method::GET);
        assert!(first.is_ok(), "{first:?}");
        assert!(second.is_ok(), "retried, not failed: {second:?}");
        assert_eq!(accepted, 2);
    }

    #[test]
    fn a_request_that_may_not_be_repeated_is_not_sent_twice() {
        let (first, second, accepted) = probe_twice_across_an_unseen_close(http::Method::POST);
        assert!(first.is_ok(), "{first:?}");
        let error = second.error.expect("a failure");
        assert_eq!(error.message, "connection closed before message completed");
        assert_eq!(accepted, 1);
    }
}
