//! The snapshot as CSV: one header line, then one row per endpoint, for spreadsheets
//! and scripts that do not read JSON.
//!
//! Every number is the one the JSON holds, printed the same way ([`crate::text`]), so
//! the two files of one export never disagree. One table of columns makes both the
//! header and the rows. What has no flat form is left out: the encoded
//! histogram (it stays in the JSON) and probetop's own scheduler lag (not an endpoint).

use std::io;
use std::sync::LazyLock;

use crate::probe::{ErrorClass, Phase};
use crate::stats::{LatencySummary, PhaseSummary};
use crate::text::number_or;

use super::{EndpointSnapshot, Snapshot};

/// What an empty cell means: the JSON's null.
const ABSENT: &str = "";

/// How one column's cell is read from an endpoint (and its snapshot).
type Cell = Box<dyn Fn(&Snapshot, &EndpointSnapshot) -> String + Send + Sync>;

/// One column: its header and its cell, side by side so that neither can be added
/// without the other.
struct Column {
    name: String,
    cell: Cell,
}

/// How one of a phase's cells is read from its summary.
type PhaseCell = fn(&PhaseSummary) -> String;

/// The columns of each phase, after its name: `dns_count`, `dns_p50_ms`…
const PHASE_CELLS: [(&str, PhaseCell); 4] = [
    ("count", |p| p.count.to_string()),
    ("p50_ms", |p| number_or(p.p50, ABSENT)),
    ("p90_ms", |p| number_or(p.p90, ABSENT)),
    ("p99_ms", |p| number_or(p.p99, ABSENT)),
];

/// Every column, in order. Built once: the closures do not change.
static COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(columns);

fn columns() -> Vec<Column> {
    let mut columns = Vec::new();
    let mut add = |name: String, cell: Cell| columns.push(Column { name, cell });
    add("name".into(), Box::new(|_, e| e.name.clone()));
    add("url".into(), Box::new(|_, e| e.url.clone()));
    add("state".into(), Box::new(|_, e| e.state.to_string()));
    add("probes".into(), Box::new(|_, e| e.probes.to_string()));
    add("ok".into(), Box::new(|_, e| e.ok.to_string()));
    add("failed".into(), Box::new(|_, e| e.failed.to_string()));
    add("skipped".into(), Box::new(|_, e| e.skipped.to_string()));
    for class in ErrorClass::ALL {
        // The JSON leaves zero counts out; a table needs every column, so absent is zero.
        add(
            format!("errors_{}", class.as_str()),
            Box::new(move |_, e| {
                e.errors
                    .get(class.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }),
        );
    }
    add("status_codes".into(), Box::new(|_, e| status_codes(e)));
    for (i, key) in LatencySummary::FIELDS.iter().enumerate() {
        add(
            format!("latency_{key}_ms"),
            Box::new(move |_, e| latency_cell(e.latency_ms.as_ref(), i)),
        );
    }
    add(
        "window_seconds".into(),
        Box::new(|_, e| e.window.seconds.to_string()),
    );
    add(
        "window_probes".into(),
        Box::new(|_, e| e.window.probes.to_string()),
    );
    add("window_ok".into(), Box::new(|_, e| e.window.ok.to_string()));
    for (i, key) in LatencySummary::FIELDS.iter().enumerate() {
        add(
            format!("window_{key}_ms"),
            Box::new(move |_, e| latency_cell(e.window.latency_ms.as_ref(), i)),
        );
    }
    add("started_at".into(), Box::new(|s, _| s.started_at.clone()));
    add("taken_at".into(), Box::new(|s, _| s.taken_at.clone()));
    // Added after the first release of the format: appended, so that scripts reading
    // columns by position keep working.
    for phase in Phase::ALL {
        for (key, value) in PHASE_CELLS {
            add(
                format!("{phase}_{key}"),
                Box::new(move |_, e| value(e.phases_ms.get(phase))),
            );
        }
    }
    add(
        "cert_days_left".into(),
        Box::new(|_, e| e.cert_days_left.map(|d| d.to_string()).unwrap_or_default()),
    );
    columns
}

/// The column names, in order.
pub fn header() -> Vec<String> {
    COLUMNS.iter().map(|c| c.name.clone()).collect()
}

/// The fields of one endpoint, in [`header`] order.
fn row(snapshot: &Snapshot, e: &EndpointSnapshot) -> Vec<String> {
    COLUMNS.iter().map(|c| (c.cell)(snapshot, e)).collect()
}

/// Writes `snapshot` as CSV (header and one row per endpoint) into `out`.
///
/// Fields are quoted where needed, so names with commas, quotes or newlines survive.
pub fn write_csv<W: io::Write>(snapshot: &Snapshot, out: W) -> io::Result<()> {
    let mut writer = ::csv::Writer::from_writer(out);
    writer.write_record(COLUMNS.iter().map(|c| c.name.as_str()))?;
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

/// `200:299 404:1`: status codes in the JSON's (sorted) order, one field for all.
fn status_codes(e: &EndpointSnapshot) -> String {
    e.status_codes
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Latency value `i` (in [`LatencySummary::FIELDS`] order), empty where the JSON has null.
fn latency_cell(summary: Option<&LatencySummary>, i: usize) -> String {
    number_or(summary.map(|s| s.values()[i]), ABSENT)
}

#[cfg(test)]
mod tests {
    use super::*;

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
