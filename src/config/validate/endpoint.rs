//! One `[[endpoint]]`: its URL, name, schedule and request; the keys its scheme does
//! not allow, credentials, certificates and expectations have modules of their own.

use std::ops::Range;

use toml::Spanned;

use super::scheme::Scheme;
use super::scheme::check_url;
use super::{EndpointDefaults, Validator, scheme_hint};
use crate::config::mask::mask_url;
use crate::config::raw::RawEndpoint;
use crate::config::{Endpoint, Expect, defaults};

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// The `index`-th endpoint, or `None` when it has errors (all of them reported).
    pub(super) fn endpoint(
        &mut self,
        index: usize,
        mut raw: RawEndpoint,
        table_span: Range<usize>,
        inherited: &EndpointDefaults,
    ) -> Option<Endpoint> {
        let key = &format!("endpoint[{index}]");
        let errors_before = self.errors.len();
        let (url, scheme) = self.url(key, raw.url.as_ref(), &table_span);
        if let Some(scheme) = scheme {
            self.reject_inapplicable(index, key, scheme, &mut raw, &table_span);
        }
        let name = self.name(key, &raw);
        let interval = self
            .duration(format_args!("{key}.interval"), raw.interval.as_ref())
            .unwrap_or(inherited.interval);
        let timeout = self
            .duration(format_args!("{key}.timeout"), raw.timeout.as_ref())
            .unwrap_or(inherited.timeout);
        let method = self.method(key, raw.method.as_ref());
        let mut headers = self.headers(key, &raw);
        let body = self.body(key, &raw);
        self.auth_and_agent(key, &raw, &mut headers);
        let http = self.parsed(format_args!("{key}.http"), raw.http.as_ref());
        let resolve = self.resolve(key, raw.resolve.as_ref());
        let ca_file = self.ca_file(key, raw.ca_file.as_ref());
        let tls_roots = self
            .parsed(format_args!("{key}.tls_roots"), raw.tls_roots.as_ref())
            .unwrap_or(inherited.tls_roots);
        let connection = self
            .parsed(format_args!("{key}.connection"), raw.connection.as_ref())
            .unwrap_or(defaults::CONNECTION);
        let max_in_flight = self
            .positive(
                format_args!("{key}.max_in_flight"),
                raw.max_in_flight.as_ref(),
            )
            .or(inherited.max_in_flight)
            .unwrap_or_else(|| defaults::max_in_flight(interval, timeout));
        let max_body_bytes = self
            .positive(
                format_args!("{key}.max_body_bytes"),
                raw.max_body_bytes.as_ref(),
            )
            .unwrap_or(inherited.max_body_bytes);
        let expect = match &raw.expect {
            Some(e) => self.expect(&format!("{key}.expect"), e),
            None => Expect::default(),
        };
        let state_rule = self.state_rule(
            key,
            (raw.down_after.as_ref(), raw.up_after.as_ref()),
            inherited.state_rule,
        );
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Endpoint {
            name: name?,
            url_as_written: mask_url(raw.url.as_ref()?.get_ref()),
            url: url?,
            interval,
            timeout,
            method,
            headers,
            body,
            http,
            follow_redirects: raw
                .follow_redirects
                .as_ref()
                .map_or(defaults::FOLLOW_REDIRECTS, |f| *f.get_ref()),
            allow_downgrade: raw
                .allow_downgrade
                .as_ref()
                .map_or(defaults::ALLOW_DOWNGRADE, |f| *f.get_ref()),
            resolve,
            ca_file,
            insecure: raw
                .insecure
                .as_ref()
                .map_or(defaults::INSECURE, |v| *v.get_ref()),
            tls_roots,
            connection,
            max_in_flight,
            max_body_bytes,
            expect,
            state_rule,
            canary: raw
                .canary
                .as_ref()
                .map_or(defaults::CANARY, |c| *c.get_ref()),
        })
    }

    /// The URL, `${VAR}` references resolved, and its scheme: known even when the URL
    /// is otherwise invalid (a tcp:// URL without a port, say), so that the keys that
    /// do not apply to it are reported as well.
    fn url(
        &mut self,
        key: &str,
        raw: Option<&Spanned<String>>,
        table_span: &Range<usize>,
    ) -> (Option<url::Url>, Option<Scheme>) {
        let url_key = format!("{key}.url");
        let Some(text) = raw else {
            self.error(url_key, table_span.clone(), "endpoint has no `url`".into());
            return (None, None);
        };
        let Some(resolved) = self.interpolated(&url_key, text) else {
            return (None, None);
        };
        let parsed = url::Url::parse(&resolved);
        let scheme = parsed.as_ref().ok().and_then(|u| Scheme::of(u.scheme()));
        let url = check_url(&resolved, parsed)
            .map_err(|why| {
                self.error(
                    url_key,
                    text.span(),
                    // As written: the interpolated text may hold a secret.
                    format!(
                        "invalid URL {:?}: {}",
                        mask_url(text.get_ref()),
                        scheme_hint(why, &mask_url(text.get_ref()))
                    ),
                )
            })
            .ok();
        (url, scheme)
    }

    /// The name: as given (not blank), else the URL as written, secrets masked.
    fn name(&mut self, key: &str, raw: &RawEndpoint) -> Option<String> {
        match &raw.name {
            Some(name) if name.get_ref().trim().is_empty() => {
                self.error(
                    format!("{key}.name"),
                    name.span(),
                    "endpoint name is empty".into(),
                );
                None
            }
            Some(name) => Some(name.get_ref().clone()),
            None => raw.url.as_ref().map(|u| mask_url(u.get_ref())),
        }
    }

    /// `resolve`: the IP address to connect to instead of looking the host up.
    fn resolve(&mut self, key: &str, raw: Option<&Spanned<String>>) -> Option<std::net::IpAddr> {
        let value = raw?;
        let text = value.get_ref();
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if text.parse::<std::net::SocketAddr>().is_ok() {
                    " without a port (the URL's port is used)"
                } else {
                    ""
                };
                self.error(
                    format!("{key}.resolve"),
                    value.span(),
                    format!(
                        "`resolve` must be an IP address{hint}, e.g. \"10.0.0.7\" or \"::1\"; got {text:?}"
                    ),
                );
                None
            }
        }
    }

    fn method(&mut self, key: &str, raw: Option<&Spanned<String>>) -> reqwest::Method {
        let Some(m) = raw else {
            return defaults::METHOD;
        };
        let upper = m.get_ref().to_ascii_uppercase();
        match reqwest::Method::from_bytes(upper.as_bytes()) {
            Ok(method) if !upper.is_empty() => method,
            _ => {
                self.error(
                    format!("{key}.method"),
                    m.span(),
                    format!("invalid HTTP method {:?}", m.get_ref()),
                );
                defaults::METHOD
            }
        }
    }

    /// `headers`, values interpolated; the invalid ones are reported and left out.
    fn headers(&mut self, key: &str, raw: &RawEndpoint) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let header_key = format!("{key}.headers.{}", name.get_ref());
            if reqwest::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
                self.error(
                    header_key.clone(),
                    name.span(),
                    format!("invalid header name {:?}", name.get_ref()),
                );
                continue;
            }
            if let Some(v) = self.interpolated(&header_key, value) {
                if reqwest::header::HeaderValue::from_str(&v).is_err() {
                    self.error(
                        header_key,
                        value.span(),
                        "invalid header value (control characters or non-visible bytes)".into(),
                    );
                } else {
                    headers.push((name.get_ref().clone(), v));
                }
            }
        }
        headers
    }

    /// The request body: `body` (interpolated) or the text of `body_file`.
    fn body(&mut self, key: &str, raw: &RawEndpoint) -> Option<String> {
        let body = raw
            .body
            .as_ref()
            .and_then(|b| self.interpolated(&format!("{key}.body"), b));
        let Some(file) = &raw.body_file else {
            return body;
        };
        let file_key = format!("{key}.body_file");
        if raw.body.is_some() {
            self.error(
                file_key,
                file.span(),
                "give `body` or `body_file`, not both".into(),
            );
            return body;
        }
        let path = self.relative_path(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(
                    file_key,
                    file.span(),
                    format!("cannot read body file {}: {e}", path.display()),
                );
                None
            }
        }
    }
}
