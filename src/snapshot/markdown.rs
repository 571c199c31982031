//! The snapshot as Markdown: tables (all-time, the rolling window, where the time
//! goes, and the latest failures), ready to paste into an incident note.
//!
//! Every number is the JSON's, printed as the JSON prints it ([`crate::text`]), so the
//! formats of one snapshot never disagree. Names and error messages are escaped so
//! that no endpoint can break the table.

use std::fmt::Write as _;

use super::{EndpointSnapshot, Snapshot};
use crate::probe::Phase;
use crate::stats::LatencySummary;
use crate::text::{latency_numbers, number};

/// The latency columns, after the counts, in [`LatencySummary::FIELDS`] order.
const LATENCY_COLUMNS: [&str; LatencySummary::FIELDS.len()] =
    ["min", "mean", "p50", "p90", "p99", "p99.9", "max"];

/// What an empty cell shows: the JSON's null, or nothing to show.
const ABSENT: &str = "–";

/// The snapshot as a Markdown document.
pub fn to_markdown(snapshot: &Snapshot) -> String {
    // Writing into a String cannot fail: the `fmt::Result`s below are ignored.
    let mut out = String::new();
    let _ = writeln!(out, "## probetop snapshot {}\n", snapshot.taken_at);
    let _ = writeln!(
        out,
        "Started {}, taken at vantage point {}. Latency in milliseconds, from HDR histograms of every complete response.\n",
        snapshot.started_at,
        escape(&snapshot.vantage)
    );
    if let Some(network) = &snapshot.local_network {
        let _ = writeln!(
            out,
            "Local network (by {} canar{}): {}.\n",
            network.canaries,
            if network.canaries == 1 { "y" } else { "ies" },
            if network.down { "**down**" } else { "up" }
        );
    }
    // Only a run with canaries can excuse a failure: without, the table keeps its shape.
    // A merge (or a run whose canaries a reload removed) has excused probes without
    // a verdict of its own: the column shows them, or `ok + failed` would miss some.
    let canaries =
        snapshot.local_network.is_some() || snapshot.endpoints.iter().any(|e| e.excused > 0);
    out.push_str("### All time\n\n");
    let mut columns = vec![
        "endpoint", "url", "state", "probes", "ok", "failed", "skipped",
    ];
    if canaries {
        columns.push("excused");
    }
    columns.extend(LATENCY_COLUMNS);
    columns.extend(["errors", "status codes"]);
    table_head(&mut out, &columns, 3);
    for e in &snapshot.endpoints {
        let mut cells = vec![
            escape(&e.name),
            format!("`{}`", e.url.replace('`', "'")),
            e.state.to_string(),
            e.probes.to_string(),
            e.ok.to_string(),
            e.failed.to_string(),
            e.skipped.to_string(),
        ];
        if canaries {
            cells.push(e.excused.to_string());
        }
        cells.extend(latency_numbers(e.latency_ms.as_ref(), ABSENT));
        cells.push(errors(e));
        cells.push(status_codes(e));
        table_row(&mut out, &cells);
    }
    let seconds = snapshot.endpoints.first().map_or(0, |e| e.window.seconds);
    let _ = writeln!(out, "\n### Last {seconds} s (rolling window)\n");
    let mut columns = vec!["endpoint", "probes", "ok"];
    columns.extend(LATENCY_COLUMNS);
    table_head(&mut out, &columns, 1);
    for e in &snapshot.endpoints {
        let mut cells = vec![
            escape(&e.name),
            e.window.probes.to_string(),
            e.window.ok.to_string(),
        ];
        cells.extend(latency_numbers(e.window.latency_ms.as_ref(), ABSENT));
        table_row(&mut out, &cells);
    }
    out.push_str(
        "\n### Where the time goes (all time, p50 ms; count in brackets)\n\n\
         DNS, connect and TLS happen once per new connection, TTFB and transfer once per response.\n\n",
    );
    let mut columns = vec!["endpoint"];
    columns.extend(Phase::ALL.map(Phase::as_str));
    columns.push("cert days left");
    table_head(&mut out, &columns, 1);
    for e in &snapshot.endpoints {
        let mut cells = vec![escape(&e.name)];
        cells.extend(Phase::ALL.map(|phase| {
            let summary = e.phases_ms.get(phase);
            match summary.p50 {
                Some(p50) => format!("{} ({})", number(p50), summary.count),
                None => ABSENT.to_string(),
            }
        }));
        cells.push(
            e.cert_days_left
                .map_or(ABSENT.to_string(), |d| d.to_string()),
        );
        table_row(&mut out, &cells);
    }
    failures(&mut out, snapshot);
    vantages(&mut out, snapshot);
    out
}

/// The failures table: each endpoint's latest failure, for the endpoints that had
/// one; a sentence when none had.
fn failures(out: &mut String, snapshot: &Snapshot) {
    out.push_str("\n### Failures (the latest per endpoint, UTC)\n\n");
    let failed: Vec<_> = snapshot
        .endpoints
        .iter()
        .filter_map(|e| Some((e, e.last_error.as_ref()?)))
        .collect();
    if failed.is_empty() {
        out.push_str("No probe failed.\n");
        return;
    }
    table_head(out, &["endpoint", "state", "class", "when", "message"], 5);
    for (e, error) in failed {
        table_row(
            out,
            &[
                escape(&e.name),
                e.state.to_string(),
                error.class.to_string(),
                error.at.clone(),
                escape(&error.message),
            ],
        );
    }
}

/// In a merge: each endpoint as each vantage point saw it, all time.
fn vantages(out: &mut String, snapshot: &Snapshot) {
    if snapshot.merged_from.is_empty() {
        return;
    }
    out.push_str("\n### By vantage point (all time)\n\n");
    let mut columns = vec![
        "endpoint", "vantage", "state", "probes", "ok", "failed", "skipped",
    ];
    columns.extend(LATENCY_COLUMNS);
    table_head(out, &columns, 3);
    for e in &snapshot.endpoints {
        for (vantage, v) in &e.vantages {
            let mut cells = vec![
                escape(&e.name),
                escape(vantage),
                v.state.to_string(),
                v.probes.to_string(),
                v.ok.to_string(),
                v.failed.to_string(),
                v.skipped.to_string(),
            ];
            cells.extend(latency_numbers(v.latency_ms.as_ref(), ABSENT));
            table_row(out, &cells);
        }
    }
}

/// A header row and its separator; numeric columns (from `first_number` on) align right.
fn table_head(out: &mut String, columns: &[&str], first_number: usize) {
    table_row(
        out,
        &columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
    );
    let separators: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let numeric = i >= first_number && !matches!(*c, "errors" | "status codes");
            if numeric { "--:" } else { "---" }.to_string()
        })
        .collect();
    table_row(out, &separators);
}

fn table_row(out: &mut String, cells: &[String]) {
    // Into a String: cannot fail.
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn errors(e: &EndpointSnapshot) -> String {
    if e.errors.is_empty() {
        return ABSENT.into();
    }
    e.errors
        .iter()
        .map(|(class, n)| format!("{class} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn status_codes(e: &EndpointSnapshot) -> String {
    if e.status_codes.is_empty() {
        return ABSENT.into();
    }
    e.status_codes
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` safe inside a table cell: no line breaks or control characters, and
/// Markdown's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_the_table() {
        assert_eq!(escape("a|b\nc*d"), "a\\|b c\\*d");
        assert_eq!(escape("<script>"), "\\<script\\>");
    }
}
