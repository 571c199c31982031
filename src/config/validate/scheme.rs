//! What an endpoint's scheme allows: the form of its URL, and the keys that apply to
//! it. Which keys apply to which schemes is the table [`KEY_RULES`], read by
//! [`Validator::reject_inapplicable`] alone.

use std::ops::Range;

use super::Validator;
use super::tls::is_tls_server_name;
use crate::config::raw::{RawEndpoint, RawExpect};

/// A URL scheme that probetop probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Http,
    Https,
    Tcp,
    Tls,
}

impl Scheme {
    /// The scheme called `name`, if probetop probes it.
    pub(super) fn of(name: &str) -> Option<Self> {
        match name {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            "tcp" => Some(Scheme::Tcp),
            "tls" => Some(Scheme::Tls),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
        }
    }
}

/// Whom a key is for: the schemes it applies to, and what the error says elsewhere.
#[derive(Debug, Clone, Copy)]
enum Audience {
    /// The request and the response: HTTP only.
    Http,
    /// Trusting the server's certificate: anything that may speak TLS.
    Tls,
    /// Checking the server's certificate: only what always speaks TLS.
    Certificate,
}

impl Audience {
    fn schemes(self) -> &'static [Scheme] {
        match self {
            Audience::Http => &[Scheme::Http, Scheme::Https],
            Audience::Tls => &[Scheme::Http, Scheme::Https, Scheme::Tls],
            Audience::Certificate => &[Scheme::Https, Scheme::Tls],
        }
    }

    /// Why `key` (dotted, below the endpoint) is wrong on a `scheme` endpoint.
    fn message(self, key: &str, scheme: Scheme) -> String {
        match (self, scheme) {
            (Audience::Http, Scheme::Tls) => format!(
                "`{key}` applies to http:// and https:// endpoints only (a tls:// probe only connects and completes a TLS handshake)"
            ),
            (Audience::Http, _) => format!(
                "`{key}` applies to http:// and https:// endpoints only (a {}:// probe only connects)",
                scheme.name()
            ),
            (Audience::Tls, _) => format!(
                "`{key}` applies to https:// and tls:// endpoints only (a {}:// probe has no TLS)",
                scheme.name()
            ),
            (Audience::Certificate, _) => format!(
                "`{}` needs an https:// or tls:// URL: a {}:// endpoint has no certificate",
                key.rsplit('.').next().unwrap_or(key),
                scheme.name()
            ),
        }
    }
}

/// How a rule finds its key in the raw endpoint.
#[derive(Clone, Copy)]
enum Field {
    /// Takes the value out when it is set: a key that does not apply is reported
    /// once, and its value is not checked as well.
    Take(fn(&mut RawEndpoint) -> bool),
    /// Whether it is set; its value is still checked.
    Peek(fn(&RawEndpoint) -> bool),
}

/// One key that applies to some schemes only.
struct KeyRule {
    /// Its path below the endpoint (`expect.status`).
    key: &'static str,
    audience: Audience,
    field: Field,
}

impl KeyRule {
    const fn take(
        key: &'static str,
        audience: Audience,
        take: fn(&mut RawEndpoint) -> bool,
    ) -> Self {
        KeyRule {
            key,
            audience,
            field: Field::Take(take),
        }
    }

    const fn peek(key: &'static str, audience: Audience, peek: fn(&RawEndpoint) -> bool) -> Self {
        KeyRule {
            key,
            audience,
            field: Field::Peek(peek),
        }
    }
}

/// Whether an optional value was set, taking it out.
fn took<T>(value: &mut Option<T>) -> bool {
    value.take().is_some()
}

/// `take` applied to the endpoint's `expect` table, if it has one.
fn in_expect(raw: &mut RawEndpoint, take: impl FnOnce(&mut RawExpect) -> bool) -> bool {
    raw.expect.as_mut().is_some_and(take)
}

/// Every key that applies to some schemes only. Keys inherited from `[defaults]` are
/// not affected: they apply where they can.
const KEY_RULES: &[KeyRule] = {
    use Audience::{Certificate, Http, Tls};
    &[
        KeyRule::take("method", Http, |r| took(&mut r.method)),
        KeyRule::take("headers", Http, |r| {
            !std::mem::take(&mut r.headers).is_empty()
        }),
        KeyRule::take("body", Http, |r| took(&mut r.body)),
        KeyRule::take("body_file", Http, |r| took(&mut r.body_file)),
        KeyRule::take("basic_auth", Http, |r| took(&mut r.basic_auth)),
        KeyRule::take("bearer_token", Http, |r| took(&mut r.bearer_token)),
        KeyRule::take("user_agent", Http, |r| took(&mut r.user_agent)),
        KeyRule::take("http", Http, |r| took(&mut r.http)),
        KeyRule::take("follow_redirects", Http, |r| took(&mut r.follow_redirects)),
        KeyRule::take("allow_downgrade", Http, |r| took(&mut r.allow_downgrade)),
        KeyRule::take("connection", Http, |r| took(&mut r.connection)),
        KeyRule::take("max_body_bytes", Http, |r| took(&mut r.max_body_bytes)),
        KeyRule::take("expect.status", Http, |r| {
            in_expect(r, |e| took(&mut e.status))
        }),
        KeyRule::take("expect.body_contains", Http, |r| {
            in_expect(r, |e| took(&mut e.body_contains))
        }),
        KeyRule::take("expect.body_regex", Http, |r| {
            in_expect(r, |e| took(&mut e.body_regex))
        }),
        KeyRule::take("expect.json", Http, |r| in_expect(r, |e| took(&mut e.json))),
        KeyRule::take("expect.headers", Http, |r| {
            in_expect(r, |e| took(&mut e.headers))
        }),
        KeyRule::take("ca_file", Tls, |r| took(&mut r.ca_file)),
        KeyRule::take("insecure", Tls, |r| took(&mut r.insecure)),
        KeyRule::take("tls_roots", Tls, |r| took(&mut r.tls_roots)),
        KeyRule::peek("expect.min_cert_days", Certificate, |r| {
            r.expect.as_ref().is_some_and(|e| e.min_cert_days.is_some())
        }),
    ]
};

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// Reports the keys set on the `index`-th endpoint (`key`) that do not apply to
    /// its `scheme`, pointing at the key itself, and takes out the values that are
    /// not to be checked.
    pub(super) fn reject_inapplicable(
        &mut self,
        index: usize,
        key: &str,
        scheme: Scheme,
        raw: &mut RawEndpoint,
        table_span: &Range<usize>,
    ) {
        for rule in KEY_RULES {
            if rule.audience.schemes().contains(&scheme) {
                continue;
            }
            let set = match rule.field {
                Field::Take(take) => take(raw),
                Field::Peek(peek) => peek(raw),
            };
            if !set {
                continue;
            }
            let path: Vec<&str> = rule.key.split('.').collect();
            let span = self
                .doc
                .endpoint_key_span(index, &path)
                .unwrap_or_else(|| table_span.clone());
            self.error(
                format!("{key}.{}", rule.key),
                span,
                rule.audience.message(rule.key, scheme),
            );
        }
    }
}

/// [`parse_url`]'s reason for a URL without a scheme (`example.com/x`), which
/// [`scheme_hint`] turns into a suggestion.
const NO_SCHEME: &str = "it has no scheme";

/// `why` a URL written as `written` is invalid; for a URL without a scheme, with the
/// URL it likely meant. Built from the URL as written, not as resolved: that may hold
/// a secret.
pub(in crate::config) fn scheme_hint(why: String, written: &str) -> String {
    if why == NO_SCHEME {
        format!("{NO_SCHEME}; did you mean \"http://{written}\" (or https://)?")
    } else {
        why
    }
}

/// Parses an endpoint URL: `http://` or `https://` with a host, or `tcp://` or
/// `tls://` with a host and a port and nothing else.
pub(in crate::config) fn parse_url(text: &str) -> Result<url::Url, String> {
    check_url(text, url::Url::parse(text))
}

/// [`parse_url`] of `text`, which `url::Url::parse` already read as `parsed`: the
/// validator asks for the scheme first, and parsing the URL once is a sixth of
/// validating a plain endpoint.
pub(in crate::config) fn check_url(
    text: &str,
    parsed: Result<url::Url, url::ParseError>,
) -> Result<url::Url, String> {
    let url = match parsed {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(NO_SCHEME.into()),
        Err(e) => return Err(e.to_string()),
    };
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https" | "tcp" | "tls") {
        // `localhost:8080/x` and `example.com:80` parse with the host as a scheme.
        let rest = text
            .trim_start()
            .get(scheme.len() + 1..)
            .unwrap_or_default();
        if !rest.starts_with("//")
            && (scheme.contains('.') || rest.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(NO_SCHEME.into());
        }
        return Err(format!(
            "unsupported scheme `{scheme}` (use http, https, tcp or tls)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !has_authority(text) {
        return Err(format!(
            "the URL has no host: write it right after `{scheme}://` (e.g. {scheme}://example.com/path)"
        ));
    }
    if matches!(scheme, "tcp" | "tls") {
        // The parts are named, never quoted: after interpolation they may hold a secret.
        let form = format!("{scheme}://host:port");
        let problem = if !url.username().is_empty() || url.password().is_some() {
            "takes no user name or password"
        } else if url.port().is_none() {
            "needs a port"
        } else if url.port() == Some(0) {
            "needs a port other than 0"
        } else if !matches!(url.path(), "" | "/") {
            "takes no path"
        } else if url.query().is_some() {
            "takes no query (`?…`)"
        } else if url.fragment().is_some() {
            "takes no fragment (`#…`)"
        } else if url.host_str().is_some_and(|host| host.contains('%')) {
            // Not a special scheme, so the url crate percent-encodes a non-ASCII host
            // instead of converting it to punycode: nothing would resolve it.
            "needs an ASCII host: write an international name in its xn-- form"
        } else if scheme == "tls" && !is_tls_server_name(url.host_str().unwrap_or_default()) {
            "needs a host that is a DNS name or an IP address (it is checked against the certificate)"
        } else {
            return Ok(url);
        };
        return Err(format!("a {scheme}:// URL {problem}: {form}"));
    }
    Ok(url)
}

/// Whether `text` has a host where it is written: `scheme://` then something other
/// than a slash. The URL standard (which the url crate follows) reads `http:///path`
/// as the host `path` and `http:host` as `http://host`, a name never meant as one.
fn has_authority(text: &str) -> bool {
    // Url::parse ignores leading spaces and control characters, and for http(s) a
    // backslash counts as a slash.
    let text = text.trim_start_matches(|c: char| c <= ' ');
    let Some((_, rest)) = text.split_once(':') else {
        return false;
    };
    let is_slash = |c: char| c == '/' || c == '\\';
    let mut chars = rest.chars();
    matches!((chars.next(), chars.next()), (Some(a), Some(b)) if is_slash(a) && is_slash(b))
        && !chars.next().is_some_and(is_slash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_must_follow_the_two_slashes() {
        for url in [
            "http:///path",
            "https:////x",
            "http:example.com",
            "http:/x",
            "http:\\\\\\x",
        ] {
            let error = parse_url(url).expect_err(url);
            assert!(error.contains("has no host"), "{url}: {error}");
        }
        for url in [
            "http://a/",
            " http://a",
            "HTTP://a:1/b",
            "http:\\\\a/",
            "tcp://db:1",
        ] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn every_rule_names_a_key_of_the_endpoint_schema() {
        // The raw schema's field names, as serde lists them in an unknown-field error.
        let error = toml::from_str::<RawEndpoint>("url = \"x\"\nnot_a_key = 1\n").unwrap_err();
        let expect_error =
            toml::from_str::<crate::config::raw::RawExpect>("not_a_key = 1\n").unwrap_err();
        for rule in KEY_RULES {
            let (message, leaf) = match rule.key.split_once('.') {
                Some(("expect", leaf)) => (expect_error.message(), leaf),
                _ => (error.message(), rule.key),
            };
            assert!(message.contains(&format!("`{leaf}`")), "{}", rule.key);
        }
    }
}
