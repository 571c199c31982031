//! The snapshot as CSV: one header line, then one row per endpoint, for spreadsheets
//! and scripts that do not read JSON.
//!
//! Every number is the one the JSON holds, printed the same way, so the two files of
//! one export never disagree. What has no flat form is left out: the encoded
//! histogram (it stays in the JSON) and probetop's own scheduler lag (not an endpoint).

use std::io;

use crate::probe::{ErrorClass, Phase};
use crate::stats::{LatencySummary, PhaseSummary};

use super::{EndpointSnapshot, Snapshot};

/// The latency keys of the JSON's `latency_ms` objects, in column order.
const LATENCY_KEYS: [&str; 7] = ["min", "mean", "p50", "p90", "p99", "p999", "max"];

/// The values of `summary` in the order of [`LATENCY_KEYS`].
fn latency_values(summary: &LatencySummary) -> [f64; 7] {
    [
        summary.min,
        summary.mean,
        summary.p50,
        summary.p90,
        summary.p99,
        summary.p999,
        summary.max,
    ]
}

/// The column names, in order.
pub fn header() -> Vec<String> {
    let mut columns: Vec<String> = ["name", "url", "state", "probes", "ok", "failed", "skipped"]
        .map(String::from)
        .into();
    columns.extend(
        ErrorClass::ALL
            .iter()
            .map(|class| format!("errors_{}", class.as_str())),
    );
    columns.push("status_codes".into());
    columns.extend(LATENCY_KEYS.iter().map(|key| format!("latency_{key}_ms")));
    columns.extend(["window_seconds", "window_probes", "window_ok"].map(String::from));
    columns.extend(LATENCY_KEYS.iter().map(|key| format!("window_{key}_ms")));
    columns.extend(["started_at", "taken_at"].map(String::from));
    // Added after the first release of the format: appended, so that scripts reading
    // columns by position keep working.
    for phase in Phase::ALL {
        columns.extend(["count", "p50_ms", "p90_ms", "p99_ms"].map(|k| format!("{phase}_{k}")));
    }
    columns.push("cert_days_left".into());
    columns
}

/// Writes `snapshot` as CSV (header and one row per endpoint) into `out`.
///
/// Fields are quoted where needed, so names with commas, quotes or newlines survive.
pub fn write_csv<W: io::Write>(snapshot: &Snapshot, out: W) -> io::Result<()> {
    let mut writer = ::csv::Writer::from_writer(out);
    writer.write_record(header())?;
    for endpoint in &snapshot.endpoints {
        writer.write_record(row(snapshot, endpoint))?;
    }
    writer.flush()
}

/// The snapshot as CSV text.
pub fn to_csv(snapshot: &Snapshot) -> String {
    let mut bytes = Vec::new();
    write_csv(snapshot, &mut bytes).expect("writing into memory cannot fail");
    String::from_utf8(bytes).expect("every field is a Rust string, hence UTF-8")
}

/// The fields of one endpoint, in [`header`] order.
fn row(snapshot: &Snapshot, e: &EndpointSnapshot) -> Vec<String> {
    let mut fields = vec![
        e.name.clone(),
        e.url.clone(),
        e.state.to_string(),
        e.probes.to_string(),
        e.ok.to_string(),
        e.failed.to_string(),
        e.skipped.to_string(),
    ];
    // The JSON leaves zero counts out; a table needs every column, so absent is zero.
    fields.extend(ErrorClass::ALL.iter().map(|class| {
        e.errors
            .get(class.as_str())
            .copied()
            .unwrap_or(0)
            .to_string()
    }));
    fields.push(status_codes(e));
    fields.extend(latency_fields(e.latency_ms.as_ref()));
    fields.extend([
        e.window.seconds.to_string(),
        e.window.probes.to_string(),
        e.window.ok.to_string(),
    ]);
    fields.extend(latency_fields(e.window.latency_ms.as_ref()));
    fields.extend([snapshot.started_at.clone(), snapshot.taken_at.clone()]);
    for phase in Phase::ALL {
        fields.extend(phase_fields(e.phases_ms.get(phase)));
    }
    fields.push(e.cert_days_left.map(|d| d.to_string()).unwrap_or_default());
    fields
}

/// Count, p50, p90 and p99 of a phase (empty percentiles when it never happened).
fn phase_fields(summary: &PhaseSummary) -> [String; 4] {
    let ms = |v: Option<f64>| v.map(number).unwrap_or_default();
    [
        summary.count.to_string(),
        ms(summary.p50),
        ms(summary.p90),
        ms(summary.p99),
    ]
}

/// `200:299 404:1`: status codes in the JSON's (sorted) order, one field for all.
fn status_codes(e: &EndpointSnapshot) -> String {
    e.status_codes
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seven latency fields, empty where the JSON has null.
fn latency_fields(summary: Option<&LatencySummary>) -> Vec<String> {
    match summary {
        Some(s) => latency_values(s).into_iter().map(number).collect(),
        None => vec![String::new(); LATENCY_KEYS.len()],
    }
}

/// `x` exactly as serde_json prints it in the JSON file.
///
/// Rust's `{}` would print `1` where the JSON has `1.0`: the same value, but not the
/// same text, and a diff of the two exports should show no difference.
pub(super) fn number(x: f64) -> String {
    serde_json::to_string(&x).expect("serialising an f64 cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_in_the_json() {
        for x in [0.0, 1.0, 0.123, 12.5, 1234.567, 0.001, 60_000.0] {
            let json = serde_json::json!({ "x": x }).to_string();
            assert_eq!(json, format!("{{\"x\":{}}}", number(x)), "{x}");
        }
        assert_eq!(number(1.0), "1.0");
        assert_eq!(number(0.123), "0.123");
        assert_eq!(number(12.5), "12.5");
    }

    #[test]
    fn header_has_one_column_per_field() {
        let header = header();
        assert_eq!(header.len(), 7 + 7 + 1 + 7 + 3 + 7 + 2 + 5 * 4 + 1);
        assert_eq!(header[7], "errors_timeout");
        assert_eq!(header[15], "latency_min_ms");
        // The first release's columns keep their places; later ones are appended.
        assert_eq!(header[33], "taken_at");
        assert_eq!(header[34], "dns_count");
        assert_eq!(header[53], "transfer_p99_ms");
        assert_eq!(header.last().unwrap(), "cert_days_left");
    }
}
