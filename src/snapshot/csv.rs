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

use super::{EndpointSnapshot, ErrorSnapshot, Snapshot};

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

impl Column {
    fn new(
        name: impl Into<String>,
        cell: impl Fn(&Snapshot, &EndpointSnapshot) -> String + Send + Sync + 'static,
    ) -> Self {
        Column {
            name: name.into(),
            cell: Box::new(cell),
        }
    }

    /// A column of one count.
    fn count(name: &str, count: fn(&EndpointSnapshot) -> u64) -> Self {
        Column::new(name, move |_, e| count(e).to_string())
    }
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
    let mut columns = vec![
        Column::new("name", |_, e| e.name.clone()),
        Column::new("url", |_, e| e.url.clone()),
        Column::new("state", |_, e| e.state.to_string()),
        Column::count("probes", |e| e.probes),
        Column::count("ok", |e| e.ok),
        Column::count("failed", |e| e.failed),
        Column::count("skipped", |e| e.skipped),
    ];
    columns.extend(
        ErrorClass::ALL
            .into_iter()
            .filter(|class| !LATER_CLASSES.contains(class))
            .map(error_count),
    );
    columns.push(Column::new("status_codes", |_, e| status_codes(e)));
    columns.extend(latency_columns("latency", |e| e.latency_ms.as_ref()));
    columns.extend([
        Column::count("window_seconds", |e| e.window.seconds),
        Column::count("window_probes", |e| e.window.probes),
        Column::count("window_ok", |e| e.window.ok),
    ]);
    columns.extend(latency_columns("window", |e| e.window.latency_ms.as_ref()));
    columns.extend([
        Column::new("started_at", |s, _| s.started_at.clone()),
        Column::new("taken_at", |s, _| s.taken_at.clone()),
    ]);
    // Added after the first release of the format: appended, so that scripts reading
    // columns by position keep working.
    for phase in Phase::ALL {
        columns.extend(PHASE_CELLS.map(|(key, cell)| {
            Column::new(format!("{phase}_{key}"), move |_, e| {
                cell(e.phases_ms.get(phase))
            })
        }));
    }
    columns.push(Column::new("cert_days_left", |_, e| {
        e.cert_days_left.map(|d| d.to_string()).unwrap_or_default()
    }));
    // The latest failure, empty when there was none (the JSON's null).
    let last_error = |e: &EndpointSnapshot, cell: fn(&ErrorSnapshot) -> String| {
        e.last_error.as_ref().map(cell).unwrap_or_default()
    };
    columns.extend([
        Column::new("last_error_class", move |_, e| {
            last_error(e, |error| error.class.to_string())
        }),
        Column::new("last_error", move |_, e| {
            last_error(e, |error| error.message.clone())
        }),
        Column::new("last_error_at", move |_, e| {
            last_error(e, |error| error.at.clone())
        }),
    ]);
    columns.push(Column::count("excused", |e| e.excused));
    // Where the row's numbers were taken: in a merge, `eu-1+us-2` on the merged rows
    // and the vantage point's own name on the rows that follow them.
    columns.push(Column::new("vantage", |s, _| s.vantage.clone()));
    // The interval in use (the dashboard's `+` / `-` included), as the JSON has it.
    columns.push(Column::count("interval_ms", |e| e.interval_ms));
    columns.extend(LATER_CLASSES.map(error_count));
    columns
}

/// The error classes added after the first release of the format: their columns
/// come last, after every other, so that the columns before keep their places.
const LATER_CLASSES: [ErrorClass; 1] = [ErrorClass::Redirect];

/// `errors_{class}`: the failed probes of `class`.
fn error_count(class: ErrorClass) -> Column {
    // The JSON leaves zero counts out; a table needs every column, so absent is zero.
    Column::new(format!("errors_{}", class.as_str()), move |_, e| {
        let n = e.errors.get(class.as_str()).copied().unwrap_or(0);
        n.to_string()
    })
}

/// `{prefix}_min_ms` … `{prefix}_max_ms`: a latency summary's values, in
/// [`LatencySummary::FIELDS`] order, empty where the JSON has null.
fn latency_columns(
    prefix: &str,
    summary: fn(&EndpointSnapshot) -> Option<&LatencySummary>,
) -> impl Iterator<Item = Column> {
    LatencySummary::FIELDS
        .iter()
        .enumerate()
        .map(move |(i, key)| {
            Column::new(format!("{prefix}_{key}_ms"), move |_, e| {
                number_or(summary(e).map(|s| s.values()[i]), ABSENT)
            })
        })
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
    // A merge: each vantage point's own rows follow, its times and name in them.
    for from in &snapshot.merged_from {
        let own = Snapshot {
            probetop_snapshot: snapshot.probetop_snapshot,
            started_at: from.started_at.clone(),
            taken_at: from.taken_at.clone(),
            vantage: from.vantage.clone(),
            merged_from: Vec::new(),
            scheduler_lag_ms: None,
            overload: Default::default(),
            stats_queue: Default::default(),
            endpoints: Vec::new(),
            local_network: None,
            alerts: Vec::new(),
            alert_events_dropped: 0,
        };
        for endpoint in &snapshot.endpoints {
            if let Some(seen) = endpoint.vantages.get(&from.vantage) {
                writer.write_record(row(&own, seen))?;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_has_one_column_per_field() {
        let header = header();
        assert_eq!(
            header.len(),
            7 + 7 + 1 + 7 + 3 + 7 + 2 + 5 * 4 + 1 + 3 + 1 + 1 + 1 + 1
        );
        assert_eq!(header[7], "errors_timeout");
        assert_eq!(header[15], "latency_min_ms");
        // The first release's columns keep their places; later ones are appended.
        assert_eq!(header[33], "taken_at");
        assert_eq!(header[34], "dns_count");
        assert_eq!(header[53], "transfer_p99_ms");
        assert_eq!(header[54], "cert_days_left");
        assert_eq!(
            header[55..58],
            ["last_error_class", "last_error", "last_error_at"]
        );
        assert_eq!(header[58], "excused");
        assert_eq!(header[59], "vantage");
        assert_eq!(header[60], "interval_ms");
        assert_eq!(header[13], "errors_other");
        assert_eq!(header.last().unwrap(), "errors_redirect");
    }
}
