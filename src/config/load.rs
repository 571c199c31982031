//! Reading the config file and merging the command line into the [`Config`] it
//! describes; the file's text is validated by `validate`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ConfigErrors, Location};
use super::mask::mask_url;
use super::validate::{parse_unshared, parse_url, scheme_hint};
use super::{Config, Endpoint, defaults};

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
    let (mut config, mut endpoints) = match &path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                let what = if e.kind() == std::io::ErrorKind::NotFound {
                    "config file not found".to_string()
                } else {
                    format!("cannot read config file: {e}")
                };
                ConfigError::file(path, what)
            })?;
            let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes()))?;
            parse_unshared(path, &text, lookup)?
        }
        None => (
            Config {
                source: None,
                window: defaults::WINDOW,
                export_dir: PathBuf::from(defaults::EXPORT_DIR),
                export_formats: defaults::EXPORT_FORMATS.to_vec(),
                export_on_exit: defaults::EXPORT_ON_EXIT,
                hlog: None,
                hlog_interval: defaults::HLOG_INTERVAL,
                metrics_buckets: defaults::METRICS_BUCKETS.to_vec(),
                metrics_phases: defaults::METRICS_PHASES,
                endpoints: Default::default(),
                alerts: Vec::new(),
                bell: defaults::BELL,
            },
            Vec::new(),
        ),
    };
    add_cli_urls(&mut endpoints, options)?;
    config.endpoints = endpoints.into();
    if let Some(dir) = &options.export_dir {
        config.export_dir = dir.clone();
    }
    if let Some(hlog) = &options.hlog {
        config.hlog = Some(hlog.clone());
    }
    Ok(config)
}

/// The error for a config file that is not UTF-8 (TOML must be): where the first
/// invalid byte is, by line and column, and which it is.
fn not_utf8(path: &std::path::Path, bytes: &[u8]) -> ConfigError {
    let valid = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), |_| bytes.len());
    // Replacement starts at the first invalid byte, so byte offsets before it, and
    // the first replacement character's, are the file's own; the span covers that
    // whole character (three bytes), never part of it.
    let text = String::from_utf8_lossy(bytes);
    let byte = bytes.get(valid).copied().unwrap_or_default();
    ConfigError {
        message: format!(
            "the config file is not valid UTF-8 (byte 0x{byte:02x}): TOML files are UTF-8; save it as such"
        ),
        key: None,
        location: Some(Location::from_span(
            path,
            &text,
            valid..valid + char::REPLACEMENT_CHARACTER.len_utf8(),
        )),
        file: Some(path.to_path_buf()),
    }
}

/// Appends the command line's URLs to `endpoints` (the file's).
fn add_cli_urls(endpoints: &mut Vec<Endpoint>, options: &LoadOptions) -> Result<(), ConfigErrors> {
    if options.urls.is_empty() {
        return Ok(());
    }
    let interval = options.interval.unwrap_or(defaults::INTERVAL);
    let timeout = options.timeout.unwrap_or(defaults::TIMEOUT);
    let mut errors = Vec::new();
    // Every name taken so far, the file's and the earlier arguments': a set, since a
    // scan of the endpoints per argument is quadratic with many of both.
    let mut names: HashSet<String> = endpoints.iter().map(|e| e.name.clone()).collect();
    for text in &options.urls {
        let url = match parse_url(text) {
            Ok(url) => url,
            Err(why) => {
                errors.push(ConfigError::usage(format!(
                    "invalid URL argument {:?}: {}",
                    mask_url(text),
                    scheme_hint(why, &mask_url(text))
                )));
                continue;
            }
        };
        // Named and shown as typed (the parsed form may differ, e.g. by a trailing
        // slash), secrets masked.
        let shown = mask_url(text);
        if !names.insert(shown.clone()) {
            errors.push(ConfigError::usage(format!(
                "URL argument {shown:?} is given twice (or also names an endpoint of the config file)"
            )));
            continue;
        }
        let mut endpoint = Endpoint::new(&shown, url, interval, timeout);
        endpoint.url_as_written = shown;
        endpoints.push(endpoint);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}
