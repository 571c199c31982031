//! Reading a snapshot back (version 1): what `--resume` continues from and what
//! `merge` adds up.
//!
//! Everything is parsed and checked before anything is handed on, so a file that is
//! not a snapshot, is of another version or holds one bad value is refused whole,
//! never half-used. Fields this probetop does not know are ignored, so snapshots of
//! later releases that only add fields still read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{ENCODING, OverloadSnapshot, QueueSnapshot, VERSION, WindowSnapshot, decode_histogram};
use crate::probe::{ErrorClass, Phase};
use crate::stats::{AllTime, State, Transition, new_histogram};

/// Largest snapshot file read: far above what 50,000 endpoints write, far below
/// what would exhaust memory.
pub const MAX_BYTES: u64 = 1 << 30;

/// A snapshot read back, checked.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// When its statistics started.
    pub started_at: SystemTime,
    /// When it was taken.
    pub taken_at: SystemTime,
    /// Its vantage point, when it records one (snapshots before `vantage` did not).
    pub vantage: Option<String>,
    /// Whether it is itself a merge (it has `merged_from` or per-vantage entries).
    pub merged: bool,
    /// probetop's own overload in that run.
    pub overload: OverloadSnapshot,
    /// The statistics queue in that run.
    pub stats_queue: QueueSnapshot,
    /// Its endpoints, in its order; names are unique.
    pub endpoints: Vec<DecodedEndpoint>,
    /// What it lacked that a reader should know, e.g. phase histograms.
    pub warnings: Vec<String>,
}

/// One endpoint of a [`Decoded`] snapshot.
#[derive(Debug, Clone)]
pub struct DecodedEndpoint {
    /// Its name.
    pub name: String,
    /// Its URL as written.
    pub url: String,
    /// Its all-time statistics, histograms decoded.
    pub all_time: AllTime,
    /// Days its certificate had left when the snapshot was taken.
    pub cert_days_left: Option<i64>,
    /// Its rolling window as the snapshot reported it.
    pub window: WindowSnapshot,
    /// The interval it was probed at when the snapshot was taken, in ms (0 in
    /// snapshots from before `interval_ms`).
    pub interval_ms: u64,
}

/// Reads and checks the snapshot at `path`. The error says what is wrong (not the
/// path: the caller names it).
pub fn read(path: &Path) -> Result<Decoded, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut text = String::new();
    use std::io::Read as _;
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!("larger than {MAX_BYTES} bytes: not a snapshot"));
    }
    parse(&text)
}

/// Parses and checks snapshot JSON.
pub fn parse(text: &str) -> Result<Decoded, String> {
    #[derive(Deserialize)]
    struct Version {
        probetop_snapshot: Option<serde_json::Value>,
    }
    let version: Version =
        serde_json::from_str(text).map_err(|e| format!("not a snapshot (invalid JSON: {e})"))?;
    match version.probetop_snapshot {
        None => {
            return Err("not a probetop snapshot (it has no `probetop_snapshot` version)".into());
        }
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
        Some(v) => {
            return Err(format!(
                "snapshot version {v}: this probetop reads version {VERSION}"
            ));
        }
    }
    let raw: RawSnapshot =
        serde_json::from_str(text).map_err(|e| format!("not a valid version 1 snapshot: {e}"))?;
    raw.check()
}

#[derive(Deserialize)]
struct RawSnapshot {
    started_at: String,
    taken_at: String,
    #[serde(default)]
    vantage: Option<String>,
    #[serde(default)]
    merged_from: Vec<IgnoredAny>,
    #[serde(default)]
    overload: OverloadSnapshot,
    #[serde(default)]
    stats_queue: QueueSnapshot,
    endpoints: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
struct RawEndpoint {
    name: String,
    url: String,
    state: String,
    probes: u64,
    ok: u64,
    failed: u64,
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    excused: u64,
    #[serde(default)]
    errors: BTreeMap<String, u64>,
    #[serde(default)]
    status_codes: BTreeMap<String, u64>,
    #[serde(default)]
    cert_days_left: Option<i64>,
    #[serde(default)]
    cert_not_after: Option<String>,
    window: WindowSnapshot,
    histogram: RawHistogram,
    #[serde(default)]
    phase_histograms: Option<RawPhaseHistograms>,
    #[serde(default)]
    transitions: Vec<RawTransition>,
    #[serde(default)]
    vantages: BTreeMap<String, IgnoredAny>,
    #[serde(default)]
    interval_ms: u64,
}

#[derive(Deserialize)]
struct RawHistogram {
    unit: String,
    encoding: String,
    data: String,
}

#[derive(Deserialize)]
struct RawPhaseHistograms {
    unit: String,
    encoding: String,
    dns: String,
    connect: String,
    tls: String,
    ttfb: String,
    transfer: String,
}

#[derive(Deserialize)]
struct RawTransition {
    at: String,
    from: String,
    to: String,
}

impl RawSnapshot {
    fn check(self) -> Result<Decoded, String> {
        let started_at = time("started_at", &self.started_at)?;
        let taken_at = time("taken_at", &self.taken_at)?;
        let mut merged = !self.merged_from.is_empty();
        let mut names = BTreeSet::new();
        let mut endpoints = Vec::with_capacity(self.endpoints.len());
        let mut without_phases = 0;
        for (i, raw) in self.endpoints.into_iter().enumerate() {
            let at = format!("endpoints[{i}] ({:?})", raw.name);
            if !names.insert(raw.name.clone()) {
                return Err(format!("{at}: the name appears twice"));
            }
            merged |= !raw.vantages.is_empty();
            without_phases += usize::from(raw.phase_histograms.is_none());
            endpoints.push(raw.check().map_err(|e| format!("{at}: {e}"))?);
        }
        let mut warnings = Vec::new();
        if without_phases > 0 {
            warnings.push(format!(
                "{without_phases} endpoint(s) have no `phase_histograms` (a snapshot of an older probetop): their phases start empty"
            ));
        }
        Ok(Decoded {
            started_at,
            taken_at,
            vantage: self.vantage,
            merged,
            overload: self.overload,
            stats_queue: self.stats_queue,
            endpoints,
            warnings,
        })
    }
}

impl RawEndpoint {
    fn check(self) -> Result<DecodedEndpoint, String> {
        let current = state(&self.state)?;
        if self
            .ok
            .checked_add(self.failed)
            .is_none_or(|n| n > self.probes)
        {
            return Err(format!(
                "ok ({}) + failed ({}) is more than probes ({})",
                self.ok, self.failed, self.probes
            ));
        }
        let mut errors = [0; ErrorClass::ALL.len()];
        for (name, n) in &self.errors {
            let class = ErrorClass::ALL
                .into_iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| format!("errors: unknown error class {name:?}"))?;
            errors[class.index()] = *n;
        }
        let mut status_codes = BTreeMap::new();
        for (code, n) in &self.status_codes {
            let parsed = code
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| format!("status_codes: {code:?} is not a status code"))?;
            status_codes.insert(parsed, *n);
        }
        if self.histogram.unit != "us" || self.histogram.encoding != ENCODING {
            return Err(format!(
                "histogram: unit {:?} and encoding {:?}, expected \"us\" and {ENCODING:?}",
                self.histogram.unit, self.histogram.encoding
            ));
        }
        let latency = histogram(&self.histogram.data).map_err(|e| format!("histogram: {e}"))?;
        if latency.len() > self.probes {
            return Err(format!(
                "histogram: {} latencies but only {} probes",
                latency.len(),
                self.probes
            ));
        }
        let phases = match &self.phase_histograms {
            None => std::array::from_fn(|_| new_histogram()),
            Some(p) => {
                if p.unit != "us" || p.encoding != ENCODING {
                    return Err(format!(
                        "phase_histograms: unit {:?} and encoding {:?}, expected \"us\" and {ENCODING:?}",
                        p.unit, p.encoding
                    ));
                }
                let data = [&p.dns, &p.connect, &p.tls, &p.ttfb, &p.transfer];
                let mut phases: [Histogram<u64>; Phase::ALL.len()] =
                    std::array::from_fn(|_| new_histogram());
                for phase in Phase::ALL {
                    phases[phase.index()] = histogram(data[phase.index()])
                        .map_err(|e| format!("phase_histograms.{phase}: {e}"))?;
                }
                phases
            }
        };
        let transitions = self
            .transitions
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(Transition {
                    at: time("at", &t.at)?,
                    from: state(&t.from)?,
                    to: state(&t.to)?,
                })
                .map_err(|e: String| format!("transitions[{i}]: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let cert_not_after = self
            .cert_not_after
            .as_deref()
            .map(|at| time("cert_not_after", at))
            .transpose()?;
        Ok(DecodedEndpoint {
            interval_ms: self.interval_ms,
            name: self.name,
            url: self.url,
            all_time: AllTime {
                probes: self.probes,
                ok: self.ok,
                failed: self.failed,
                skipped: self.skipped,
                excused: self.excused,
                errors,
                status_codes,
                latency,
                phases,
                state: current,
                transitions,
                cert_not_after,
            },
            cert_days_left: self.cert_days_left,
            window: self.window,
        })
    }
}

/// A histogram in [`ENCODING`], into one of probetop's own (3 significant digits,
/// growing as needed) so that histograms of any precision add up the same way.
fn histogram(data: &str) -> Result<Histogram<u64>, String> {
    let decoded = decode_histogram(data).map_err(|e| format!("cannot decode it: {e}"))?;
    let mut ours = new_histogram();
    ours.add(&decoded)
        .map_err(|e| format!("cannot add its counts: {e:?}"))?;
    Ok(ours)
}

fn time(key: &str, text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(text)
        .map_err(|e| format!("{key}: {text:?} is not an RFC 3339 UTC time ({e})"))
}

fn state(name: &str) -> Result<State, String> {
    [State::Unknown, State::Up, State::Degraded, State::Down]
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| format!("unknown state {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(version: &str, extra: &str) -> String {
        format!(
            r#"{{"probetop_snapshot": {version}, "started_at": "2026-11-21T22:40:00Z", "taken_at": "2026-11-21T22:45:00Z", "endpoints": [{{
              "name": "api", "url": "http://x/", "state": "up", "probes": 2, "ok": 2, "failed": 0,
              "window": {{"seconds": 300, "probes": 2, "ok": 2, "latency_ms": null,
                "phases_ms": {{"dns": {{"count": 0}}, "connect": {{"count": 0}}, "tls": {{"count": 0}}, "ttfb": {{"count": 0}}, "transfer": {{"count": 0}}}}}},
              "histogram": {{"unit": "us", "encoding": "{ENCODING}", "data": "{data}"}}{extra}
            }}]}}"#,
            data = super::super::encode_histogram(&{
                let mut h = new_histogram();
                h.record(1_000).unwrap();
                h.record(2_000).unwrap();
                h
            })
        )
    }

    #[test]
    fn reads_a_snapshot_ignoring_unknown_fields() {
        let d = parse(&minimal("1", r#", "excused": 3, "interval_ms": 1000"#)).unwrap();
        assert_eq!(d.endpoints.len(), 1);
        assert_eq!(d.endpoints[0].all_time.latency.len(), 2);
        assert_eq!(d.endpoints[0].all_time.state, State::Up);
        assert_eq!(d.vantage, None);
        assert!(!d.merged);
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    }

    #[test]
    fn refuses_other_versions_and_bad_values() {
        let e = parse(&minimal("2", "")).unwrap_err();
        assert!(e.contains("version 2"), "{e}");
        let e = parse("{not json").unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
        let e = parse("{}").unwrap_err();
        assert!(e.contains("no `probetop_snapshot`"), "{e}");
        let e = parse(&minimal("1", "").replace("\"up\"", "\"sideways\"")).unwrap_err();
        assert!(e.contains("endpoints[0]") && e.contains("sideways"), "{e}");
        let e = parse(&minimal("1", r#", "errors": {"gremlins": 1}"#)).unwrap_err();
        assert!(e.contains("gremlins"), "{e}");
        let e = parse(&minimal("1", "").replace("\"probes\": 2", "\"probes\": 1")).unwrap_err();
        assert!(e.contains("more than probes"), "{e}");
        let bad = minimal("1", "").replace("HISTF", "AAAA");
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
    }
}
