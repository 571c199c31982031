//! Statistics that survive a restart (`--resume`, `[export] on_exit`) and the exact
//! merge of several vantage points (`probetop merge`), through the real binary
//! against loopback servers. Histograms are decoded here and compared count by count.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::Value;
use support::{
    TestServer, count, endpoint, headless, headless_until_sigterm, headless_with, probetop, run,
    write_config,
};

/// Every recorded value (its bucket's highest equivalent) with its count.
fn counts(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn histogram(data: &Value) -> Histogram<u64> {
    probetop::snapshot::decode_histogram(data.as_str().expect("histogram data")).unwrap()
}

fn latency(e: &Value) -> Histogram<u64> {
    histogram(&e["histogram"]["data"])
}

fn phase(e: &Value, phase: &str) -> Histogram<u64> {
    histogram(&e["phase_histograms"][phase])
}

/// `a` and `b` added, as any HdrHistogram user would.
fn sum(a: &Histogram<u64>, b: &Histogram<u64>) -> Histogram<u64> {
    let mut total = probetop::stats::new_histogram();
    total.add(a).unwrap();
    total.add(b).unwrap();
    total
}

/// The one JSON file in `dir`, read.
fn only_json(dir: &Path) -> (PathBuf, Value) {
    let jsons: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(jsons.len(), 1, "{jsons:?}");
    let text = std::fs::read_to_string(&jsons[0]).unwrap();
    (jsons[0].clone(), serde_json::from_str(&text).unwrap())
}

fn config(ok: &TestServer, other: &TestServer, other_name: &str) -> String {
    format!(
        "[defaults]\ninterval = \"100ms\"\nwindow = \"1m\"\n\n[export]\ndir = \"snaps\"\nformats = [\"csv\"]\non_exit = true\n\n\
         [[endpoint]]\nname = \"ok\"\nurl = \"{}\"\n\n\
         [[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"500ms\"\n\n\
         [[endpoint]]\nname = \"{other_name}\"\nurl = \"{}\"\n",
        ok.url("/delay/2"),
        other.url("/"),
    )
}

/// Run 1 writes its exit snapshot; run 2 resumes it with one endpoint dropped and
/// one added: counts and histograms continue exactly, `started_at` stays the first
/// run's, the window starts empty, the state and its transitions carry on.
#[test]
fn resume_continues_counts_and_histograms_exactly() {
    let (ok_server, other_server) = (TestServer::start(), TestServer::start());
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &config(&ok_server, &other_server, "gone"));
    let a = headless(dir.path(), &["--duration", "1s", "--vantage", "eu-1"]);
    // [export] on_exit wrote the same snapshot, JSON added to the configured CSV.
    let (a_path, a_file) = only_json(&dir.path().join("snaps"));
    assert_eq!(a_file, a, "the exit snapshot is the printed one");
    assert!(a_path.with_extension("csv").is_file(), "{a_path:?}");
    assert_eq!(a["vantage"], "eu-1");
    let (a_ok, a_refused) = (endpoint(&a, "ok"), endpoint(&a, "refused"));
    assert!(count(a_ok, "probes") >= 3, "{a_ok:#}");
    assert_eq!(ok_server.requests(), count(a_ok, "probes"));

    let moved = dir.path().join("run1.json");
    std::fs::rename(&a_path, &moved).unwrap();
    write_config(dir.path(), &config(&ok_server, &other_server, "fresh"));
    let output = run(
        probetop(dir.path()).args([
            "--headless",
            "--duration",
            "1s",
            "--vantage",
            "eu-1",
            "--resume",
            "run1.json",
        ]),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("not in the config and were ignored: \"gone\""),
        "{stderr}"
    );
    let b: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(b["started_at"], a["started_at"]);
    assert_ne!(b["taken_at"], a["taken_at"]);

    let b_ok = endpoint(&b, "ok");
    // The window holds only run 2, so it counts run 2's probes.
    let run2 = count(&b_ok["window"], "probes");
    assert!(run2 >= 3, "{b_ok:#}");
    assert_eq!(count(b_ok, "probes"), count(a_ok, "probes") + run2);
    assert_eq!(
        count(b_ok, "probes"),
        ok_server.requests(),
        "every probe counted once"
    );
    assert_eq!(count(b_ok, "ok"), count(b_ok, "probes"));
    assert_eq!(
        b_ok["status_codes"]["200"].as_u64(),
        Some(count(b_ok, "probes"))
    );
    let (ha, hb) = (latency(a_ok), latency(b_ok));
    assert_eq!(hb.len(), ha.len() + run2, "B = A + run 2");
    for (value, n) in counts(&ha) {
        assert!(hb.count_at(value) >= n, "B holds A's {n} at {value} µs");
    }
    let ttfb = |e: &Value| count(&e["phases_ms"]["ttfb"], "count");
    assert_eq!(ttfb(b_ok), ttfb(a_ok) + ttfb(&b_ok["window"]));
    assert_eq!(phase(b_ok, "ttfb").len(), ttfb(b_ok));
    // Up all along: the first run's one transition, and no new one.
    assert_eq!(b_ok["transitions"], a_ok["transitions"]);
    assert_eq!(b_ok["transitions"].as_array().unwrap().len(), 1);

    let b_refused = endpoint(&b, "refused");
    let refused_run2 = count(&b_refused["window"], "probes");
    assert!(refused_run2 >= 1, "{b_refused:#}");
    assert_eq!(
        b_refused["errors"]["connect"].as_u64(),
        Some(a_refused["errors"]["connect"].as_u64().unwrap() + refused_run2)
    );
    assert_eq!(b_refused["state"], "down");

    // A directory resumes its newest snapshot: run 2's exit snapshot, run 1's moved away.
    let c = headless(dir.path(), &["--duration", "300ms", "--resume", "snaps"]);
    let c_ok = endpoint(&c, "ok");
    assert_eq!(
        count(c_ok, "probes"),
        count(b_ok, "probes") + count(&c_ok["window"], "probes")
    );
    assert_eq!(c["started_at"], a["started_at"]);

    let fresh = endpoint(&b, "fresh");
    assert_eq!(count(fresh, "probes"), count(&fresh["window"], "probes"));
    assert!(
        b["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "gone")
    );
}

/// A corrupt snapshot, one of another version and one with a single bad histogram
/// are refused with exit 2 before anything is probed.
#[test]
fn a_bad_snapshot_is_refused_whole() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            server.url("/")
        ),
    );
    let good = headless(dir.path(), &["--duration", "300ms"]);
    let requests = server.requests();
    let mut second_bad = good.clone();
    let mut copy = good["endpoints"][0].clone();
    copy["name"] = "second".into();
    copy["histogram"]["data"] = "bm90IGEgaGlzdG9ncmFt".into();
    second_bad["endpoints"].as_array_mut().unwrap().push(copy);
    let mut version_2 = good.clone();
    version_2["probetop_snapshot"] = 2.into();
    let cases = [
        (
            "corrupt.json",
            "{\"probetop_snapshot\": 1, \"endpoints\": [".to_string(),
            "invalid JSON",
        ),
        ("v2.json", version_2.to_string(), "snapshot version 2"),
        ("bad-histogram.json", second_bad.to_string(), "\"second\""),
    ];
    for (name, text, says) in cases {
        std::fs::write(dir.path().join(name), text).unwrap();
        let output = run(
            probetop(dir.path()).args(["--headless", "--duration", "300ms", "--resume", name]),
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot resume from {name}")) && stderr.contains(says),
            "{name}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{name}");
    }
    assert_eq!(server.requests(), requests, "nothing was probed");
}

/// SIGTERM ends a headless run without `--duration`: the exit snapshot is written too.
#[test]
fn a_signal_writes_the_exit_snapshot() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[export]\ndir = \"out\"\non_exit = true\n\n[[endpoint]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            server.url("/")
        ),
    );
    let output = headless_until_sigterm(dir.path(), Duration::from_millis(1500));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let (path, written) = only_json(&dir.path().join("out"));
    assert_eq!(written, printed);
    assert!(count(endpoint(&written, "api"), "probes") >= 1);
    // The default formats: JSON and CSV.
    assert!(path.with_extension("csv").is_file());
}

fn agent(
    server: &TestServer,
    route: &str,
    vantage: &str,
    extra: &str,
) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = headless_with(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\n\n[[endpoint]]\nname = \"api\"\nurl = \"{}\"\n{extra}",
            server.url(route)
        ),
        &["--duration", "1s", "--vantage", vantage],
    );
    std::fs::write(
        dir.path().join(format!("{vantage}.json")),
        snapshot.to_string(),
    )
    .unwrap();
    (dir, snapshot)
}

fn merge(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    run(
        probetop(dir.path()).arg("merge").args(args),
        Duration::from_secs(30),
    )
}

/// Two vantage points, one endpoint in both and one in only one: counters sum,
/// histograms add exactly, each vantage point keeps its own numbers; CSV and
/// Markdown carry the same; one vantage point twice is refused.
#[test]
fn merge_adds_histograms_exactly_and_keeps_each_vantage_point() {
    let server = TestServer::start();
    let eu_extra = format!(
        "\n[[endpoint]]\nname = \"eu-only\"\nurl = \"{}\"\n",
        server.url("/status/503")
    );
    // The two agents run at once, as a fleet's would.
    let ((eu_dir, eu), (us_dir, us_snapshot)) = std::thread::scope(|s| {
        let eu = s.spawn(|| agent(&server, "/delay/2", "eu-1", &eu_extra));
        let us = s.spawn(|| agent(&server, "/delay/12", "us-2", ""));
        (eu.join().unwrap(), us.join().unwrap())
    });
    let eu_file = eu_dir.path().join("eu-1.json");
    let us_file = us_dir.path().join("us-2.json");
    let (eu_arg, us_arg) = (eu_file.to_str().unwrap(), us_file.to_str().unwrap());
    let output = merge(&[eu_arg, us_arg]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let merged: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(merged["probetop_snapshot"], 1);
    assert_eq!(merged["vantage"], "eu-1+us-2");
    assert_eq!(merged["merged_from"][0]["vantage"], "eu-1");
    assert_eq!(merged["merged_from"][1]["vantage"], "us-2");
    let (api, eu_api, us_api) = (
        endpoint(&merged, "api"),
        endpoint(&eu, "api"),
        endpoint(&us_snapshot, "api"),
    );
    for key in ["probes", "ok", "failed", "skipped"] {
        assert_eq!(
            count(api, key),
            count(eu_api, key) + count(us_api, key),
            "{key}"
        );
    }
    let expected = sum(&latency(eu_api), &latency(us_api));
    let got = latency(api);
    assert_eq!(counts(&got), counts(&expected), "histograms add exactly");
    assert_eq!(got.len(), count(api, "probes"));
    assert_eq!(
        api["latency_ms"]["p99"].as_f64().unwrap(),
        (expected.value_at_quantile(0.99) as f64).round() / 1000.0
    );
    for name in ["ttfb", "transfer", "connect"] {
        let expected = sum(&phase(eu_api, name), &phase(us_api, name));
        assert_eq!(counts(&phase(api, name)), counts(&expected), "{name}");
    }
    // Each vantage point keeps its own counts and percentiles.
    for (vantage, own) in [("eu-1", eu_api), ("us-2", us_api)] {
        let seen = &api["vantages"][vantage];
        assert_eq!(seen["probes"], own["probes"], "{vantage}");
        assert_eq!(seen["latency_ms"], own["latency_ms"], "{vantage}");
        assert_eq!(seen["window"], own["window"], "{vantage}");
    }
    assert!(
        api["vantages"]["eu-1"]["latency_ms"]["p50"].as_f64()
            < api["vantages"]["us-2"]["latency_ms"]["p50"].as_f64(),
        "2 ms against 12 ms: {api:#}"
    );
    // Window counts add (same spans); window percentiles do not, so they are null.
    assert_eq!(
        count(&api["window"], "probes"),
        count(&eu_api["window"], "probes") + count(&us_api["window"], "probes")
    );
    assert!(api["window"]["latency_ms"].is_null());
    let eu_only = endpoint(&merged, "eu-only");
    assert_eq!(eu_only["state"], "down");
    assert_eq!(
        eu_only["vantages"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["eu-1"]
    );

    // CSV: the merged rows, then each vantage point's own.
    let output = merge(&[eu_arg, us_arg, "--export-format", "csv"]);
    assert!(output.status.success());
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let cells: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                &r[column("name")],
                &r[column("vantage")],
                &r[column("probes")],
            )
        })
        .collect();
    let probes = |e: &Value| count(e, "probes").to_string();
    assert_eq!(
        cells,
        [
            ("api", "eu-1+us-2", probes(api).as_str()),
            ("eu-only", "eu-1+us-2", probes(eu_only).as_str()),
            ("api", "eu-1", probes(eu_api).as_str()),
            ("eu-only", "eu-1", probes(endpoint(&eu, "eu-only")).as_str()),
            ("api", "us-2", probes(us_api).as_str()),
        ]
    );

    // Markdown: a table by vantage point.
    let output = merge(&[eu_arg, us_arg, "--export-format", "md"]);
    assert!(output.status.success());
    let md = String::from_utf8(output.stdout).unwrap();
    assert!(md.contains("### By vantage point"), "{md}");
    let line = format!(
        "| api | us-2 | {} | {} |",
        us_api["state"].as_str().unwrap(),
        probes(us_api)
    );
    assert!(md.contains(&line), "{line} in:\n{md}");

    // The same vantage point twice would count its probes twice.
    let output = merge(&[eu_arg, eu_arg]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("both taken at vantage point \"eu-1\""),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// `merge` is a subcommand, and a URL as the first argument still probes it.
/// Two snapshots whose latency histograms hold a count of `i64::MAX` (the most the V2
/// encoding holds) merge into a count past it: written capped there, not a panic.
#[test]
fn counts_past_what_the_encoding_holds_merge_capped() {
    let server = TestServer::start();
    let (dir, mut snapshot) = agent(&server, "/", "eu-1", "");
    let mut huge = probetop::stats::new_histogram();
    huge.record_n(1_000, i64::MAX as u64).unwrap();
    let e = &mut snapshot["endpoints"][0];
    e["probes"] = i64::MAX.into();
    e["ok"] = i64::MAX.into();
    e["failed"] = 0.into();
    e["excused"] = 0.into();
    e["histogram"]["data"] = probetop::snapshot::encode_histogram(&huge).into();
    let mut files = Vec::new();
    for vantage in ["eu-1", "us-2"] {
        snapshot["vantage"] = vantage.into();
        let file = dir.path().join(format!("huge-{vantage}.json"));
        std::fs::write(&file, snapshot.to_string()).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let output = merge(&[&files[0], &files[1]]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let merged: Value = serde_json::from_slice(&output.stdout).unwrap();
    let api = endpoint(&merged, "api");
    assert_eq!(count(api, "probes"), 2 * i64::MAX as u64, "{api:#}");
    assert_eq!(counts(&latency(api)), [(1_000, i64::MAX as u64)], "{api:#}");
    // Counts that already fill a u64 stay there, neither wrapping nor panicking.
    for (file, vantage) in files.iter().zip(["eu-1", "us-2"]) {
        let e = &mut snapshot["endpoints"][0];
        e["probes"] = u64::MAX.into();
        e["ok"] = u64::MAX.into();
        snapshot["vantage"] = vantage.into();
        std::fs::write(file, snapshot.to_string()).unwrap();
    }
    let output = merge(&[&files[0], &files[1]]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let merged: Value = serde_json::from_slice(&output.stdout).unwrap();
    let api = endpoint(&merged, "api");
    assert_eq!(
        [count(api, "probes"), count(api, "ok")],
        [u64::MAX; 2],
        "{api:#}"
    );
}

#[test]
fn urls_still_probe_beside_the_subcommand() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/");
    let snapshot = headless(dir.path(), &["--duration", "300ms", "-i", "100ms", &url]);
    assert!(count(endpoint(&snapshot, &url), "probes") >= 1);
    // Without --vantage: the host name, sanitised.
    let vantage = snapshot["vantage"].as_str().unwrap();
    assert!(
        !vantage.is_empty()
            && vantage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "{vantage}"
    );
    let output = merge(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SNAPSHOT"));
    let output = run(
        probetop(dir.path()).args(["--headless", "merge", "a.json"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("comes first"));
    let output = merge(&["/nonexistent/a.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot merge /nonexistent/a.json"));
}

/// Runs the dashboard in tmux until an `api` row shows a 200, quits with `q` and
/// returns the newest exit snapshot in `dir/snaps`.
fn dashboard_until_quit(dir: &Path, extra: &str) -> Value {
    let mut tmux = support::tmux::Tmux::new("resume").unwrap();
    let command = format!(
        "{} -c probetop.toml --vantage dash-1 --log-file log.txt {extra}; echo $? > rc.txt; sleep 60",
        support::tmux::sh_quote(env!("CARGO_BIN_EXE_probetop")),
    );
    let _ = std::fs::remove_file(dir.join("rc.txt"));
    tmux.start(dir, (120, 30), &command).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let screen = tmux.capture().unwrap();
        if screen
            .lines()
            .any(|l| l.contains(" api ") && l.contains("200"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no probe shown:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.send_key("q").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let rc = loop {
        if let Ok(rc) = std::fs::read_to_string(dir.join("rc.txt")) {
            break rc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "probetop did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(rc.trim(), "0");
    let newest = std::fs::read_dir(dir.join("snaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap()
}

/// The dashboard writes its exit snapshot on `q`, and resumes from it.
#[test]
fn the_dashboard_writes_its_exit_snapshot_and_resumes_it() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[export]\ndir = \"snaps\"\non_exit = true\n\n[[endpoint]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            server.url("/")
        ),
    );
    let first = dashboard_until_quit(dir.path(), "");
    assert_eq!(first["vantage"], "dash-1");
    let first_api = endpoint(&first, "api");
    assert!(count(first_api, "probes") >= 1, "{first_api:#}");
    let second = dashboard_until_quit(dir.path(), "--resume snaps");
    let api = endpoint(&second, "api");
    assert_eq!(
        count(api, "probes"),
        count(first_api, "probes") + count(&api["window"], "probes")
    );
    // `q` cancels probes in flight: a request may have reached the server uncounted.
    assert!(count(api, "probes") <= server.requests());
    assert_eq!(second["started_at"], first["started_at"]);
}
