//! The config file exactly as written: serde structs whose leaves keep their spans,
//! so that validation can point at the offending value.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub export: RawExport,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub endpoint: Vec<Spanned<RawEndpoint>>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub buckets: Option<Spanned<Vec<Spanned<f64>>>>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub window: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<u32>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub down_after: Option<Spanned<u32>>,
    pub up_after: Option<Spanned<u32>>,
}

/// `[export]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub dir: Option<Spanned<String>>,
    pub formats: Option<Spanned<Vec<Spanned<String>>>>,
    pub hlog: Option<Spanned<String>>,
    pub hlog_interval: Option<Spanned<String>>,
}

/// One `[[endpoint]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub name: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<Spanned<String>, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub connection: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<u32>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub down_after: Option<Spanned<u32>>,
    pub up_after: Option<Spanned<u32>>,
    pub expect: Option<RawExpect>,
}

/// `[endpoint.expect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<Spanned<Vec<Spanned<u16>>>>,
    pub body_contains: Option<Spanned<String>>,
    pub max_latency: Option<Spanned<String>>,
}
