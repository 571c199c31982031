//! A redirect that cannot be followed is its own error class, `redirect`: in the
//! JSON, the CSV, `/metrics` and the `--fail-on` report, with a message that names
//! the `Location` masked and holds nothing a terminal would act on; and a snapshot
//! written before the class existed (no `redirect` key) still resumes and merges.
//! Real loopback servers that redirect, the real binary.

use crate::redirects_secrets::{Recorder, goto};
use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    RawServer, TestCert, Then, count, endpoint, free_port, get_metrics, probetop, run,
    wait_bounded, write_config,
};

/// A 302 to `$location`, then the connection closed.
macro_rules! redirect_to {
    ($location:literal) => {
        concat!(
            "HTTP/1.1 302 Found\r\nLocation: ",
            $location,
            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .as_bytes()
    };
}

/// The value of `probetop_probes_total` for `name` and `result` in a scrape.
fn probes_total(metrics: &str, name: &str, result: &str) -> Option<u64> {
    let (endpoint, result) = (
        format!("endpoint=\"{name}\""),
        format!("result=\"{result}\""),
    );
    metrics
        .lines()
        .find(|l| {
            l.starts_with("probetop_probes_total{") && l.contains(&endpoint) && l.contains(&result)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Whether `text` could do nothing to a terminal: visible ASCII and spaces only.
fn terminal_safe(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

#[test]
fn each_redirect_failure_is_class_redirect_in_every_output() {
    let cert = TestCert::generate();
    let mut servers = vec![
        (
            "loop",
            RawServer::start(redirect_to!("/again?token=s3cret-loop"), Then::Close),
        ),
        (
            "file",
            RawServer::start(
                redirect_to!("file:///etc/passwd?token=s3cret-file"),
                Then::Close,
            ),
        ),
        (
            "ftp",
            RawServer::start(
                redirect_to!("ftp://127.0.0.1/pub?token=s3cret-ftp"),
                Then::Close,
            ),
        ),
        (
            "data",
            RawServer::start(
                redirect_to!("data:text/plain,hello?token=s3cret-data"),
                Then::Close,
            ),
        ),
        (
            "parse",
            RawServer::start(
                redirect_to!("http://[::1/x?token=s3cret-parse"),
                Then::Close,
            ),
        ),
        (
            // Not text: UTF-8, with a C1 control sequence (CSI, `\u{9b}`) in it.
            "bytes",
            RawServer::start(
                b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9\xc2\x9b31m?token=s3cret-bytes\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                Then::Close,
            ),
        ),
    ];
    // A hop after a redirect that fails keeps its class, and names the Location too
    // (with a TAB in it, which a header value may hold).
    let refused = free_port();
    let hop_reply = format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{refused}/a\tb?token=s3cret-hop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let hop = RawServer::start(
        Box::leak(hop_reply.into_bytes().into_boxed_slice()),
        Then::Close,
    );
    servers.push(("hop", hop));
    let downgrade = Recorder::start(Some(&cert));
    let hop_message = format!(
        "connection refused (after 1 redirect; last Location: http://127.0.0.1:{refused}/a\\x09b?token=***)"
    );
    let expected = [
        (
            "loop",
            "redirect",
            "stopped after 10 redirects; last Location: /again?token=***",
        ),
        (
            "file",
            "redirect",
            "redirect to a file: URL, which cannot be followed; Location: file:///etc/passwd?token=***",
        ),
        (
            "ftp",
            "redirect",
            "redirect to a ftp: URL, which cannot be followed; Location: ftp://127.0.0.1/pub?token=***",
        ),
        (
            "data",
            "redirect",
            "redirect to a data: URL, which cannot be followed; Location: data:text/plain,hello?token=***",
        ),
        (
            "parse",
            "redirect",
            "redirect to an invalid Location (invalid IPv6 address): http://[::1/x?token=***",
        ),
        (
            "bytes",
            "redirect",
            r"redirect 302 with a Location that is not text: /caf\xc3\xa9\xc2\x9b31m?token=***",
        ),
        (
            "downgrade",
            "redirect",
            "redirect from https:// to http:// refused (allow_downgrade = true follows it); Location: http://127.0.0.1:9/?token=***",
        ),
        ("hop", "connect", &hop_message),
    ];

    let dir = tempfile::tempdir().unwrap();
    let ca = cert.write_ca(dir.path());
    // An hour's interval: each endpoint probes once, early, and then holds still, so
    // a scrape and the snapshot taken after it count the same probe.
    let mut config = String::from(
        "[defaults]\ninterval = \"1h\"\ntimeout = \"5s\"\n\n[export]\ndir = \"out\"\non_exit = true\nformats = [\"csv\"]\n",
    );
    for (name, server) in &servers {
        config.push_str(&format!(
            "\n[[endpoint]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url("/start")
        ));
    }
    config.push_str(&format!(
        "\n[[endpoint]]\nname = \"downgrade\"\nurl = \"{}{}\"\nca_file = \"{}\"\n",
        downgrade.base("127.0.0.1"),
        // The endpoint's URL carries this Location (in `to`, not a secret's name), so
        // its token is not one of the secrets looked for in the outputs below.
        goto("http://127.0.0.1:9/?token=in-the-config-url"),
        ca.display()
    ));
    write_config(dir.path(), &config);
    let port = free_port();
    let child = probetop(dir.path())
        .args(["--headless", "--fail-on", "down"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        if let Some(text) = get_metrics(port)
            && expected
                .iter()
                .all(|&(name, class, _)| probes_total(&text, name, class) == Some(1))
        {
            break Some(text);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: kill(2) with a valid signal on our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let output = wait_bounded(child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let metrics = metrics.unwrap_or_else(|| panic!("no scrape with every probe; {stderr}"));
    // Every endpoint ended down: --fail-on's exit.
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    let csv_path = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("the exit snapshot's CSV");
    let csv_text = std::fs::read_to_string(&csv_path).unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let head = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();

    for (name, class, message) in expected {
        let e = endpoint(&snapshot, name);
        assert_eq!(count(e, "probes"), 1, "{e:#}");
        assert_eq!(e["errors"], serde_json::json!({ class: 1 }), "{e:#}");
        assert_eq!(e["last_error"]["class"], class, "{e:#}");
        assert_eq!(e["last_error"]["message"], message, "{e:#}");
        assert!(terminal_safe(message), "{message}");

        let row = rows
            .iter()
            .find(|r| r.get(0) == Some(name))
            .unwrap_or_else(|| panic!("no CSV row {name}: {csv_text}"));
        let cell = |column: &str| {
            let at = head.iter().position(|h| h == column).expect(column);
            row.get(at).unwrap().to_string()
        };
        assert_eq!(cell(&format!("errors_{class}")), "1", "{name}: {csv_text}");
        assert_eq!(cell("errors_other"), "0", "{name}: {csv_text}");
        assert_eq!(cell("last_error_class"), class, "{name}");
        assert_eq!(cell("last_error"), message, "{name}");

        assert_eq!(probes_total(&metrics, name, class), Some(1), "{metrics}");
        assert_eq!(probes_total(&metrics, name, "other"), Some(0), "{metrics}");

        let line = format!("{name}: down: {class}: {message}");
        assert!(stderr.lines().any(|l| l == line), "{line}\n{stderr}");
    }
    // No secret of any Location in any output, and nothing that steers a terminal.
    for (what, text) in [
        (
            "stdout",
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        ("stderr", stderr.clone()),
        ("csv", csv_text),
        ("metrics", metrics),
    ] {
        assert!(!text.contains("s3cret"), "{what}: {text}");
        assert!(
            !text.contains('\u{9b}') && !text.contains('\u{1b}'),
            "{what}"
        );
    }
}

/// `snapshot` as a probetop from before the `redirect` class would have written it:
/// its redirect failures counted as `other`, and no `redirect` key anywhere.
fn before_the_class(mut snapshot: Value) -> Value {
    for e in snapshot["endpoints"].as_array_mut().unwrap() {
        let errors = e["errors"].as_object_mut().unwrap();
        if let Some(n) = errors.remove("redirect") {
            errors.insert("other".into(), n);
        }
        let reclass = |error: &mut Value| {
            if error["class"] == "redirect" {
                error["class"] = "other".into();
            }
        };
        if let Some(list) = e["recent_errors"].as_array_mut() {
            list.iter_mut().for_each(reclass);
        }
        if e["last_error"].is_object() {
            reclass(&mut e["last_error"]);
        }
    }
    assert!(!snapshot.to_string().contains("redirect\""), "{snapshot:#}");
    snapshot
}

/// A headless run of `config` in `dir` for 1 s with `args`: its snapshot.
fn run_for_a_second(dir: &Path, config: &str, args: &[&str]) -> Value {
    write_config(dir, config);
    let output = run(
        probetop(dir)
            .args(["--headless", "--duration", "1s"])
            .args(args),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn a_snapshot_from_before_the_class_resumes_and_merges() {
    let ok = RawServer::start(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        Then::Close,
    );
    let looping = RawServer::start(redirect_to!("/again"), Then::Close);
    let config = format!(
        "[defaults]\ninterval = \"250ms\"\n\n[[endpoint]]\nname = \"up\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"loop\"\nurl = \"{}\"\n",
        ok.url("/"),
        looping.url("/")
    );
    let dir = tempfile::tempdir().unwrap();
    let old = before_the_class(run_for_a_second(dir.path(), &config, &["--vantage", "old"]));
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    let old_loop = endpoint(&old, "loop");
    let carried = old_loop["errors"]["other"].as_u64().unwrap();
    assert!(carried > 0, "{old_loop:#}");

    let new = run_for_a_second(
        dir.path(),
        &config,
        &["--vantage", "new", "--resume", old_path.to_str().unwrap()],
    );
    let new_loop = endpoint(&new, "loop");
    // The old run's failures stay what it called them; this run's are `redirect`.
    assert_eq!(new_loop["errors"]["other"], carried, "{new_loop:#}");
    let fresh = count(new_loop, "probes") - count(old_loop, "probes");
    assert!(fresh > 0, "{new_loop:#}");
    assert_eq!(new_loop["errors"]["redirect"], fresh, "{new_loop:#}");
    assert_eq!(
        count(endpoint(&new, "up"), "ok"),
        count(endpoint(&new, "up"), "probes")
    );
    let new_path = dir.path().join("new.json");
    std::fs::write(&new_path, new.to_string()).unwrap();

    let merge = |format: &str| {
        let output = run(
            probetop(dir.path())
                .args(["merge", "--export-format", format])
                .args([&old_path, &new_path]),
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        String::from_utf8(output.stdout).unwrap()
    };
    let merged: Value = serde_json::from_str(&merge("json")).unwrap();
    let merged_loop = endpoint(&merged, "loop");
    // Summed class by class, the class the old snapshot lacks counted from zero.
    assert_eq!(
        merged_loop["errors"]["other"],
        2 * carried,
        "{merged_loop:#}"
    );
    assert_eq!(merged_loop["errors"]["redirect"], fresh, "{merged_loop:#}");
    let csv_text = merge("csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let head = reader.headers().unwrap().clone();
    let column = |name: &str| head.iter().position(|h| h == name).expect(name);
    let (redirect, other) = (column("errors_redirect"), column("errors_other"));
    // The merged row comes first; then each vantage point's own.
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| r.get(0) == Some("loop"))
        .collect();
    let counts: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r[redirect].to_string(), r[other].to_string()))
        .collect();
    assert_eq!(
        counts,
        [
            (fresh.to_string(), (2 * carried).to_string()),
            ("0".to_string(), carried.to_string()),
            (fresh.to_string(), carried.to_string()),
        ],
        "{csv_text}"
    );
}
