//! `--metrics-addr`: `/metrics` scraped over real HTTP during a run parses (with a
//! parser written here, independent of the writer), escapes hostile endpoint names,
//! and its counts match the snapshot taken at the same moment.

use crate::support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{
    TestServer, count, endpoint, free_port, get_metrics, probetop, run, wait_bounded, write_config,
};

/// One sample: metric name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the text exposition format: `# HELP`/`# TYPE`/`# EOF` lines and samples
/// `name{label="value",…} value`, with `\\`, `\"` and `\n` escapes in label values.
fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a sample has a name");
        let name = line[..name_end].to_string();
        let mut labels = HashMap::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            loop {
                let (start, c) = chars.next().expect("labels end with }");
                if c == '}' {
                    rest = &body[start + 1..];
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = body[start..].find("=\"").expect("label=\"value\"") + start;
                let key = body[start..eq].to_string();
                // Skip to the opening quote, then read the escaped value.
                for (i, _) in chars.by_ref() {
                    if i == eq + 1 {
                        break;
                    }
                }
                let mut value = String::new();
                loop {
                    let (_, c) = chars.next().expect("label value ends with a quote");
                    match c {
                        '"' => break,
                        '\\' => match chars.next().expect("an escape").1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        other => value.push(other),
                    }
                }
                labels.insert(key, value);
            }
        }
        let value: f64 = rest
            .trim()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .expect("a number");
        samples.push((name, labels, value));
    }
    (samples, types)
}

/// `/metrics` asked for gzip, as Prometheus asks: the response's headers and its
/// body, decompressed.
fn get_metrics_gzipped(port: u16) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..end]).to_lowercase();
    let mut body = String::new();
    flate2::read::GzDecoder::new(&response[end + 4..])
        .read_to_string(&mut body)
        .expect("a gzipped body");
    (head, body)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .2
}

#[test]
fn metrics_match_the_snapshot_and_escape_hostile_names() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let hostile = "evil \"quoted\" \\ back\nslash";
    // An hour's interval: the first endpoint probes once at the start and then holds
    // still, so a scrape and a later snapshot see the same moment. (The second one's
    // first probe never ends: the server never answers it, its timeout is half an
    // hour, and quitting cancels it unrecorded, so it stays at zero.)
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"1h\"\n\n[metrics]\nbuckets = [0.001, 0.01, 0.1, 1]\nphases = true\n\n[[endpoint]]\nname = \"evil \\\"quoted\\\" \\\\ back\\nslash\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"idle\"\nurl = \"{}\"\ntimeout = \"30m\"\n",
            server.url("/status/503"),
            server.url("/stall"),
        ),
    );
    let port = free_port();
    let child = probetop(dir.path())
        .args(["--headless", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        assert!(Instant::now() < deadline, "no scrape with the first probe");
        if let Some(text) = get_metrics(port)
            && text.contains("result=\"status\"} 1")
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: kill(2) with a valid signal on our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let output = wait_bounded(child, Duration::from_secs(20));
    assert!(output.status.success());
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let (samples, types) = parse(&text);
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    assert_eq!(types["probetop_probe_duration_seconds"], "histogram");
    assert_eq!(types["probetop_probes"], "counter");
    assert_eq!(types["probetop_up"], "gauge");
    for (name, e) in [
        (hostile, endpoint(&snapshot, hostile)),
        ("idle", endpoint(&snapshot, "idle")),
    ] {
        let probes = count(e, "probes");
        let ok = count(e, "ok");
        let by_result = |result: &str| {
            value(
                &samples,
                "probetop_probes_total",
                &[("endpoint", name), ("result", result)],
            )
        };
        assert_eq!(by_result("ok") as u64, ok, "{name}");
        let mut failed = 0.0;
        for class in [
            "timeout", "connect", "dns", "tls", "status", "body", "redirect", "other",
        ] {
            let expected = e["errors"][class].as_u64().unwrap_or(0);
            assert_eq!(by_result(class) as u64, expected, "{name} {class}");
            failed += by_result(class);
        }
        assert_eq!(ok + failed as u64, probes);
        let histogram =
            probetop::snapshot::decode_histogram(e["histogram"]["data"].as_str().unwrap()).unwrap();
        let hist_count = value(
            &samples,
            "probetop_probe_duration_seconds_count",
            &[("endpoint", name)],
        );
        assert_eq!(hist_count as u64, histogram.len(), "{name}");
        let inf = value(
            &samples,
            "probetop_probe_duration_seconds_bucket",
            &[("endpoint", name), ("le", "+Inf")],
        );
        assert_eq!(inf, hist_count, "{name}");
        let mut previous = 0.0;
        for le in ["0.001", "0.01", "0.1", "1.0", "+Inf"] {
            let bucket = value(
                &samples,
                "probetop_probe_duration_seconds_bucket",
                &[("endpoint", name), ("le", le)],
            );
            assert!(bucket >= previous, "cumulative buckets: {text}");
            previous = bucket;
        }
        let state = e["state"].as_str().unwrap();
        assert_eq!(
            value(
                &samples,
                "probetop_state",
                &[("endpoint", name), ("state", state)]
            ),
            1.0
        );
        let up = f64::from(matches!(state, "up" | "degraded"));
        assert_eq!(value(&samples, "probetop_up", &[("endpoint", name)]), up);
        // Each phase's count is the snapshot's (the one probe opened one connection
        // to an IP address: no DNS, one connect, no TLS, one TTFB and transfer).
        // Phases a plain-HTTP endpoint of an IP address never has are not served.
        for phase in ["dns", "tls"] {
            assert!(
                !samples
                    .iter()
                    .any(|(n, l, _)| n.starts_with("probetop_phase_duration_seconds")
                        && l.get("endpoint").map(String::as_str) == Some(name)
                        && l.get("phase").map(String::as_str) == Some(phase)),
                "{name} {phase}: {text}"
            );
            assert_eq!(e["phases_ms"][phase]["count"].as_u64().unwrap(), 0);
        }
        for phase in ["connect", "ttfb", "transfer"] {
            assert_eq!(
                value(
                    &samples,
                    "probetop_phase_duration_seconds_count",
                    &[("endpoint", name), ("phase", phase)]
                ) as u64,
                e["phases_ms"][phase]["count"].as_u64().unwrap(),
                "{name} {phase}"
            );
        }
    }
    let hostile_entry = endpoint(&snapshot, hostile);
    let phase_counts: Vec<u64> = ["dns", "connect", "tls", "ttfb", "transfer"]
        .iter()
        .map(|p| hostile_entry["phases_ms"][p]["count"].as_u64().unwrap())
        .collect();
    assert_eq!(phase_counts, [0, 1, 0, 1, 1], "{hostile_entry:#}");
    assert_eq!(types["probetop_phase_duration_seconds"], "histogram");
    assert_eq!(count(endpoint(&snapshot, hostile), "probes"), 1);
    assert_eq!(count(endpoint(&snapshot, "idle"), "probes"), 0);
}

#[test]
fn a_port_in_use_is_a_usage_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).args([
            "--headless",
            "--duration",
            "1s",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
            "http://127.0.0.1:9/",
        ]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot serve metrics"), "{stderr}");
}

#[test]
fn a_default_scrape_has_no_phases_and_31_series_per_endpoint() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // One endpoint by IP address, one by host name (which has DNS): without
    // `[metrics] phases`, neither has phase histograms.
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"1s\"\n\n[[endpoint]]\nname = \"by-ip\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"by-name\"\nurl = \"{}\"\n",
            server.url("/"),
            server.url_by_name("/"),
        ),
    );
    let port = free_port();
    let mut child = probetop(dir.path())
        .args(["--headless", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        assert!(
            Instant::now() < deadline,
            "no scrape with both first probes"
        );
        if let Some(text) = get_metrics(port) {
            let (samples, _) = parse(&text);
            let probed = |name| {
                samples.iter().any(|(n, l, v)| {
                    n == "probetop_probes_total"
                        && l.get("endpoint").map(String::as_str) == Some(name)
                        && l.get("result").map(String::as_str) == Some("ok")
                        && *v > 0.0
                })
            };
            if probed("by-ip") && probed("by-name") {
                break text;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (head, gzipped) = get_metrics_gzipped(port);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(gzipped.trim_end().ends_with("# EOF"), "{gzipped}");
    assert_eq!(parse(&gzipped).1, parse(&text).1);
    // Killed, not stopped: only the scrape matters here.
    child.kill().unwrap();
    child.wait().unwrap();
    let (samples, types) = parse(&text);
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    assert!(!text.contains("probetop_phase_duration_seconds"), "{text}");
    assert!(!types.contains_key("probetop_phase_duration_seconds"));
    // The README's count: the latency histogram (13 buckets + `+Inf` + `_sum` +
    // `_count`), 9 results, skipped ticks, up, 4 states; no certificate over HTTP.
    for name in ["by-ip", "by-name"] {
        let series = samples
            .iter()
            .filter(|(_, l, _)| l.get("endpoint").map(String::as_str) == Some(name))
            .count();
        assert_eq!(series, 31, "{name}: {text}");
    }
}
