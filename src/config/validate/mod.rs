//! Turning the text of a config file into a validated [`Config`], job by job: the
//! file-wide sections here and in `export`, `[[alert]]` in `alert`, one endpoint in `endpoint` (its URL and
//! the keys its scheme allows in `scheme`, credentials in `auth`, certificates in
//! `tls`, success conditions in `expect`).
//!
//! The file is parsed into a tree the raw structs are deserialized from; every span an
//! error needs is looked up in the [`Document`]'s one tree of it (see `locate`).

mod alert;
mod auth;
mod endpoint;
mod expect;
mod export;
mod scheme;
mod tls;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeValue};

pub(super) use scheme::{parse_url, scheme_hint};

use super::error::{ConfigError, ConfigErrors, Location};
use super::locate::{Document, key_by_lines};
use super::raw::{RawConfig, RawDefaults, RawEndpoint};
use super::{Config, Endpoint, StateRule, TlsRoots, defaults, interpolate, parse_duration};

/// [`parse_unshared`] as one [`Config`], for tests.
#[cfg(test)]
pub fn parse_str(
    path: &Path,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let (mut config, endpoints) = parse_unshared(path, text, lookup)?;
    config.endpoints = endpoints.into();
    Ok(config)
}

/// Parses and validates the text of a config file. `path` is only used in messages
/// and to resolve relative paths (`ca_file`); `lookup` reads environment variables.
/// The endpoints come in a list of their own (the config's is left empty), so that
/// the command line's can follow them before the list is shared.
///
/// A TOML syntax or type error stops at once; the validation problems after it are
/// returned together, in file order.
pub(super) fn parse_unshared(
    path: &Path,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<Endpoint>), ConfigErrors> {
    let (doc, mut tree) = Document::parse(text).map_err(|e| toml_error(path, text, None, &e))?;
    let type_error =
        |e: toml::de::Error| ConfigErrors::from(toml_error(path, text, Some(&doc), &e));
    // The `[[endpoint]]` tables are taken out of the tree and each deserialized as
    // it is validated, then dropped: deserialized all at once, 50,000 of them were
    // 60 MB of raw structs (about 1.2 KB each), a list grown and copied a dozen
    // times, and a tenth of the loading's time.
    let tables = match tree.get_mut().remove_entry(ENDPOINT_KEY) {
        Some((key, value)) => {
            let span = value.span();
            match value.into_inner() {
                DeValue::Array(tables) => Some(tables),
                // Not a list of tables: deserializing it with the rest says how.
                other => {
                    tree.get_mut().insert(key, Spanned::new(span, other));
                    None
                }
            }
        }
        None => None,
    };
    let raw = match RawConfig::deserialize(toml::Deserializer::from(tree)) {
        Ok(raw) => raw,
        Err(e) => {
            // Serde reads the keys in the tree's (sorted) order and stops at the
            // first type error: an endpoint's comes first when this one's key sorts
            // after `endpoint`.
            let key = e.span().and_then(|span| doc.key_at(span.start));
            if key.is_some_and(|key| top_level(&key) > ENDPOINT_KEY)
                && let Some(tables) = tables
                && let Some(Err(first)) = raw_endpoints(tables).find(Result::is_err)
            {
                return Err(type_error(first));
            }
            return Err(type_error(e));
        }
    };
    let mut v = Validator {
        path,
        doc: &doc,
        lookup: &lookup,
        errors: Vec::new(),
    };
    let parsed = v
        .config(raw, tables.unwrap_or_else(DeArray::new))
        .map_err(type_error)?;
    if v.errors.is_empty() {
        Ok(parsed)
    } else {
        // In file order, as a reader goes through the file fixing them.
        v.errors
            .sort_by_key(|e| e.location.as_ref().map(|l| (l.line, l.column)));
        Err(ConfigErrors(v.errors))
    }
}

/// The top-level key of the endpoint tables.
const ENDPOINT_KEY: &str = "endpoint";

/// The top-level key of a dotted key path (`endpoint[3].url` → `endpoint`).
fn top_level(key: &str) -> &str {
    key.split(['.', '[']).next().unwrap_or(key)
}

/// The endpoint tables of `tables`, each deserialized when it is reached: what the
/// whole tree's deserializer does to each, one at a time.
fn raw_endpoints(
    tables: DeArray<'_>,
) -> impl ExactSizeIterator<Item = Result<Spanned<RawEndpoint>, toml::de::Error>> {
    tables
        .into_iter()
        .map(|table| Spanned::<RawEndpoint>::deserialize(toml::de::ValueDeserializer::from(table)))
}

/// Turns a TOML syntax or type error into a located error with its key path. `doc`
/// is the parsed file, absent when the syntax error is what stopped the parsing.
fn toml_error(
    path: &Path,
    text: &str,
    doc: Option<&Document<'_>>,
    error: &toml::de::Error,
) -> ConfigError {
    let mut message = error.message().trim().to_string();
    if let Some(suggestion) = did_you_mean(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    let span = error.span();
    let key = span.as_ref().and_then(|span| {
        doc.and_then(|doc| doc.key_at(span.start))
            .or_else(|| key_by_lines(text, span.start))
    });
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

/// Values from `[defaults]` that endpoints inherit.
struct EndpointDefaults {
    interval: Duration,
    timeout: Duration,
    max_in_flight: Option<u32>,
    max_body_bytes: u64,
    state_rule: StateRule,
    tls_roots: TlsRoots,
}

/// Collects validation errors while building the config.
struct Validator<'a, F> {
    path: &'a Path,
    doc: &'a Document<'a>,
    lookup: &'a F,
    errors: Vec<ConfigError>,
}

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    fn error(&mut self, key: String, span: Range<usize>, message: String) {
        self.errors.push(ConfigError {
            message,
            key: Some(key),
            location: Some(self.doc.location(self.path, span)),
            file: Some(self.path.to_path_buf()),
        });
    }

    /// The config, and its endpoints apart (the config's own list left empty), from
    /// `raw` and the endpoint tables still to deserialize, `tables`; a type error in
    /// one of those stops it.
    fn config(
        &mut self,
        raw: RawConfig,
        tables: DeArray<'_>,
    ) -> Result<(Config, Vec<Endpoint>), toml::de::Error> {
        let (endpoint_defaults, window) = self.defaults_section(&raw.defaults);
        let export = self.export(&raw.export, &raw.metrics);
        // Every name the file gives (the alerts', if any, are checked against them):
        // an alert may name an endpoint whose own errors leave it out.
        let mut names = (!raw.alert.is_empty()).then(HashSet::new);
        let count = raw.endpoint.len() + tables.len();
        let endpoints = self.endpoints(
            raw.endpoint
                .into_iter()
                .map(Ok)
                .chain(raw_endpoints(tables)),
            count,
            &endpoint_defaults,
            names.as_mut(),
        )?;
        let alerts = self.alerts(raw.alert, &names.unwrap_or_default());
        let config = Config {
            source: Some(self.path.to_path_buf()),
            window,
            export_dir: export.dir,
            export_formats: export.formats,
            export_on_exit: export.on_exit,
            hlog: export.hlog,
            hlog_interval: export.hlog_interval,
            metrics_buckets: export.metrics_buckets,
            metrics_phases: export.metrics_phases,
            endpoints: Arc::default(),
            alerts,
            bell: raw
                .ui
                .bell
                .as_ref()
                .map_or(defaults::BELL, |b| *b.get_ref()),
        };
        Ok((config, endpoints))
    }

    /// `[defaults]`: what endpoints inherit, and the statistics window.
    fn defaults_section(&mut self, d: &RawDefaults) -> (EndpointDefaults, Duration) {
        let interval = self
            .duration("defaults.interval", d.interval.as_ref())
            .unwrap_or(defaults::INTERVAL);
        let timeout = self
            .duration("defaults.timeout", d.timeout.as_ref())
            .unwrap_or(defaults::TIMEOUT);
        let window = self
            .duration("defaults.window", d.window.as_ref())
            .unwrap_or(defaults::WINDOW);
        let max_in_flight = self.positive("defaults.max_in_flight", d.max_in_flight.as_ref());
        let max_body_bytes = self
            .positive("defaults.max_body_bytes", d.max_body_bytes.as_ref())
            .unwrap_or(defaults::MAX_BODY_BYTES);
        if let Some(w) = &d.window
            && window < defaults::MIN_WINDOW
        {
            self.error(
                "defaults.window".into(),
                w.span(),
                "window must be at least 1s".into(),
            );
        }
        let state_rule = self.state_rule(
            "defaults",
            (d.down_after.as_ref(), d.up_after.as_ref()),
            defaults::STATE_RULE,
        );
        let tls_roots = self
            .parsed("defaults.tls_roots", d.tls_roots.as_ref())
            .unwrap_or(defaults::TLS_ROOTS);
        let inherited = EndpointDefaults {
            interval,
            timeout,
            max_in_flight,
            max_body_bytes,
            state_rule,
            tls_roots,
        };
        (inherited, window)
    }

    /// Every `[[endpoint]]`, in file order; those with errors are left out. The name
    /// (else the URL) each gives goes into `names`, when asked for; a type error in
    /// a table stops the validation.
    fn endpoints(
        &mut self,
        raw: impl Iterator<Item = Result<Spanned<RawEndpoint>, toml::de::Error>>,
        count: usize,
        inherited: &EndpointDefaults,
        mut names: Option<&mut HashSet<String>>,
    ) -> Result<Vec<Endpoint>, toml::de::Error> {
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(count);
        // Names seen so far with the span of their first use, valid endpoints or not,
        // so that a duplicate is reported even when the other endpoint has errors of
        // its own. A map, not a list: a list's scan per endpoint made loading
        // quadratic (100,000 endpoints took minutes).
        let mut seen: HashMap<String, Range<usize>> = HashMap::with_capacity(count);
        for (i, raw_endpoint) in raw.enumerate() {
            let raw_endpoint = raw_endpoint?;
            let table_span = raw_endpoint.span();
            let raw_endpoint = raw_endpoint.into_inner();
            if let Some(names) = names.as_deref_mut()
                && let Some(name) = raw_endpoint.name.as_ref().or(raw_endpoint.url.as_ref())
            {
                names.insert(name.get_ref().clone());
            }
            // The name an endpoint without one gets is its URL, masked: two URLs
            // differing only in a secret would show (and be labelled) the same.
            let named = match (&raw_endpoint.name, &raw_endpoint.url) {
                (Some(name), _) => Some((name.get_ref().clone(), name.span())),
                (None, Some(url)) => Some((super::mask::mask_url(url.get_ref()), url.span())),
                (None, None) => None,
            };
            let mut duplicate = false;
            if let Some((name, span)) = named {
                match seen.get(&name) {
                    Some(first) => {
                        let first_line = self.doc.location(self.path, first.clone()).line;
                        self.error(
                            format!("endpoint[{i}].name"),
                            span,
                            format!(
                                "duplicate endpoint name {name:?} (first used on line {first_line}); names must be unique"
                            ),
                        );
                        duplicate = true;
                    }
                    None => {
                        seen.insert(name, span);
                    }
                }
            }
            let endpoint = self.endpoint(i, raw_endpoint, table_span, inherited);
            if let (Some(endpoint), false) = (endpoint, duplicate) {
                endpoints.push(endpoint);
            }
        }
        Ok(endpoints)
    }

    /// `down_after` and `up_after` under `prefix`, each falling back to `inherited`.
    fn state_rule(
        &mut self,
        prefix: &str,
        (down_after, up_after): (Option<&Spanned<u32>>, Option<&Spanned<u32>>),
        inherited: StateRule,
    ) -> StateRule {
        StateRule {
            down_after: self
                .positive(format_args!("{prefix}.down_after"), down_after)
                .unwrap_or(inherited.down_after),
            up_after: self
                .positive(format_args!("{prefix}.up_after"), up_after)
                .unwrap_or(inherited.up_after),
        }
    }

    /// A duration. Keys here and in [`Validator::parsed`] and [`Validator::positive`]
    /// are anything printable (`format_args!`), made into text only for an error:
    /// formatting a dozen keys per endpoint was a tenth of loading 50,000 valid ones.
    fn duration(
        &mut self,
        key: impl std::fmt::Display,
        value: Option<&Spanned<String>>,
    ) -> Option<Duration> {
        let value = value?;
        match parse_duration(value.get_ref()) {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(key.to_string(), value.span(), message);
                None
            }
        }
    }

    /// A value named in the file (`http = "2"`), parsed by its type's `FromStr`, whose
    /// error says what is expected.
    fn parsed<T: FromStr<Err = String>>(
        &mut self,
        key: impl std::fmt::Display,
        value: Option<&Spanned<String>>,
    ) -> Option<T> {
        let value = value?;
        match value.get_ref().parse() {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(key.to_string(), value.span(), message);
                None
            }
        }
    }

    fn positive<T: Copy + Into<u64>>(
        &mut self,
        key: impl std::fmt::Display,
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
                // (opening quote, then the text as written). After an escape sequence
                // the offset no longer matches the text, and may even fall inside a
                // character: then the whole value is pointed at.
                let span = value.span();
                let start = (span.start + 1 + offset).min(span.end);
                let span = match self.doc.text.get(start..span.end) {
                    Some(rest) if rest.starts_with('$') => {
                        start..start + rest.find('}').map_or(1, |end| end + 1)
                    }
                    _ => span,
                };
                self.error(key.to_string(), span, message);
                None
            }
        }
    }

    /// A path the file names for probetop to read, relative to the file's directory.
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
}
