//! Turning config files and command-line values into a validated [`Config`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigErrors, Location};
use super::raw::{RawConfig, RawDays, RawEndpoint, RawExpect, RawStatus};
use super::{
    Config, ConnectionMode, DEFAULT_EXPORT_DIR, DEFAULT_EXPORT_FORMATS, DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, DEFAULT_WINDOW, Endpoint, Expect, HttpVersion,
    StatusMatch, default_max_in_flight, interpolate,
};

/// The largest `expect.min_cert_days`: ten years.
const MAX_CERT_DAYS: u32 = 3650;

/// What the command line contributes to the configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config`: read this file (it must exist).
    pub config_path: Option<PathBuf>,
    /// URLs given on the command line.
    pub urls: Vec<String>,
    /// Interval for command-line URLs.
    pub interval: Option<Duration>,
    /// Timeout for command-line URLs.
    pub timeout: Option<Duration>,
    /// `--export-dir`, which beats `[export] dir`.
    pub export_dir: Option<PathBuf>,
    /// `--hlog`, which beats `[export] hlog`.
    pub hlog: Option<PathBuf>,
}

/// The config file probetop reads when `--config` is not given:
/// `./probetop.toml`, else `$XDG_CONFIG_HOME/probetop/config.toml`
/// (`~/.config/probetop/config.toml` when `XDG_CONFIG_HOME` is unset), if either exists.
pub fn default_config_path() -> Option<PathBuf> {
    let local = PathBuf::from("probetop.toml");
    if local.is_file() {
        return Some(local);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    let xdg = base.join("probetop").join("config.toml");
    xdg.is_file().then_some(xdg)
}

/// Reads the config file (explicit, or found by [`default_config_path`]), merges the
/// command-line URLs, and validates everything. A TOML syntax or type error stops
/// the reading at once; the validation problems after it are returned together.
pub fn load(options: &LoadOptions) -> Result<Config, ConfigErrors> {
    let lookup = |name: &str| std::env::var(name).ok();
    let path = options.config_path.clone().or_else(default_config_path);
    let mut config = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                let what = if e.kind() == std::io::ErrorKind::NotFound {
                    "config file not found".to_string()
                } else {
                    format!("cannot read config file: {e}")
                };
                ConfigError::file(path, what)
            })?;
            parse_str(path, &text, lookup)?
        }
        None => Config {
            source: None,
            window: DEFAULT_WINDOW,
            export_dir: PathBuf::from(DEFAULT_EXPORT_DIR),
            export_formats: DEFAULT_EXPORT_FORMATS.to_vec(),
            hlog: None,
            hlog_interval: crate::hlog::DEFAULT_INTERVAL,
            metrics_buckets: crate::metrics::DEFAULT_BUCKETS.to_vec(),
            endpoints: Vec::new(),
        },
    };
    add_cli_urls(&mut config, options)?;
    if let Some(dir) = &options.export_dir {
        config.export_dir = dir.clone();
    }
    if let Some(hlog) = &options.hlog {
        config.hlog = Some(hlog.clone());
    }
    Ok(config)
}

fn add_cli_urls(config: &mut Config, options: &LoadOptions) -> Result<(), ConfigErrors> {
    let interval = options.interval.unwrap_or(DEFAULT_INTERVAL);
    let timeout = options.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut errors = Vec::new();
    for text in &options.urls {
        let url = match parse_url(text) {
            Ok(url) => url,
            Err(why) => {
                errors.push(ConfigError::usage(format!(
                    "invalid URL argument {text:?}: {why}"
                )));
                continue;
            }
        };
        if config.endpoints.iter().any(|e| e.name == text.as_str()) {
            errors.push(ConfigError::usage(format!(
                "URL argument {text:?} is given twice (or also names an endpoint of the config file)"
            )));
            continue;
        }
        let mut endpoint = Endpoint::new(text, url, interval, timeout);
        // Shown as typed (the parsed form may differ, e.g. by a trailing slash).
        endpoint.url_as_written = text.clone();
        config.endpoints.push(endpoint);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parses an endpoint URL: `http://` or `https://` with a host, or `tcp://` or
/// `tls://` with a host and a port and nothing else.
fn parse_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| e.to_string())?;
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https" | "tcp" | "tls") {
        return Err(format!(
            "unsupported scheme `{scheme}` (use http, https, tcp or tls)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
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

/// Whether `host` (IPv6 in brackets) can name a TLS server.
fn is_tls_server_name(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(bare).is_ok()
}

/// Parses and validates the text of a config file. `path` is only used in messages
/// and to resolve relative paths (`ca_file`); `lookup` reads environment variables.
pub fn parse_str(
    path: &Path,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(toml_error(path, text, &e).into()),
    };
    let mut v = Validator {
        path,
        text,
        lookup: &lookup,
        errors: Vec::new(),
    };
    let config = v.config(raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        // In file order, as a reader goes through the file fixing them.
        v.errors
            .sort_by_key(|e| e.location.as_ref().map(|l| (l.line, l.column)));
        Err(ConfigErrors(v.errors))
    }
}

/// Turns a TOML syntax or type error into a located error with its key path.
fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let mut message = error.message().trim().to_string();
    if let Some(suggestion) = did_you_mean(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    let span = error.span();
    let key = span
        .as_ref()
        .and_then(|span| key_at(text, span.start).or_else(|| key_by_lines(text, span.start)));
    ConfigError {
        message,
        key,
        location: span.map(|span| Location::from_span(path, text, span)),
        file: Some(path.to_path_buf()),
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" message, the closest
/// expected name, if it is close enough to be a likely typo.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2);
    expected
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.to_string())
}

/// The dotted path (`endpoint[1].expect.status`) of the deepest key whose key or value
/// contains byte offset `at`.
fn key_at(text: &str, at: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    let mut path = String::new();
    let mut table = root.get_ref();
    'descend: loop {
        for (key, value) in table.iter() {
            let in_key = key.span().contains(&at);
            let in_value = value.span().contains(&at) || value.span().start == at;
            if !in_key && !in_value {
                // Tables from `[header]` sections: the value span may not cover the body,
                // so look inside them anyway.
                if !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
                    continue;
                }
            }
            let mut candidate = path.clone();
            if !candidate.is_empty() {
                candidate.push('.');
            }
            candidate.push_str(key.get_ref());
            if in_key {
                return Some(candidate);
            }
            match value.get_ref() {
                DeValue::Table(inner) if contains(inner, at) || in_value => {
                    path = candidate;
                    table = inner;
                    continue 'descend;
                }
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let inside = item.span().contains(&at)
                            || matches!(item.get_ref(), DeValue::Table(t) if contains(t, at));
                        if inside {
                            let candidate = format!("{candidate}[{i}]");
                            match item.get_ref() {
                                DeValue::Table(inner) if contains(inner, at) => {
                                    path = candidate;
                                    table = inner;
                                    continue 'descend;
                                }
                                _ => return Some(candidate),
                            }
                        }
                    }
                    if in_value {
                        return Some(candidate);
                    }
                }
                _ if in_value => return Some(candidate),
                _ => {}
            }
        }
        return (!path.is_empty()).then_some(path);
    }
}

/// For syntax errors, when the document cannot be parsed: the key path guessed from
/// the last `[table]` header before byte offset `at` and the `key =` on its line.
fn key_by_lines(text: &str, at: usize) -> Option<String> {
    let before = &text[..at.min(text.len())];
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in before.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let index = arrays
                .entry(name.clone())
                .and_modify(|i| *i += 1)
                .or_insert(0);
            table = format!("{name}[{index}]");
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            let name = name.trim();
            // `[endpoint.expect]` belongs to the latest `[[endpoint]]`.
            table = match name.split_once('.') {
                Some((parent, rest)) if arrays.contains_key(parent) => {
                    format!("{parent}[{}].{rest}", arrays[parent])
                }
                _ => name.to_string(),
            };
        }
    }
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (table.is_empty(), key) {
        (true, Some(key)) => Some(key.to_string()),
        (false, Some(key)) => Some(format!("{table}.{key}")),
        (false, None) => Some(table),
        (true, None) => None,
    }
}

/// Whether any key or value of `table` (recursively) covers byte offset `at`.
fn contains(table: &DeTable<'_>, at: usize) -> bool {
    table.iter().any(|(key, value)| {
        key.span().contains(&at)
            || value.span().contains(&at)
            || match value.get_ref() {
                DeValue::Table(inner) => contains(inner, at),
                DeValue::Array(items) => items.iter().any(|item| {
                    item.span().contains(&at)
                        || matches!(item.get_ref(), DeValue::Table(t) if contains(t, at))
                }),
                _ => false,
            }
    })
}

/// Collects validation errors while building the config.
struct Validator<'a, F> {
    path: &'a Path,
    text: &'a str,
    lookup: &'a F,
    errors: Vec<ConfigError>,
}

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    fn error(&mut self, key: String, span: Range<usize>, message: String) {
        self.errors.push(ConfigError {
            message,
            key: Some(key),
            location: Some(Location::from_span(self.path, self.text, span)),
            file: Some(self.path.to_path_buf()),
        });
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let d = &raw.defaults;
        let interval = self
            .duration("defaults.interval", d.interval.as_ref())
            .unwrap_or(DEFAULT_INTERVAL);
        let timeout = self
            .duration("defaults.timeout", d.timeout.as_ref())
            .unwrap_or(DEFAULT_TIMEOUT);
        let window = self
            .duration("defaults.window", d.window.as_ref())
            .unwrap_or(DEFAULT_WINDOW);
        let max_in_flight = self.positive("defaults.max_in_flight", d.max_in_flight.as_ref());
        let max_body_bytes = self
            .positive("defaults.max_body_bytes", d.max_body_bytes.as_ref())
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if let Some(w) = &d.window
            && window < Duration::from_secs(1)
        {
            self.error(
                "defaults.window".into(),
                w.span(),
                "window must be at least 1s".into(),
            );
        }
        let export_dir = match &raw.export.dir {
            Some(dir) => self.relative_path(dir),
            None => PathBuf::from(DEFAULT_EXPORT_DIR),
        };
        let hlog = raw.export.hlog.as_ref().map(|p| self.relative_path(p));
        let hlog_interval = self
            .duration("export.hlog_interval", raw.export.hlog_interval.as_ref())
            .unwrap_or(crate::hlog::DEFAULT_INTERVAL);
        let metrics_buckets = match &raw.metrics.buckets {
            Some(list) => self.buckets(list),
            None => crate::metrics::DEFAULT_BUCKETS.to_vec(),
        };
        let export_formats = match &raw.export.formats {
            Some(list) => self.formats(list),
            None => DEFAULT_EXPORT_FORMATS.to_vec(),
        };
        let state_rule = crate::stats::StateRule {
            down_after: self
                .positive("defaults.down_after", d.down_after.as_ref())
                .unwrap_or(crate::stats::StateRule::default().down_after),
            up_after: self
                .positive("defaults.up_after", d.up_after.as_ref())
                .unwrap_or(crate::stats::StateRule::default().up_after),
        };
        let defaults = EndpointDefaults {
            interval,
            timeout,
            max_in_flight,
            max_body_bytes,
            state_rule,
        };

        let mut endpoints: Vec<Endpoint> = Vec::new();
        // Names seen so far with their spans, valid endpoints or not, so that a
        // duplicate is reported even when the other endpoint has errors of its own.
        let mut seen: Vec<(String, Range<usize>)> = Vec::new();
        for (i, raw_endpoint) in raw.endpoint.into_iter().enumerate() {
            let table_span = raw_endpoint.span();
            let raw_endpoint = raw_endpoint.into_inner();
            let named = raw_endpoint.name.as_ref().or(raw_endpoint.url.as_ref());
            let mut duplicate = false;
            if let Some(name) = named {
                if let Some((_, first)) = seen.iter().find(|(n, _)| n == name.get_ref()) {
                    let first_line = Location::from_span(self.path, self.text, first.clone()).line;
                    self.error(
                        format!("endpoint[{i}].name"),
                        name.span(),
                        format!(
                            "duplicate endpoint name {:?} (first used on line {first_line}); names must be unique",
                            name.get_ref()
                        ),
                    );
                    duplicate = true;
                } else {
                    seen.push((name.get_ref().clone(), name.span()));
                }
            }
            let endpoint = self.endpoint(
                i,
                &format!("endpoint[{i}]"),
                raw_endpoint,
                table_span,
                &defaults,
            );
            if let (Some(endpoint), false) = (endpoint, duplicate) {
                endpoints.push(endpoint);
            }
        }
        Config {
            source: Some(self.path.to_path_buf()),
            window,
            export_dir,
            export_formats,
            hlog,
            hlog_interval,
            metrics_buckets,
            endpoints,
        }
    }

    fn endpoint(
        &mut self,
        index: usize,
        key: &str,
        mut raw: RawEndpoint,
        table_span: Range<usize>,
        defaults: &EndpointDefaults,
    ) -> Option<Endpoint> {
        let errors_before = self.errors.len();
        let url_text = raw
            .url
            .as_ref()
            .and_then(|text| self.interpolated(&format!("{key}.url"), text));
        // The scheme, even of a URL that is otherwise invalid (a tcp:// URL without a
        // port, say), so that keys which do not apply to it are reported as well.
        let scheme = url_text
            .as_deref()
            .and_then(|s| url::Url::parse(s).ok())
            .map(|u| u.scheme().to_string());
        let url = match (&raw.url, url_text) {
            (None, _) => {
                self.error(
                    format!("{key}.url"),
                    table_span.clone(),
                    "endpoint has no `url`".into(),
                );
                None
            }
            (Some(_), None) => None,
            (Some(text), Some(s)) => parse_url(&s)
                .map_err(|why| {
                    self.error(
                        format!("{key}.url"),
                        text.span(),
                        // As written: the interpolated text may hold a secret.
                        format!("invalid URL {:?}: {why}", text.get_ref()),
                    )
                })
                .ok(),
        };
        if let Some(scheme @ ("tcp" | "tls")) = scheme.as_deref() {
            self.reject_http_only(index, key, scheme, &mut raw, &table_span);
        }
        let name = match &raw.name {
            Some(name) if name.get_ref().trim().is_empty() => {
                self.error(
                    format!("{key}.name"),
                    name.span(),
                    "endpoint name is empty".into(),
                );
                None
            }
            Some(name) => Some(name.get_ref().clone()),
            None => raw.url.as_ref().map(|u| u.get_ref().clone()),
        };
        let interval = self
            .duration(&format!("{key}.interval"), raw.interval.as_ref())
            .unwrap_or(defaults.interval);
        let timeout = self
            .duration(&format!("{key}.timeout"), raw.timeout.as_ref())
            .unwrap_or(defaults.timeout);
        let method = match &raw.method {
            None => reqwest::Method::GET,
            Some(m) => {
                let upper = m.get_ref().to_ascii_uppercase();
                match reqwest::Method::from_bytes(upper.as_bytes()) {
                    Ok(method) if !upper.is_empty() => method,
                    _ => {
                        self.error(
                            format!("{key}.method"),
                            m.span(),
                            format!("invalid HTTP method {:?}", m.get_ref()),
                        );
                        reqwest::Method::GET
                    }
                }
            }
        };
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
        let mut body = raw
            .body
            .as_ref()
            .and_then(|b| self.interpolated(&format!("{key}.body"), b));
        if let Some(file) = &raw.body_file {
            let file_key = format!("{key}.body_file");
            if raw.body.is_some() {
                self.error(
                    file_key,
                    file.span(),
                    "give `body` or `body_file`, not both".into(),
                );
            } else {
                let path = self.relative_path(file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => body = Some(text),
                    Err(e) => self.error(
                        file_key,
                        file.span(),
                        format!("cannot read body file {}: {e}", path.display()),
                    ),
                }
            }
        }
        self.auth_and_agent(key, &raw, &mut headers);
        let http = raw.http.as_ref().and_then(|h| match h.get_ref().as_str() {
            "1.1" => Some(HttpVersion::Http1),
            "2" => Some(HttpVersion::Http2),
            other => {
                self.error(
                    format!("{key}.http"),
                    h.span(),
                    format!("invalid HTTP version {other:?}: expected \"1.1\" or \"2\""),
                );
                None
            }
        });
        let ca_file = raw.ca_file.as_ref().map(|f| self.relative_path(f));
        if let (Some(path), Some(raw_path)) = (&ca_file, &raw.ca_file) {
            self.check_ca_file(&format!("{key}.ca_file"), raw_path.span(), path);
        }
        let connection = match raw.connection.as_ref() {
            None => ConnectionMode::Reuse,
            Some(c) => match c.get_ref().as_str() {
                "reuse" => ConnectionMode::Reuse,
                "fresh" => ConnectionMode::Fresh,
                other => {
                    self.error(
                        format!("{key}.connection"),
                        c.span(),
                        format!(
                            "invalid connection mode {other:?}: expected \"reuse\" or \"fresh\""
                        ),
                    );
                    ConnectionMode::Reuse
                }
            },
        };
        let max_in_flight = self
            .positive(&format!("{key}.max_in_flight"), raw.max_in_flight.as_ref())
            .or(defaults.max_in_flight)
            .unwrap_or_else(|| default_max_in_flight(interval, timeout));
        let max_body_bytes = self
            .positive(
                &format!("{key}.max_body_bytes"),
                raw.max_body_bytes.as_ref(),
            )
            .unwrap_or(defaults.max_body_bytes);
        let expect = match &raw.expect {
            Some(e) => self.expect(&format!("{key}.expect"), e),
            None => Expect::default(),
        };
        if let Some(days) = raw.expect.as_ref().and_then(|e| e.min_cert_days.as_ref())
            && let Some(scheme @ ("http" | "tcp")) = scheme.as_deref()
        {
            let span = self
                .endpoint_key_span(index, &["expect", "min_cert_days"])
                .unwrap_or_else(|| days.span());
            self.error(
                format!("{key}.expect.min_cert_days"),
                span,
                format!(
                    "`min_cert_days` needs an https:// or tls:// URL: a {scheme}:// endpoint has no certificate"
                ),
            );
        }
        let state_rule = crate::stats::StateRule {
            down_after: self
                .positive(&format!("{key}.down_after"), raw.down_after.as_ref())
                .unwrap_or(defaults.state_rule.down_after),
            up_after: self
                .positive(&format!("{key}.up_after"), raw.up_after.as_ref())
                .unwrap_or(defaults.state_rule.up_after),
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Endpoint {
            name: name?,
            url_as_written: raw.url.as_ref()?.get_ref().clone(),
            url: url?,
            interval,
            timeout,
            method,
            headers,
            body,
            http,
            follow_redirects: raw.follow_redirects.as_ref().is_none_or(|f| *f.get_ref()),
            ca_file,
            insecure: raw.insecure.as_ref().is_some_and(|v| *v.get_ref()),
            connection,
            max_in_flight,
            max_body_bytes,
            expect,
            state_rule,
        })
    }

    fn expect(&mut self, key: &str, raw: &RawExpect) -> Expect {
        let status = raw.status.as_ref().map(|list| {
            if list.get_ref().is_empty() {
                self.error(
                    format!("{key}.status"),
                    list.span(),
                    "status list is empty: give at least one code, or remove the key".into(),
                );
            }
            list.get_ref()
                .iter()
                .filter_map(|entry| self.status_match(&format!("{key}.status"), entry))
                .collect()
        });
        let body_regex = raw
            .body_regex
            .as_ref()
            .and_then(|r| self.regex(&format!("{key}.body_regex"), r));
        let mut json = Vec::new();
        for (pointer, value) in raw.json.iter().flatten() {
            let json_key = format!("{key}.json.\"{}\"", pointer.get_ref());
            if !(pointer.get_ref().is_empty() || pointer.get_ref().starts_with('/')) {
                self.error(
                    json_key,
                    pointer.span(),
                    format!(
                        "{:?} is not a JSON Pointer: it starts with / (e.g. \"/status\", \"/items/0/id\"), or is empty for the whole document",
                        pointer.get_ref()
                    ),
                );
                continue;
            }
            match serde_json::to_value(value.get_ref()) {
                Ok(expected) => json.push((pointer.get_ref().clone(), expected)),
                Err(e) => self.error(json_key, value.span(), format!("unusable value: {e}")),
            }
        }
        let mut headers = Vec::new();
        for (name, pattern) in raw.headers.iter().flatten() {
            let header_key = format!("{key}.headers.{}", name.get_ref());
            if reqwest::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
                self.error(
                    header_key,
                    name.span(),
                    format!("invalid header name {:?}", name.get_ref()),
                );
                continue;
            }
            if let Some(regex) = self.regex(&header_key, pattern) {
                headers.push((name.get_ref().to_ascii_lowercase(), regex));
            }
        }
        Expect {
            status,
            body_contains: raw.body_contains.as_ref().map(|b| b.get_ref().clone()),
            body_regex,
            json,
            headers,
            max_latency: self.duration(&format!("{key}.max_latency"), raw.max_latency.as_ref()),
            min_cert_days: raw
                .min_cert_days
                .as_ref()
                .and_then(|days| self.cert_days(&format!("{key}.min_cert_days"), days)),
        }
    }

    /// `expect.min_cert_days`: a whole number of days, 0 to [`MAX_CERT_DAYS`].
    fn cert_days(&mut self, key: &str, days: &Spanned<RawDays>) -> Option<u32> {
        let RawDays(value) = *days.get_ref();
        let message = if value < 0 {
            format!(
                "min_cert_days cannot be negative (found {value}): give a number of days from 0 to {MAX_CERT_DAYS}"
            )
        } else if value > i64::from(MAX_CERT_DAYS) {
            format!("min_cert_days is at most {MAX_CERT_DAYS} (ten years), found {value}")
        } else {
            return u32::try_from(value).ok();
        };
        self.error(key.to_string(), days.span(), message);
        None
    }

    /// Reports, and removes, the keys set on a tcp:// or tls:// endpoint that only
    /// apply to HTTP (or, on tcp://, to TLS), so that their values are not checked
    /// as well. Keys inherited from `[defaults]` are not affected.
    fn reject_http_only(
        &mut self,
        index: usize,
        key: &str,
        scheme: &str,
        raw: &mut RawEndpoint,
        table_span: &Range<usize>,
    ) {
        fn span_of<T>(value: Option<Spanned<T>>) -> Option<Range<usize>> {
            value.map(|v| v.span())
        }
        fn first_key_span<V>(
            map: &std::collections::BTreeMap<Spanned<String>, V>,
            table_span: &Range<usize>,
        ) -> Range<usize> {
            map.keys().next().map_or(table_span.clone(), |k| k.span())
        }
        let http_why = if scheme == "tcp" {
            "http:// and https:// endpoints only (a tcp:// probe only connects)"
        } else {
            "http:// and https:// endpoints only (a tls:// probe only connects and completes a TLS handshake)"
        };
        // (path below the endpoint, span of the value as a fallback, where it applies)
        type Found<'a> = (&'a [&'a str], Option<Range<usize>>, &'a str);
        let mut found: Vec<Found> = vec![
            (&["method"], span_of(raw.method.take()), http_why),
            (&["body"], span_of(raw.body.take()), http_why),
            (&["body_file"], span_of(raw.body_file.take()), http_why),
            (&["basic_auth"], span_of(raw.basic_auth.take()), http_why),
            (
                &["bearer_token"],
                span_of(raw.bearer_token.take()),
                http_why,
            ),
            (&["user_agent"], span_of(raw.user_agent.take()), http_why),
            (&["http"], span_of(raw.http.take()), http_why),
            (
                &["follow_redirects"],
                span_of(raw.follow_redirects.take()),
                http_why,
            ),
            (&["connection"], span_of(raw.connection.take()), http_why),
            (
                &["max_body_bytes"],
                span_of(raw.max_body_bytes.take()),
                http_why,
            ),
        ];
        let headers = std::mem::take(&mut raw.headers);
        if !headers.is_empty() {
            let span = first_key_span(&headers, table_span);
            found.push((&["headers"], Some(span), http_why));
        }
        if let Some(expect) = raw.expect.as_mut() {
            found.extend([
                (
                    &["expect", "status"][..],
                    span_of(expect.status.take()),
                    http_why,
                ),
                (
                    &["expect", "body_contains"],
                    span_of(expect.body_contains.take()),
                    http_why,
                ),
                (
                    &["expect", "body_regex"],
                    span_of(expect.body_regex.take()),
                    http_why,
                ),
            ]);
            if let Some(json) = expect.json.take() {
                let span = first_key_span(&json, table_span);
                found.push((&["expect", "json"], Some(span), http_why));
            }
            if let Some(headers) = expect.headers.take() {
                let span = first_key_span(&headers, table_span);
                found.push((&["expect", "headers"], Some(span), http_why));
            }
        }
        if scheme == "tcp" {
            // Certificates only mean something to https:// and tls:// probes.
            let tls_why = "https:// and tls:// endpoints only (a tcp:// probe has no TLS)";
            found.extend([
                (&["ca_file"][..], span_of(raw.ca_file.take()), tls_why),
                (&["insecure"], span_of(raw.insecure.take()), tls_why),
            ]);
        }
        for (path, value_span, applies_to) in found {
            let Some(value_span) = value_span else {
                continue;
            };
            let name = path.join(".");
            let span = self.endpoint_key_span(index, path).unwrap_or(value_span);
            self.error(
                format!("{key}.{name}"),
                span,
                format!("`{name}` applies to {applies_to}"),
            );
        }
    }

    /// The span of the key at `path` (`["expect", "status"]`) in the `index`-th
    /// `[[endpoint]]` table: the key itself, not its value.
    fn endpoint_key_span(&self, index: usize, path: &[&str]) -> Option<Range<usize>> {
        let root = DeTable::parse(self.text).ok()?;
        let (_, endpoints) = root
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == "endpoint")?;
        let DeValue::Array(items) = endpoints.get_ref() else {
            return None;
        };
        let DeValue::Table(table) = items.get(index)?.get_ref() else {
            return None;
        };
        let mut table = table;
        let (last, parents) = path.split_last()?;
        for name in parents {
            let (_, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
            let DeValue::Table(inner) = value.get_ref() else {
                return None;
            };
            table = inner;
        }
        table
            .iter()
            .find(|(k, _)| k.get_ref() == last)
            .map(|(k, _)| k.span())
    }

    /// `basic_auth`, `bearer_token` and `user_agent` become request headers.
    fn auth_and_agent(
        &mut self,
        key: &str,
        raw: &RawEndpoint,
        headers: &mut Vec<(String, String)>,
    ) {
        use base64::Engine as _;
        let has = |headers: &Vec<(String, String)>, name: &str| {
            headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut authorization = None;
        if let Some(auth) = &raw.basic_auth {
            let auth_key = format!("{key}.basic_auth");
            let user = self.interpolated(&format!("{auth_key}.username"), &auth.get_ref().username);
            let password = match &auth.get_ref().password {
                Some(p) => self.interpolated(&format!("{auth_key}.password"), p),
                None => Some(String::new()),
            };
            if let (Some(user), Some(password)) = (user, password) {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                authorization = Some((auth_key, auth.span(), format!("Basic {token}")));
            }
        }
        if let Some(token) = &raw.bearer_token {
            let token_key = format!("{key}.bearer_token");
            if authorization.is_some() {
                self.error(
                    token_key,
                    token.span(),
                    "give `basic_auth` or `bearer_token`, not both".into(),
                );
            } else if let Some(token_text) = self.interpolated(&token_key, token) {
                authorization = Some((token_key, token.span(), format!("Bearer {token_text}")));
            }
        }
        if let Some((auth_key, span, value)) = authorization {
            if has(headers, "authorization") {
                self.error(
                    auth_key,
                    span,
                    "an Authorization header is set in `headers` too: set it in one place".into(),
                );
            } else if reqwest::header::HeaderValue::from_str(&value).is_err() {
                self.error(
                    auth_key,
                    span,
                    "the credentials hold characters a header cannot carry".into(),
                );
            } else {
                headers.push(("Authorization".into(), value));
            }
        }
        if let Some(agent) = &raw.user_agent {
            let agent_key = format!("{key}.user_agent");
            if has(headers, "user-agent") {
                self.error(
                    agent_key,
                    agent.span(),
                    "a User-Agent header is set in `headers` too: set it in one place".into(),
                );
            } else if reqwest::header::HeaderValue::from_str(agent.get_ref()).is_err() {
                self.error(
                    agent_key,
                    agent.span(),
                    "invalid user agent (control characters)".into(),
                );
            } else {
                headers.push(("User-Agent".into(), agent.get_ref().clone()));
            }
        }
    }

    fn status_match(&mut self, key: &str, entry: &Spanned<RawStatus>) -> Option<StatusMatch> {
        match entry.get_ref() {
            RawStatus::Code(code) if (100..=599).contains(code) => Some(StatusMatch::Code(*code)),
            RawStatus::Code(code) => {
                self.error(
                    key.to_string(),
                    entry.span(),
                    format!("invalid status code {code}: expected 100 to 599"),
                );
                None
            }
            RawStatus::Class(text) => {
                let class = text
                    .strip_suffix("xx")
                    .and_then(|d| d.parse::<u16>().ok())
                    .filter(|d| (1..=5).contains(d));
                if class.is_none() {
                    self.error(
                        key.to_string(),
                        entry.span(),
                        format!(
                            "invalid status {text:?}: expected a code (200) or a class (\"2xx\")"
                        ),
                    );
                }
                class.map(StatusMatch::Class)
            }
        }
    }

    fn regex(&mut self, key: &str, pattern: &Spanned<String>) -> Option<regex::Regex> {
        match regex::Regex::new(pattern.get_ref()) {
            Ok(regex) => Some(regex),
            Err(e) => {
                // The regex crate's message spans several lines; keep its last one.
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim().to_string();
                self.error(
                    key.to_string(),
                    pattern.span(),
                    format!("invalid regular expression {:?}: {why}", pattern.get_ref()),
                );
                None
            }
        }
    }

    fn buckets(&mut self, list: &Spanned<Vec<Spanned<f64>>>) -> Vec<f64> {
        let values: Vec<f64> = list.get_ref().iter().map(|v| *v.get_ref()).collect();
        let ascending = values.windows(2).all(|w| w[0] < w[1]);
        let positive = values.iter().all(|v| v.is_finite() && *v > 0.0);
        if values.is_empty() || !ascending || !positive {
            self.error(
                "metrics.buckets".into(),
                list.span(),
                "buckets must be positive numbers of seconds in increasing order, e.g. [0.01, 0.1, 1]".into(),
            );
        }
        values
    }

    fn formats(&mut self, list: &Spanned<Vec<Spanned<String>>>) -> Vec<crate::snapshot::Format> {
        if list.get_ref().is_empty() {
            self.error(
                "export.formats".into(),
                list.span(),
                "formats is empty: give at least one of \"json\", \"csv\", \"md\"".into(),
            );
        }
        let mut formats = Vec::new();
        for (i, name) in list.get_ref().iter().enumerate() {
            match crate::snapshot::Format::from_name(name.get_ref()) {
                Some(format) if !formats.contains(&format) => formats.push(format),
                Some(_) => {}
                None => self.error(
                    format!("export.formats[{i}]"),
                    name.span(),
                    format!(
                        "unknown format {:?}: expected \"json\", \"csv\" or \"md\"",
                        name.get_ref()
                    ),
                ),
            }
        }
        formats
    }

    fn duration(&mut self, key: &str, value: Option<&Spanned<String>>) -> Option<Duration> {
        let value = value?;
        match crate::cli::parse_duration(value.get_ref()) {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(key.to_string(), value.span(), message);
                None
            }
        }
    }

    fn positive<T: Copy + Into<u64>>(
        &mut self,
        key: &str,
        value: Option<&Spanned<T>>,
    ) -> Option<T> {
        let value = value?;
        if (*value.get_ref()).into() == 0 {
            self.error(
                key.to_string(),
                value.span(),
                "must be at least 1".to_string(),
            );
            return None;
        }
        Some(*value.get_ref())
    }

    fn interpolated(&mut self, key: &str, value: &Spanned<String>) -> Option<String> {
        match interpolate(value.get_ref(), self.lookup) {
            Ok(s) => Some(s),
            Err((offset, message)) => {
                // Point at the reference inside the string when the literal is plain
                // (opening quote, then the text as written).
                let span = value.span();
                let start = (span.start + 1 + offset).min(span.end);
                let reference = self.text[start..span.end]
                    .find('}')
                    .map_or(1, |end| end + 1);
                let in_text = self.text.get(start..).is_some_and(|s| s.starts_with('$'));
                let span = if in_text {
                    start..start + reference
                } else {
                    span
                };
                self.error(key.to_string(), span, message);
                None
            }
        }
    }

    /// A path from the file, relative to the file's directory.
    fn relative_path(&self, value: &Spanned<String>) -> PathBuf {
        let path = PathBuf::from(value.get_ref());
        if path.is_absolute() {
            return path;
        }
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
            _ => path,
        }
    }

    fn check_ca_file(&mut self, key: &str, span: Range<usize>, path: &Path) {
        match std::fs::read(path) {
            Err(e) => self.error(
                key.to_string(),
                span,
                format!("cannot read CA file {}: {e}", path.display()),
            ),
            Ok(pem) => {
                if reqwest::Certificate::from_pem_bundle(&pem)
                    .map_or(true, |certs| certs.is_empty())
                {
                    self.error(
                        key.to_string(),
                        span,
                        format!("{} holds no PEM certificate", path.display()),
                    );
                }
            }
        }
    }
}

/// Values from `[defaults]` that endpoints inherit.
struct EndpointDefaults {
    interval: Duration,
    timeout: Duration,
    max_in_flight: Option<u32>,
    max_body_bytes: u64,
    state_rule: crate::stats::StateRule,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        parse_str(Path::new("t.toml"), text, |name| {
            (name == "TOKEN").then(|| "abc".to_string())
        })
    }

    fn first_error(text: &str) -> ConfigError {
        parse(text).unwrap_err().0.remove(0)
    }

    #[test]
    fn full_endpoint_parses() {
        let config = parse(
            r#"
[defaults]
interval = "2s"
timeout = "1s"
window = "1m"

[[endpoint]]
name = "api"
url = "http://127.0.0.1:1/health"
method = "post"
headers = { Authorization = "Bearer ${TOKEN}" }
body = "{}"
connection = "fresh"

[endpoint.expect]
status = [200, 204]
body_contains = "ok"
max_latency = "300ms"

[[endpoint]]
url = "https://example.test/"
interval = "250ms"
"#,
        )
        .unwrap();
        assert_eq!(config.window, Duration::from_secs(60));
        let api = &config.endpoints[0];
        assert_eq!(api.name, "api");
        assert_eq!(api.method, reqwest::Method::POST);
        assert_eq!(api.interval, Duration::from_secs(2));
        assert_eq!(
            api.headers,
            vec![("Authorization".into(), "Bearer abc".into())]
        );
        assert_eq!(api.connection, ConnectionMode::Fresh);
        assert_eq!(
            api.expect.status,
            Some(vec![StatusMatch::Code(200), StatusMatch::Code(204)])
        );
        assert_eq!(api.expect.max_latency, Some(Duration::from_millis(300)));
        let second = &config.endpoints[1];
        assert_eq!(second.name, "https://example.test/");
        assert_eq!(second.interval, Duration::from_millis(250));
        assert_eq!(second.timeout, Duration::from_secs(1));
        assert_eq!(second.max_in_flight, 5);
    }

    #[test]
    fn key_paths_point_into_arrays_of_tables() {
        let e = first_error(
            "[[endpoint]]\nurl = \"http://a/\"\n\n[[endpoint]]\nurl = \"http://b/\"\ninterval = 5\n",
        );
        assert_eq!(e.key.as_deref(), Some("endpoint[1].interval"), "{e}");
        assert_eq!(e.location.as_ref().unwrap().line, 6);
        let e =
            first_error("[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\nstatus = [true]\n");
        assert_eq!(
            e.key.as_deref(),
            Some("endpoint[0].expect.status[0]"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let e = first_error("[[endpoint]]\nurl = \"http://a/\"\nintervl = \"1s\"\n");
        assert!(e.message.contains("did you mean `interval`?"), "{e}");
        assert_eq!(e.key.as_deref(), Some("endpoint[0].intervl"), "{e}");
        assert_eq!(e.location.as_ref().unwrap().line, 3);
        assert_eq!(e.location.as_ref().unwrap().column, 1);
    }

    #[test]
    fn secrets_in_urls_stay_out_of_what_is_shown() {
        let config = parse("[[endpoint]]\nurl = \"http://127.0.0.1:9/?key=${TOKEN}\"\n").unwrap();
        let e = &config.endpoints[0];
        assert_eq!(e.url.as_str(), "http://127.0.0.1:9/?key=abc");
        assert_eq!(e.url_as_written, "http://127.0.0.1:9/?key=${TOKEN}");
        assert_eq!(e.name, "http://127.0.0.1:9/?key=${TOKEN}");
    }

    #[test]
    fn duplicates_are_reported_even_beside_other_errors() {
        let errors = parse(
            "[[endpoint]]\nname = \"a\"\nurl = \"http://x/\"\ntimeout = \"0s\"\n[[endpoint]]\nname = \"a\"\nurl = \"http://y/\"\n",
        )
        .unwrap_err()
        .0;
        let keys: Vec<_> = errors.iter().filter_map(|e| e.key.as_deref()).collect();
        assert_eq!(
            keys,
            ["endpoint[0].timeout", "endpoint[1].name"],
            "{errors:?}"
        );
    }

    #[test]
    fn zero_caps_and_sub_second_windows_are_rejected() {
        for (text, key) in [
            (
                "[defaults]\nmax_body_bytes = 0\n",
                "defaults.max_body_bytes",
            ),
            ("[defaults]\nmax_in_flight = 0\n", "defaults.max_in_flight"),
            ("[defaults]\nwindow = \"500ms\"\n", "defaults.window"),
            (
                "[[endpoint]]\nurl = \"http://x/\"\nmax_body_bytes = 0\n",
                "endpoint[0].max_body_bytes",
            ),
        ] {
            let e = first_error(text);
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
        }
    }

    #[test]
    fn export_formats_are_checked() {
        use crate::snapshot::Format;
        let config = parse(
            "[export]\nformats = [\"md\", \"json\", \"md\"]\n[[endpoint]]\nurl = \"http://x/\"\n",
        )
        .unwrap();
        assert_eq!(config.export_formats, [Format::Markdown, Format::Json]);
        let e = first_error("[export]\nformats = [\"json\", \"pdf\"]\n");
        assert_eq!(e.key.as_deref(), Some("export.formats[1]"), "{e}");
        assert!(e.message.contains("unknown format \"pdf\""), "{e}");
        let e = first_error("[export]\nformats = []\n");
        assert_eq!(e.key.as_deref(), Some("export.formats"), "{e}");
    }

    #[test]
    fn metrics_buckets_and_hlog_keys_are_checked() {
        let config = parse(
            "[metrics]\nbuckets = [0.01, 0.1, 1]\n[export]\nhlog = \"x.hlog\"\nhlog_interval = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(config.metrics_buckets, [0.01, 0.1, 1.0]);
        assert_eq!(config.hlog.as_deref(), Some(Path::new("x.hlog")));
        assert_eq!(config.hlog_interval, Duration::from_secs(2));
        for text in [
            "[metrics]\nbuckets = [0.1, 0.01]\n",
            "[metrics]\nbuckets = []\n",
            "[metrics]\nbuckets = [0, 1]\n",
        ] {
            assert_eq!(
                first_error(text).key.as_deref(),
                Some("metrics.buckets"),
                "{text}"
            );
        }
        let e = first_error("[export]\nhlog_interval = \"soon\"\n");
        assert_eq!(e.key.as_deref(), Some("export.hlog_interval"), "{e}");
        let e = first_error("[metrics]\nbucket = [1]\n");
        assert!(e.message.contains("did you mean `buckets`?"), "{e}");
    }

    #[test]
    fn state_rule_keys_inherit_and_are_checked() {
        let config =
            parse("[defaults]\ndown_after = 3\n[[endpoint]]\nurl = \"http://a/\"\nup_after = 2\n")
                .unwrap();
        let rule = config.endpoints[0].state_rule;
        assert_eq!((rule.down_after, rule.up_after), (3, 2));
        let e = first_error("[[endpoint]]\nurl = \"http://a/\"\ndown_after = 0\n");
        assert_eq!(e.key.as_deref(), Some("endpoint[0].down_after"), "{e}");
    }

    #[test]
    fn richer_expectations_parse_and_bad_ones_are_located() {
        let config = parse(
            "[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\nstatus = [\"2xx\", 304]\nbody_regex = \"ok|up\"\njson = { \"/status\" = \"ok\", \"/count\" = 3 }\nheaders = { Content-Type = \"^application/json\" }\n",
        )
        .unwrap();
        let expect = &config.endpoints[0].expect;
        assert_eq!(
            expect.status,
            Some(vec![StatusMatch::Class(2), StatusMatch::Code(304)])
        );
        assert!(expect.accepts_status(204) && expect.accepts_status(304));
        assert!(!expect.accepts_status(301));
        assert_eq!(expect.json.len(), 2);
        assert_eq!(expect.headers[0].0, "content-type");
        for (text, key, needle) in [
            (
                "status = [\"2x\"]",
                "endpoint[0].expect.status",
                "expected a code (200) or a class",
            ),
            (
                "body_regex = \"(\"",
                "endpoint[0].expect.body_regex",
                "invalid regular expression",
            ),
            (
                "json = { status = 1 }",
                "endpoint[0].expect.json.\"status\"",
                "not a JSON Pointer",
            ),
            (
                "headers = { X = \"[\" }",
                "endpoint[0].expect.headers.X",
                "invalid regular expression",
            ),
        ] {
            let e = first_error(&format!(
                "[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\n{text}\n"
            ));
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
            assert!(e.message.contains(needle), "{e}");
            assert_eq!(e.location.as_ref().unwrap().line, 4, "{e}");
        }
    }

    #[test]
    fn request_control_keys_are_checked() {
        let config = parse(
            "[[endpoint]]\nurl = \"http://a/\"\nbearer_token = \"${TOKEN}\"\nuser_agent = \"x/1\"\nhttp = \"2\"\nfollow_redirects = false\n",
        )
        .unwrap();
        let e = &config.endpoints[0];
        assert!(
            e.headers
                .contains(&("Authorization".into(), "Bearer abc".into()))
        );
        assert!(e.headers.contains(&("User-Agent".into(), "x/1".into())));
        assert_eq!(e.http, Some(HttpVersion::Http2));
        assert!(!e.follow_redirects);
        for (text, key, needle) in [
            (
                "body = \"x\"\nbody_file = \"f\"",
                "endpoint[0].body_file",
                "not both",
            ),
            (
                "body_file = \"no/such/file\"",
                "endpoint[0].body_file",
                "cannot read body file",
            ),
            (
                "basic_auth = { username = \"u\" }\nbearer_token = \"t\"",
                "endpoint[0].bearer_token",
                "not both",
            ),
            (
                "http = \"3\"",
                "endpoint[0].http",
                "expected \"1.1\" or \"2\"",
            ),
            (
                "headers = { Authorization = \"x\" }\nbearer_token = \"t\"",
                "endpoint[0].bearer_token",
                "set it in one place",
            ),
        ] {
            let e = first_error(&format!("[[endpoint]]\nurl = \"http://a/\"\n{text}\n"));
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    #[test]
    fn tcp_and_tls_endpoints_parse() {
        let config = parse(
            "[defaults]\nmax_body_bytes = 1024\n[[endpoint]]\nurl = \"tcp://db.example.internal:5432\"\ninterval = \"2s\"\ndown_after = 3\n[[endpoint]]\nurl = \"tls://mail.example.com:465/\"\ninsecure = true\n[endpoint.expect]\nmax_latency = \"50ms\"\nmin_cert_days = 14\n[[endpoint]]\nurl = \"https://a/\"\nexpect = { min_cert_days = 0 }\n",
        )
        .unwrap();
        let [tcp, tls, https] = &config.endpoints[..] else {
            panic!("{:?}", config.endpoints);
        };
        assert_eq!(tcp.kind(), super::super::ProbeKind::Tcp);
        assert_eq!(tcp.name, "tcp://db.example.internal:5432");
        assert_eq!(tcp.url.host_str(), Some("db.example.internal"));
        assert_eq!(tcp.url.port(), Some(5432));
        assert_eq!(tcp.interval, Duration::from_secs(2));
        assert_eq!(tcp.state_rule.down_after, 3);
        assert_eq!(tcp.expect.min_cert_days, None);
        assert_eq!(tls.kind(), super::super::ProbeKind::Tls);
        assert_eq!(tls.name, "tls://mail.example.com:465/");
        assert!(tls.insecure);
        assert_eq!(tls.expect.min_cert_days, Some(14));
        assert_eq!(tls.expect.max_latency, Some(Duration::from_millis(50)));
        assert_eq!(https.kind(), super::super::ProbeKind::Http);
        assert_eq!(https.expect.min_cert_days, Some(0));
    }

    #[test]
    fn tcp_and_tls_urls_are_host_and_port_only() {
        for (url, needle) in [
            ("tcp://db", "a tcp:// URL needs a port"),
            ("tcp://db:0", "needs a port other than 0"),
            ("tcp:///x", "the URL has no host"),
            ("tcp://db:5432/x", "a tcp:// URL takes no path"),
            ("tls://db:5432?x=1", "a tls:// URL takes no query"),
            ("tls://db:5432#x", "a tls:// URL takes no fragment"),
            (
                "tls://u:p@db:5432",
                "a tls:// URL takes no user name or password",
            ),
            (
                "udp://db:53",
                "unsupported scheme `udp` (use http, https, tcp or tls)",
            ),
            ("tcp://münchen.example:1", "needs an ASCII host"),
            ("tls://a_b!:443", "a DNS name or an IP address"),
        ] {
            let e = first_error(&format!("[[endpoint]]\nurl = \"{url}\"\n"));
            assert_eq!(e.key.as_deref(), Some("endpoint[0].url"), "{e}");
            assert!(e.message.contains(needle), "{url}: {e}");
            assert_eq!(e.location.as_ref().unwrap().line, 2, "{e}");
        }
        assert!(parse_url("tcp://[::1]:5432").is_ok());
        assert!(parse_url("tls://[::1]:5432").is_ok());
        assert!(parse_url("tls://127.0.0.1:5432").is_ok());
        assert!(parse_url("tls://xn--mnchen-3ya.example:5432").is_ok());
        assert!(parse_url("tls://db:5432/").is_ok());
    }

    #[test]
    fn http_only_keys_are_rejected_on_tcp_and_tls() {
        for text in [
            "method = \"GET\"",
            "headers = { A = \"b\" }",
            "body = \"x\"",
            "body_file = \"f\"",
            "basic_auth = { username = \"u\" }",
            "bearer_token = \"t\"",
            "user_agent = \"x\"",
            "http = \"2\"",
            "follow_redirects = false",
            "connection = \"fresh\"",
            "max_body_bytes = 10",
            "expect.status = [200]",
            "expect.body_contains = \"ok\"",
            "expect.body_regex = \"(\"",
            "expect.json = { \"/a\" = 1 }",
            "expect.headers = { A = \"b\" }",
        ] {
            let name = text.split(' ').next().unwrap();
            for scheme in ["tcp", "tls"] {
                let errors = parse(&format!(
                    "[[endpoint]]\nurl = \"{scheme}://db:5432\"\n{text}\n"
                ))
                .unwrap_err()
                .0;
                // Only this error: the value of a key that does not apply is not checked.
                assert_eq!(errors.len(), 1, "{errors:?}");
                let e = &errors[0];
                assert_eq!(e.key, Some(format!("endpoint[0].{name}")), "{e}");
                assert!(
                    e.message.contains(&format!(
                        "`{name}` applies to http:// and https:// endpoints only (a {scheme}:// probe only connects"
                    )),
                    "{e}"
                );
                let location = e.location.as_ref().unwrap();
                // A dotted key is pointed at by its last part.
                let column = name.rfind('.').map_or(1, |dot| dot + 2);
                assert_eq!((location.line, location.column), (3, column), "{e}");
            }
        }
        for text in ["ca_file = \"ca.pem\"", "insecure = true"] {
            let name = text.split(' ').next().unwrap();
            let e = first_error(&format!("[[endpoint]]\nurl = \"tcp://db:5432\"\n{text}\n"));
            assert_eq!(e.key, Some(format!("endpoint[0].{name}")), "{e}");
            assert!(
                e.message.contains(
                    "applies to https:// and tls:// endpoints only (a tcp:// probe has no TLS)"
                ),
                "{e}"
            );
        }
        // Allowed on tls://, and on http:// as before.
        parse("[[endpoint]]\nurl = \"tls://db:5432\"\ninsecure = true\n").unwrap();
        parse("[[endpoint]]\nurl = \"http://db/\"\ninsecure = true\n").unwrap();
        // In a [endpoint.expect] table, the error points at the key in that table.
        let e = first_error(
            "[[endpoint]]\nurl = \"http://a/\"\n[[endpoint]]\nurl = \"tls://db:5432\"\n\n[endpoint.expect]\nmax_latency = \"1s\"\nstatus = [200]\n",
        );
        assert_eq!(e.key.as_deref(), Some("endpoint[1].expect.status"), "{e}");
        let location = e.location.as_ref().unwrap();
        assert_eq!((location.line, location.column), (8, 1), "{e}");
    }

    #[test]
    fn min_cert_days_is_checked() {
        for (url, days, needle, column) in [
            ("https://a/", "-1", "cannot be negative", 17),
            ("https://a/", "3651", "at most 3650", 17),
            (
                "https://a/",
                "\"30\"",
                "expected a whole number of days",
                17,
            ),
            ("https://a/", "1.5", "expected a whole number of days", 17),
            (
                "http://a/",
                "30",
                "needs an https:// or tls:// URL: a http:// endpoint",
                1,
            ),
            (
                "tcp://a:1",
                "30",
                "needs an https:// or tls:// URL: a tcp:// endpoint",
                1,
            ),
        ] {
            let e = first_error(&format!(
                "[[endpoint]]\nurl = \"{url}\"\n[endpoint.expect]\nmin_cert_days = {days}\n"
            ));
            assert_eq!(
                e.key.as_deref(),
                Some("endpoint[0].expect.min_cert_days"),
                "{e}"
            );
            assert!(e.message.contains(needle), "{e}");
            let location = e.location.as_ref().unwrap();
            assert_eq!((location.line, location.column), (4, column), "{e}");
        }
        let e = first_error("[defaults]\nmin_cert_days = 3\n");
        assert!(e.message.contains("unknown field `min_cert_days`"), "{e}");
        let e = first_error(
            "[[endpoint]]\nurl = \"https://a/\"\n[endpoint.expect]\nmin_cert_day = 3\n",
        );
        assert!(e.message.contains("did you mean `min_cert_days`?"), "{e}");
    }

    #[test]
    fn default_overlap_cap_covers_the_timeout() {
        assert_eq!(
            default_max_in_flight(Duration::from_secs(1), Duration::from_secs(5)),
            6
        );
        assert_eq!(
            default_max_in_flight(Duration::from_secs(5), Duration::from_secs(1)),
            2
        );
    }
}
