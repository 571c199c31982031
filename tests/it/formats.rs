//! The snapshot's three formats (JSON, CSV, Markdown) carry the same numbers, and
//! `--headless --export-format` prints each of them.

use crate::support;

use probetop::config::ExportFormat;
use support::{TestServer, headless_output, write_config};

/// The Markdown tables as rows of cells, keyed by the first cell (the endpoint).
fn markdown_tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if let Some(inner) = line.strip_prefix("| ").and_then(|l| l.strip_suffix(" |")) {
            // Split on unescaped pipes.
            let mut cells = vec![String::new()];
            let mut escaped = false;
            for c in inner.chars() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '|') => cells.push(String::new()),
                    (_, c) => {
                        if escaped && c != '|' && !"\\*_`[]<>#".contains(c) {
                            cells.last_mut().unwrap().push('\\');
                        }
                        cells.last_mut().unwrap().push(c);
                        escaped = false;
                    }
                }
            }
            current.push(cells.into_iter().map(|c| c.trim().to_string()).collect());
        } else if !current.is_empty() {
            tables.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tables.push(current);
    }
    tables
}

/// The JSON's text for a number, or the empty/dash cell for null.
fn json_number(value: &serde_json::Value) -> Option<String> {
    value.as_f64().map(|_| value.to_string())
}

#[test]
fn headless_prints_each_format() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"ok\"\nurl = \"{}\"\ninterval = \"200ms\"\n",
            server.url("/")
        ),
    );
    let json = headless_output(dir.path(), &["--duration", "1s"]);
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "{json}"
    );
    let csv = headless_output(dir.path(), &["--duration", "1s", "--export-format", "csv"]);
    assert!(csv.starts_with("name,url,state,"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let md = headless_output(dir.path(), &["--duration", "1s", "--export-format", "md"]);
    assert!(md.starts_with("## probetop snapshot "), "{md}");
    assert!(md.contains("| ok | `http://"), "{md}");
}

#[test]
fn the_three_renderings_of_one_snapshot_agree() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\n\n[[endpoint]]\nname = \"ok|pipe*name\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"failing\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:9/\"\n",
            server.url("/delay/2"),
            server.url("/status/503"),
        ),
    );
    // One run's snapshot, exported in all three formats at once.
    let export_dir = dir.path().join("out");
    let json_text = headless_output(dir.path(), &["--duration", "1s"]);
    let snapshot: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    let model = snapshot_from_json(&snapshot);
    let paths = probetop::snapshot::export::export_as(
        &export_dir,
        &model,
        &[
            ExportFormat::Json,
            ExportFormat::Csv,
            ExportFormat::Markdown,
        ],
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
    let csv_text = std::fs::read_to_string(&paths[1]).unwrap();
    let md_text = std::fs::read_to_string(&paths[2]).unwrap();

    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let csv_rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let tables = markdown_tables(&md_text);
    assert_eq!(tables.len(), 4, "{md_text}");
    let (all_time, window, phases) = (&tables[0], &tables[1], &tables[2]);
    // The failures table: the endpoints with a last error, in config order.
    let failures = &tables[3];
    let failed: Vec<&serde_json::Value> = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["last_error"].is_null())
        .collect();
    assert_eq!(failures.len(), failed.len() + 2, "{md_text}");
    assert_eq!(
        failures[0],
        ["endpoint", "state", "class", "when", "message"]
    );
    for (row, e) in failures[2..].iter().zip(&failed) {
        let last = &e["last_error"];
        assert_eq!(row[0], e["name"].as_str().unwrap());
        assert_eq!(row[1], e["state"].as_str().unwrap());
        assert_eq!(row[2], last["class"].as_str().unwrap());
        assert_eq!(row[3], last["at"].as_str().unwrap());
        assert_eq!(row[4], last["message"].as_str().unwrap(), "{md_text}");
    }
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(csv_rows.len(), endpoints.len());
    assert_eq!(
        all_time.len(),
        endpoints.len() + 2,
        "header, separator, rows"
    );

    let keys = ["min", "mean", "p50", "p90", "p99", "p999", "max"];
    for (i, e) in endpoints.iter().enumerate() {
        let csv_row = &csv_rows[i];
        let csv_field = |name: &str| {
            csv_row
                .get(headers.iter().position(|h| h == name).unwrap())
                .unwrap()
                .to_string()
        };
        let md_row = &all_time[i + 2];
        let md_window = &window[i + 2];
        assert_eq!(md_row[0], e["name"].as_str().unwrap(), "{md_text}");
        assert_eq!(csv_field("name"), e["name"].as_str().unwrap());
        for (column, key) in [(3, "probes"), (4, "ok"), (5, "failed"), (6, "skipped")] {
            let expected = e[key].to_string();
            assert_eq!(csv_field(key), expected, "csv {key}");
            assert_eq!(md_row[column], expected, "md {key}: {md_text}");
        }
        for (k, key) in keys.iter().enumerate() {
            let all = json_number(&e["latency_ms"][key]);
            assert_eq!(
                Some(csv_field(&format!("latency_{key}_ms"))).filter(|s| !s.is_empty()),
                all,
                "csv latency {key}"
            );
            assert_eq!(
                Some(md_row[7 + k].clone()).filter(|s| s != "–"),
                all,
                "md latency {key}"
            );
            let win = json_number(&e["window"]["latency_ms"][key]);
            assert_eq!(
                Some(md_window[3 + k].clone()).filter(|s| s != "–"),
                win,
                "md window {key}"
            );
        }
        assert_eq!(md_window[1], e["window"]["probes"].to_string());
        assert_eq!(md_window[2], e["window"]["ok"].to_string());
        let md_phases = &phases[i + 2];
        assert_eq!(md_phases[0], e["name"].as_str().unwrap());
        for (column, phase) in ["dns", "connect", "tls", "ttfb", "transfer"]
            .iter()
            .enumerate()
        {
            let p = &e["phases_ms"][phase];
            let md = match json_number(&p["p50"]) {
                Some(p50) => format!("{p50} ({})", p["count"]),
                None => "–".to_string(),
            };
            assert_eq!(md_phases[column + 1], md, "md {phase}: {md_text}");
            assert_eq!(csv_field(&format!("{phase}_count")), p["count"].to_string());
            for key in ["p50", "p90", "p99"] {
                assert_eq!(
                    Some(csv_field(&format!("{phase}_{key}_ms"))).filter(|s| !s.is_empty()),
                    json_number(&p[key]),
                    "csv {phase} {key}"
                );
            }
        }
        let last = &e["last_error"];
        for (column, key) in [
            ("last_error_class", "class"),
            ("last_error", "message"),
            ("last_error_at", "at"),
        ] {
            assert_eq!(
                csv_field(column),
                last[key].as_str().unwrap_or_default(),
                "csv {column}"
            );
        }
        assert_eq!(
            csv_field("cert_days_left"),
            e["cert_days_left"]
                .as_i64()
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
}

/// The library's snapshot model, rebuilt from its JSON.
fn snapshot_from_json(v: &serde_json::Value) -> probetop::snapshot::Snapshot {
    use probetop::snapshot::{
        EndpointSnapshot, ErrorSnapshot, HistogramSnapshot, Snapshot, WindowSnapshot,
    };
    use probetop::stats::LatencySummary;
    let latency = |l: &serde_json::Value| -> Option<LatencySummary> {
        l.as_object()?;
        let f = |k: &str| l[k].as_f64().unwrap();
        Some(LatencySummary {
            min: f("min"),
            mean: f("mean"),
            p50: f("p50"),
            p90: f("p90"),
            p99: f("p99"),
            p999: f("p999"),
            max: f("max"),
        })
    };
    let state = |s: &str| -> &'static str {
        ["up", "degraded", "down", "unknown"]
            .into_iter()
            .find(|x| *x == s)
            .unwrap()
    };
    let class = |s: &str| -> &'static str {
        probetop::probe::ErrorClass::ALL
            .into_iter()
            .map(|c| c.as_str())
            .find(|x| *x == s)
            .unwrap()
    };
    let error = |r: &serde_json::Value| {
        r.as_object()?;
        Some(ErrorSnapshot {
            at: r["at"].as_str().unwrap().into(),
            class: class(r["class"].as_str().unwrap()),
            message: r["message"].as_str().unwrap().into(),
        })
    };
    Snapshot {
        probetop_snapshot: 1,
        started_at: v["started_at"].as_str().unwrap().into(),
        taken_at: v["taken_at"].as_str().unwrap().into(),
        vantage: v["vantage"].as_str().unwrap().into(),
        merged_from: Vec::new(),
        scheduler_lag_ms: latency(&v["scheduler_lag_ms"]),
        overload: probetop::snapshot::OverloadSnapshot {
            seconds: v["overload"]["seconds"].as_u64().unwrap(),
            late_ticks: v["overload"]["late_ticks"].as_u64().unwrap(),
            max_lag_ms: v["overload"]["max_lag_ms"].as_f64().unwrap(),
        },
        stats_queue: probetop::snapshot::QueueSnapshot {
            depth: v["stats_queue"]["depth"].as_u64().unwrap(),
            max_depth: v["stats_queue"]["max_depth"].as_u64().unwrap(),
        },
        endpoints: v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| EndpointSnapshot {
                name: e["name"].as_str().unwrap().into(),
                url: e["url"].as_str().unwrap().into(),
                interval_ms: e["interval_ms"].as_u64().unwrap(),
                state: state(e["state"].as_str().unwrap()),
                probes: e["probes"].as_u64().unwrap(),
                ok: e["ok"].as_u64().unwrap(),
                failed: e["failed"].as_u64().unwrap(),
                skipped: e["skipped"].as_u64().unwrap(),
                excused: e["excused"].as_u64().unwrap(),
                errors: e["errors"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, n)| (class(k), n.as_u64().unwrap()))
                    .collect(),
                status_codes: e["status_codes"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                    .collect(),
                latency_ms: latency(&e["latency_ms"]),
                phases_ms: serde_json::from_value(e["phases_ms"].clone()).unwrap(),
                cert_days_left: e["cert_days_left"].as_i64(),
                cert_not_after: e["cert_not_after"].as_str().map(String::from),
                last_response: e["last_response"].as_object().map(|r| {
                    probetop::snapshot::ResponseSnapshot {
                        http_version: r["http_version"].as_str().map(|v| {
                            ["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"]
                                .into_iter()
                                .find(|x| *x == v)
                                .unwrap()
                        }),
                        remote_addr: r["remote_addr"].as_str().map(String::from),
                    }
                }),
                window: WindowSnapshot {
                    seconds: e["window"]["seconds"].as_u64().unwrap(),
                    probes: e["window"]["probes"].as_u64().unwrap(),
                    ok: e["window"]["ok"].as_u64().unwrap(),
                    latency_ms: latency(&e["window"]["latency_ms"]),
                    phases_ms: serde_json::from_value(e["window"]["phases_ms"].clone()).unwrap(),
                },
                histogram: HistogramSnapshot {
                    unit: "us",
                    encoding: probetop::snapshot::ENCODING,
                    data: e["histogram"]["data"].as_str().unwrap().into(),
                },
                phase_histograms: probetop::snapshot::PhaseHistogramsSnapshot::new(
                    &std::array::from_fn(|_| probetop::stats::new_histogram()),
                ),
                transitions: Vec::new(),
                last_error: error(&e["last_error"]),
                recent_errors: e["recent_errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| error(r).unwrap())
                    .collect(),
                vantages: Default::default(),
            })
            .collect(),
        local_network: None,
        alerts: Vec::new(),
        alert_events_dropped: 0,
    }
}
