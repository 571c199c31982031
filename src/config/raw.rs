//! The config file exactly as written: serde structs whose leaves keep their spans,
//! so that validation can point at the offending value.
//!
//! Names of values (`http`, `connection`, `export.formats`) stay strings here and are
//! parsed by the validator with their type's `FromStr` or name lookup: a bad name is
//! then one more located error, reported with the others, where a serde error would
//! stop the reading at once.

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
    #[serde(default)]
    pub ui: RawUi,
    #[serde(default)]
    pub alert: Vec<Spanned<RawAlert>>,
}

/// `[ui]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    pub bell: Option<Spanned<bool>>,
}

/// One `[[alert]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
    pub endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    pub command: Option<Spanned<Vec<Spanned<String>>>>,
    pub webhook: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub repeat: Option<Spanned<String>>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub buckets: Option<Spanned<Vec<Spanned<f64>>>>,
    pub phases: Option<Spanned<bool>>,
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
    pub tls_roots: Option<Spanned<String>>,
}

/// `[export]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub dir: Option<Spanned<String>>,
    pub formats: Option<Spanned<Vec<Spanned<String>>>>,
    pub hlog: Option<Spanned<String>>,
    pub hlog_interval: Option<Spanned<String>>,
    pub on_exit: Option<Spanned<bool>>,
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
    pub body_file: Option<Spanned<String>>,
    pub basic_auth: Option<Spanned<RawBasicAuth>>,
    pub bearer_token: Option<Spanned<String>>,
    pub http: Option<Spanned<String>>,
    pub follow_redirects: Option<Spanned<bool>>,
    pub allow_downgrade: Option<Spanned<bool>>,
    pub resolve: Option<Spanned<String>>,
    pub user_agent: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub tls_roots: Option<Spanned<String>>,
    pub connection: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<u32>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub down_after: Option<Spanned<u32>>,
    pub up_after: Option<Spanned<u32>>,
    pub canary: Option<Spanned<bool>>,
    pub expect: Option<RawExpect>,
}

/// `basic_auth = { username = "…", password = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    pub username: Spanned<String>,
    pub password: Option<Spanned<String>>,
}

/// `[endpoint.expect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<Spanned<Vec<Spanned<RawStatus>>>>,
    pub body_contains: Option<Spanned<String>>,
    pub body_regex: Option<Spanned<String>>,
    pub json: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    pub headers: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub max_latency: Option<Spanned<String>>,
    pub min_cert_days: Option<Spanned<RawDays>>,
}

/// `expect.min_cert_days`: any whole number as written, so that a negative or
/// too-large value is a located validation error rather than a type error.
#[derive(Debug, Clone, Copy)]
pub struct RawDays(pub i64);

impl<'de> Deserialize<'de> for RawDays {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawDays;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number of days (0 to 3650)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawDays, E> {
                Ok(RawDays(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawDays, E> {
                Ok(RawDays(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One entry of `expect.status`: a code (`204`) or a class (`"2xx"`).
#[derive(Debug)]
pub enum RawStatus {
    Code(u16),
    Class(String),
}

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawStatus;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a status code (200) or a class (\"2xx\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawStatus, E> {
                u16::try_from(v)
                    .map(RawStatus::Code)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawStatus, E> {
                u16::try_from(v)
                    .map(RawStatus::Code)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawStatus, E> {
                Ok(RawStatus::Class(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
