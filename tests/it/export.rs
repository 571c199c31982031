//! Exporting a snapshot to a directory: the JSON and CSV files, their agreement
//! number for number, the `-2` stem of a second export in the same second, the error
//! for a directory that cannot be made, and no temporary files left behind.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use probetop::snapshot::csv::header;
use probetop::snapshot::export::export;
use probetop::snapshot::{
    EndpointSnapshot, ErrorSnapshot, HistogramSnapshot, PhaseHistogramsSnapshot, ResponseSnapshot,
    Snapshot, VERSION, WindowSnapshot, encode_histogram,
};
use probetop::stats::{LatencySummary, new_histogram};
use serde_json::Value;

const TAKEN_AT: &str = "2026-11-21T22:45:00Z";
const STEM: &str = "probetop-20261121T224500Z";
/// Commas, double quotes and a newline: everything CSV must escape.
const HOSTILE_NAME: &str = "api, \"prod\"\nsecond line";

fn histogram() -> HistogramSnapshot {
    let mut h = new_histogram();
    for us in [800, 1_000, 12_500] {
        h.record(us).unwrap();
    }
    HistogramSnapshot {
        unit: "us",
        encoding: probetop::snapshot::ENCODING,
        data: encode_histogram(&h),
    }
}

/// Two endpoints from fixed data: a hostile name with every kind of number (values
/// like 1.0 and 12.5, whose text differs between Rust's `{}` and JSON), and one that
/// never got a response, so its latencies are null.
fn fixture(probes: u64) -> Snapshot {
    let latency = LatencySummary {
        min: 0.8,
        mean: 0.123,
        p50: 1.0,
        p90: 12.5,
        p99: 12.5,
        p999: 1234.567,
        max: 60_000.0,
    };
    Snapshot {
        probetop_snapshot: VERSION,
        started_at: "2026-11-21T22:40:00Z".into(),
        taken_at: TAKEN_AT.into(),
        vantage: "eu-1".into(),
        merged_from: Vec::new(),
        scheduler_lag_ms: Some(latency),
        overload: Default::default(),
        stats_queue: Default::default(),
        endpoints: vec![
            EndpointSnapshot {
                name: HOSTILE_NAME.into(),
                url: "https://api.example.com/health?a=1,b=\"2\"".into(),
                interval_ms: 1000,
                state: "degraded",
                probes,
                ok: probes - 3,
                failed: 3,
                skipped: 4,
                excused: 0,
                errors: BTreeMap::from([("timeout", 1), ("status", 2)]),
                status_codes: BTreeMap::from([("200".into(), probes - 1), ("404".into(), 2)]),
                latency_ms: Some(latency),
                phases_ms: phases(Some(2.5)),
                cert_days_left: Some(12),
                cert_not_after: Some("2026-12-03T22:40:00Z".into()),
                last_response: Some(ResponseSnapshot {
                    http_version: Some("HTTP/2"),
                    remote_addr: Some("[2001:db8::7]:443".into()),
                }),
                window: WindowSnapshot {
                    seconds: 300,
                    probes: 250,
                    ok: 248,
                    latency_ms: Some(LatencySummary {
                        min: 1.0,
                        mean: 2.0,
                        p50: 3.0,
                        p90: 4.25,
                        p99: 5.125,
                        p999: 6.001,
                        max: 7.0,
                    }),
                    phases_ms: phases(Some(1.0)),
                },
                histogram: histogram(),
                phase_histograms: PhaseHistogramsSnapshot::new(&std::array::from_fn(|_| {
                    new_histogram()
                })),
                transitions: Vec::new(),
                last_error: Some(hostile_error()),
                recent_errors: vec![
                    hostile_error(),
                    ErrorSnapshot {
                        at: "2026-11-21T22:44:00Z".into(),
                        class: "timeout",
                        message: "no complete response within 5s".into(),
                    },
                ],
                vantages: Default::default(),
            },
            EndpointSnapshot {
                name: "down".into(),
                url: "http://127.0.0.1:9/".into(),
                interval_ms: 1000,
                state: "down",
                probes: 5,
                ok: 0,
                failed: 5,
                skipped: 0,
                excused: 0,
                errors: BTreeMap::from([("connect", 5)]),
                status_codes: BTreeMap::new(),
                latency_ms: None,
                phases_ms: phases(None),
                cert_days_left: None,
                cert_not_after: None,
                last_response: None,
                window: WindowSnapshot {
                    seconds: 300,
                    probes: 5,
                    ok: 0,
                    latency_ms: None,
                    phases_ms: phases(None),
                },
                histogram: HistogramSnapshot {
                    unit: "us",
                    encoding: probetop::snapshot::ENCODING,
                    data: encode_histogram(&new_histogram()),
                },
                phase_histograms: PhaseHistogramsSnapshot::new(&std::array::from_fn(|_| {
                    new_histogram()
                })),
                transitions: Vec::new(),
                last_error: None,
                recent_errors: Vec::new(),
                vantages: Default::default(),
            },
        ],
        local_network: None,
        alerts: Vec::new(),
        alert_events_dropped: 0,
    }
}

/// A failure whose message needs quoting in CSV: a comma, quotes, a pipe.
fn hostile_error() -> ErrorSnapshot {
    ErrorSnapshot {
        at: "2026-11-21T22:44:30Z".into(),
        class: "status",
        message: "status 404, expected \"2xx\" | 3xx".into(),
    }
}

/// Phase summaries with `p50` as every percentile (all empty for `None`).
fn phases(p50: Option<f64>) -> probetop::snapshot::PhasesSnapshot {
    let summary = |count| probetop::stats::PhaseSummary {
        count,
        p50,
        p90: p50.map(|v| v * 2.0),
        p99: p50.map(|v| v * 4.0),
    };
    let n = if p50.is_some() { 3 } else { 0 };
    probetop::snapshot::PhasesSnapshot {
        dns: probetop::stats::PhaseSummary::default(),
        connect: summary(n),
        tls: summary(n),
        ttfb: summary(n * 10),
        transfer: summary(n * 10),
    }
}

/// What the CSV column `column` must hold for endpoint `e` of the snapshot JSON `s`:
/// the JSON value's own text, empty for null.
fn expected_field(s: &Value, e: &Value, column: &str) -> String {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(class) = column.strip_prefix("errors_") {
        return e["errors"].get(class).map_or("0".into(), text);
    }
    for phase in ["dns", "connect", "tls", "ttfb", "transfer"] {
        if let Some(key) = column.strip_prefix(&format!("{phase}_")) {
            return text(&e["phases_ms"][phase][key.trim_end_matches("_ms")]);
        }
    }
    if let Some(key) = column
        .strip_prefix("latency_")
        .and_then(|k| k.strip_suffix("_ms"))
    {
        return text(e["latency_ms"].get(key).unwrap_or(&Value::Null));
    }
    if let Some(key) = column
        .strip_prefix("window_")
        .and_then(|k| k.strip_suffix("_ms"))
    {
        return text(e["window"]["latency_ms"].get(key).unwrap_or(&Value::Null));
    }
    if let Some(key) = column.strip_prefix("window_") {
        return text(&e["window"][key]);
    }
    match column {
        "status_codes" => e["status_codes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(code, n)| format!("{code}:{n}"))
            .collect::<Vec<_>>()
            .join(" "),
        "started_at" | "taken_at" | "vantage" => text(&s[column]),
        "last_error_class" => text(&e["last_error"]["class"]),
        "last_error" => text(&e["last_error"]["message"]),
        "last_error_at" => text(&e["last_error"]["at"]),
        _ => text(&e[column]),
    }
}

/// Checks the CSV at `path` against the JSON `json`, column by column.
fn assert_csv_matches_json(path: &Path, json: &Value) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(columns, header());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(rows.len(), endpoints.len());
    for (row, e) in rows.iter().zip(endpoints) {
        assert_eq!(row.len(), columns.len());
        for (column, field) in columns.iter().zip(row.iter()) {
            assert_eq!(
                field,
                expected_field(json, e, column),
                "column {column} of {}",
                e["name"]
            );
            // Same text implies same number; check the number too, in case a column
            // ever prints a value the JSON has as a string.
            let is_phase = ["dns_", "connect_", "tls_", "ttfb_", "transfer_"]
                .iter()
                .any(|p| column.starts_with(p));
            // `interval_ms` is the endpoint's own field, compared as text above.
            let is_latency = column.ends_with("_ms") && column != "interval_ms";
            if is_latency && !field.is_empty() && !is_phase {
                let number: f64 = field.parse().unwrap();
                let key = column.trim_end_matches("_ms");
                let (object, key) = match key.strip_prefix("window_") {
                    Some(k) => (&e["window"]["latency_ms"], k),
                    None => (&e["latency_ms"], key.trim_start_matches("latency_")),
                };
                assert_eq!(Some(number), object[key].as_f64(), "{column}");
            }
        }
    }
    assert_eq!(&rows[0][0], HOSTILE_NAME);
    // The null latencies are empty fields, not zeros.
    let p50 = columns.iter().position(|c| c == "latency_p50_ms").unwrap();
    assert_eq!(&rows[1][p50], "");
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn export_writes_json_and_csv_with_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("not-yet").join("snapshots");
    let snapshot = fixture(300);

    let files = export(&dir, &snapshot).unwrap();

    assert_eq!(files.json, dir.join(format!("{STEM}.json")));
    assert_eq!(files.csv, dir.join(format!("{STEM}.csv")));
    let text = fs::read_to_string(&files.json).unwrap();
    assert_eq!(text.trim_end(), snapshot.to_json());
    let json: Value = serde_json::from_str(&text).unwrap();
    let expected: Value = serde_json::from_str(&snapshot.to_json()).unwrap();
    assert_eq!(json, expected);
    assert_csv_matches_json(&files.csv, &json);
    // Nothing else, in particular no temporary file.
    assert_eq!(
        names_in(&dir),
        [format!("{STEM}.csv"), format!("{STEM}.json")]
    );
}

#[test]
fn exports_in_the_same_second_get_numbered_stems() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let first = export(dir, &fixture(300)).unwrap();
    let second = export(dir, &fixture(301)).unwrap();
    let third = export(dir, &fixture(302)).unwrap();

    assert_eq!(second.json, dir.join(format!("{STEM}-2.json")));
    assert_eq!(second.csv, dir.join(format!("{STEM}-2.csv")));
    assert_eq!(third.json, dir.join(format!("{STEM}-3.json")));
    // The first export is untouched by the later ones.
    let json: Value = serde_json::from_str(&fs::read_to_string(&first.json).unwrap()).unwrap();
    assert_eq!(json["endpoints"][0]["probes"], 300);
    assert_csv_matches_json(&first.csv, &json);
    let json: Value = serde_json::from_str(&fs::read_to_string(&second.json).unwrap()).unwrap();
    assert_eq!(json["endpoints"][0]["probes"], 301);
    assert_csv_matches_json(&second.csv, &json);
    assert_eq!(names_in(dir).len(), 6, "{:?}", names_in(dir));
}

#[test]
fn a_stem_half_taken_is_skipped_for_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join(format!("{STEM}.csv")), "someone else's").unwrap();

    let files = export(dir, &fixture(300)).unwrap();

    assert_eq!(files.json, dir.join(format!("{STEM}-2.json")));
    assert_eq!(files.csv, dir.join(format!("{STEM}-2.csv")));
    assert_eq!(
        fs::read_to_string(dir.join(format!("{STEM}.csv"))).unwrap(),
        "someone else's"
    );
    assert_eq!(
        names_in(dir),
        [
            format!("{STEM}-2.csv"),
            format!("{STEM}-2.json"),
            format!("{STEM}.csv"),
        ]
    );
}

#[test]
fn a_directory_that_cannot_be_made_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where a directory should be: create_dir_all fails even for root,
    // who ignores permission bits.
    fs::write(tmp.path().join("afile"), "").unwrap();
    let dir = tmp.path().join("afile").join("sub");

    let error = export(&dir, &fixture(300)).unwrap_err();

    let message = error.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(error.path(), dir);
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn a_read_only_directory_is_an_error_and_stays_empty() {
    use std::os::unix::fs::PermissionsExt as _;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("read-only");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    if fs::File::create(dir.join("probe")).is_ok() {
        // Running as root, who writes anyway: nothing to test here.
        return;
    }

    let error = export(&dir, &fixture(300)).unwrap_err();

    let message = error.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
    // Let the tempdir clean up.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
}
