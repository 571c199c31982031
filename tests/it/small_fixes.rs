//! Issue 12's smaller fixes: short runs that probe every endpoint, certificates
//! that expire before 1970, stdout write errors, hlog files and tags, relative
//! export paths.

use crate::support;

use std::time::Duration;

use support::{TestServer, count, endpoint, probetop, run, write_config};

/// A run shorter than an endpoint's interval still probes it: first ticks are spread
/// over the first second, not over the interval, and the run waits for the probes
/// in flight at its end.
#[test]
fn a_short_run_probes_every_endpoint_even_a_slow_one() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"fast\"\nurl = \"{}\"\ninterval = \"500ms\"\n\n\
             [[endpoint]]\nname = \"mid\"\nurl = \"{}\"\ninterval = \"5s\"\n\n\
             [[endpoint]]\nname = \"slow\"\nurl = \"{}\"\ninterval = \"30s\"\n",
            server.url("/a"),
            server.url("/b"),
            // Due at ~0.67 s, answered at ~2.5 s: still in flight when the 2 s run
            // ends, and waited for.
            server.url("/delay/1800"),
        ),
    );
    let output = run(
        probetop(dir.path()).args(["--headless", "--duration", "2s", "--fail-on", "down"]),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", output.status);
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for name in ["fast", "mid", "slow"] {
        let entry = endpoint(&snapshot, name);
        assert!(count(entry, "probes") >= 1, "{name}: {entry:#}");
        assert_eq!(entry["state"], "up", "{name}: {entry:#}");
    }
    // Ticks at 0 + k × 500 ms before 2 s: four, whatever the load.
    assert_eq!(count(endpoint(&snapshot, "fast"), "probes"), 4);
    assert_eq!(count(endpoint(&snapshot, "slow"), "probes"), 1);
}

/// Runs `probetop --check` on `config` (bytes, so they need not be UTF-8) in a fresh
/// directory; returns the exit code and stderr, with the directory's path removed.
fn check_bytes(config: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probetop.toml"), config).unwrap();
    let output = run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&format!("{}/", dir.path().display()), "");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stderr)
}

/// A config that `--check` must refuse with exit 2 and a report naming the file,
/// line and column `line_col` and `key`; returns the report.
fn refused(config: &str, line_col: &str, key: &str) -> String {
    let (code, stderr) = check_bytes(config.as_bytes());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("probetop.toml:{line_col}")),
        "want {line_col}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("(key `{key}`)")),
        "want {key}:\n{stderr}"
    );
    stderr
}

#[test]
fn a_json_pointer_escape_other_than_tilde_0_or_1_is_refused() {
    let report = refused(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect.json]\n\"/a~2b\" = 1\n",
        "4:1",
        "endpoint[0].expect.json.\"/a~2b\"",
    );
    insta::assert_snapshot!("json_pointer_bad_escape", report);
    // The valid escapes still load.
    let (code, stderr) = check_bytes(
        b"[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect.json]\n\"/a~0b/c~1d\" = 1\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_basic_auth_username_with_a_colon_or_a_control_character_is_refused() {
    let report = refused(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { username = \"ann:x\", password = \"pw\" }\n",
        "3:27",
        "endpoint[0].basic_auth.username",
    );
    insta::assert_snapshot!("basic_auth_username_colon", report);
    let report = refused(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { username = \"ann\\nbob\" }\n",
        "3:27",
        "endpoint[0].basic_auth.username",
    );
    assert!(report.contains("control character"), "{report}");
    // A password may hold a colon (only the first one separates), not a newline.
    let (code, stderr) = check_bytes(
        b"[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { username = \"ann\", password = \"a:b\" }\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report = refused(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { username = \"ann\", password = \"a\\u0007b\" }\n",
        "3:45",
        "endpoint[0].basic_auth.password",
    );
    assert!(!report.contains("a\u{7}b"), "{report}");
}

#[test]
fn a_url_without_a_host_is_refused() {
    let report = refused(
        "[[endpoint]]\nname = \"x\"\nurl = \"http:///path\"\n",
        "3:7",
        "endpoint[0].url",
    );
    insta::assert_snapshot!("url_without_host", report);
    refused(
        "[[endpoint]]\nname = \"x\"\nurl = \"https:example.com\"\n",
        "3:7",
        "endpoint[0].url",
    );
    // On the command line too.
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).args(["--check", "http:///path"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no host"), "{stderr}");
}

#[test]
fn invalid_utf8_in_a_config_gets_a_line_and_column() {
    let mut config = b"[[endpoint]]\nname = \"caf".to_vec();
    config.push(0xe9); // Latin-1 é
    config.extend_from_slice(b"\"\nurl = \"http://127.0.0.1:9/\"\n");
    let (code, report) = check_bytes(&config);
    assert_eq!(code, Some(2), "{report}");
    assert!(report.contains("probetop.toml:2:12"), "{report}");
    insta::assert_snapshot!("invalid_utf8", report);
}

/// The line a failed write to stdout leaves on stderr, after checking the exit code
/// is 1 and that the error is said once. (Other lines, such as a headless run's
/// diagnostics, may come before it.)
fn stdout_error(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("standard output"))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    errors[0].to_string()
}

/// A config of one healthy endpoint, so that nothing but the write can fail.
fn healthy_config(dir: &std::path::Path, server: &TestServer) {
    write_config(
        dir,
        &format!(
            "[[endpoint]]\nname = \"ok\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            server.url("/ok")
        ),
    );
}

#[test]
fn a_full_stdout_is_reported_on_stderr_and_exits_1() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    healthy_config(dir.path(), &server);
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let output = run(
        probetop(dir.path())
            .args(["--headless", "--duration", "200ms"])
            .stdout(full()),
        Duration::from_secs(60),
    );
    let stderr = stdout_error(&output);
    assert!(
        stderr.starts_with("error: cannot write the snapshot to standard output: "),
        "{stderr}"
    );
    for format in ["csv", "md"] {
        let output = run(
            probetop(dir.path())
                .args([
                    "--headless",
                    "--duration",
                    "200ms",
                    "--export-format",
                    format,
                ])
                .stdout(full()),
            Duration::from_secs(60),
        );
        stdout_error(&output);
    }
    let output = run(
        probetop(dir.path()).arg("--check").stdout(full()),
        Duration::from_secs(30),
    );
    let stderr = stdout_error(&output);
    assert!(
        stderr.starts_with("error: cannot write the check to standard output: "),
        "{stderr}"
    );
}

#[test]
fn a_closed_stdout_pipe_is_reported_on_stderr_and_exits_1() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    healthy_config(dir.path(), &server);
    for args in [&["--headless", "--duration", "300ms"][..], &["--check"][..]] {
        let mut child = probetop(dir.path()).args(args).spawn().unwrap();
        // Nobody reads: the first write meets a closed pipe.
        drop(child.stdout.take());
        let output = support::wait_bounded(child, Duration::from_secs(60));
        let stderr = stdout_error(&output);
        assert!(stderr.contains("standard output"), "{args:?}: {stderr}");
    }
}

/// A self-signed certificate for 127.0.0.1 valid from 1950 to 1960.
fn cert_of_the_sixties() -> support::TestCert {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.not_before = time::macros::datetime!(1950-01-01 0:00 UTC);
    params.not_after = time::macros::datetime!(1960-06-30 12:00 UTC);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    support::TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A certificate that expired before 1970 is reported like any other expired one,
/// in every format: no panic, no lost snapshot.
#[test]
fn a_certificate_expiring_before_1970_is_reported_in_every_format() {
    let server = TestServer::start_tls(&cert_of_the_sixties());
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"old\"\nurl = \"{}\"\ninterval = \"200ms\"\ninsecure = true\n",
            server.url("/ok")
        ),
    );
    let snapshot = support::headless(dir.path(), &["--duration", "1s"]);
    let old = endpoint(&snapshot, "old");
    assert!(count(old, "ok") >= 1, "{old:#}");
    assert_eq!(old["cert_not_after"], "1960-06-30T12:00:00Z", "{old:#}");
    let days = old["cert_days_left"].as_i64().unwrap();
    assert!(days < -20_000, "{old:#}");
    for format in ["csv", "md"] {
        let text = support::headless_output(
            dir.path(),
            &["--duration", "500ms", "--export-format", format],
        );
        assert!(text.contains("old"), "{format}: {text}");
        assert!(text.contains(&days.to_string()), "{format}: {text}");
    }
}

/// The tags of every interval histogram in the log at `path`, each with its count of
/// headers (`#[StartTime`) in the file; read by the hdrhistogram crate's reader.
fn hlog_tags(path: &std::path::Path) -> (Vec<String>, usize) {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let log = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&log);
    let headers = text.matches("#[StartTime: ").count();
    let tags = IntervalLogIterator::new(&log)
        .filter_map(|entry| match entry.expect("a well-formed log line") {
            LogEntry::Interval(h) => Some(h.tag().expect("tagged").as_str().to_string()),
            _ => None,
        })
        .collect();
    (tags, headers)
}

/// A second run with the same `--hlog` starts a fresh log and keeps the first as
/// `FILE.1`; names that clean up to the same tag get distinct tags.
#[test]
fn hlog_runs_never_share_a_file_and_tags_stay_distinct() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\n\n[export]\nhlog_interval = \"1s\"\n\n\
             [[endpoint]]\nname = \"my api, eu\"\nurl = \"{}\"\n\n\
             [[endpoint]]\nname = \"my_api__eu\"\nurl = \"{}\"\n",
            server.url("/a"),
            server.url("/b"),
        ),
    );
    let hlog = dir.path().join("run.hlog");
    let hlog_arg = hlog.to_str().unwrap();
    let first = support::headless(dir.path(), &["--duration", "1500ms", "--hlog", hlog_arg]);
    let (first_tags, headers) = hlog_tags(&hlog);
    assert_eq!(headers, 1);
    let second = support::headless(dir.path(), &["--duration", "1500ms", "--hlog", hlog_arg]);
    let kept = dir.path().join("run.hlog.1");
    let (kept_tags, kept_headers) = hlog_tags(&kept);
    assert_eq!(
        (kept_tags, kept_headers),
        (first_tags, 1),
        "the first log, as it was"
    );
    let (tags, headers) = hlog_tags(&hlog);
    assert_eq!(headers, 1, "one log per file");
    // Each endpoint's tag is its own, and its intervals hold its probes of this run.
    for (name, tag) in [("my api, eu", "my_api__eu"), ("my_api__eu", "my_api__eu#1")] {
        assert!(tags.iter().any(|t| t == tag), "{tag} in {tags:?}");
        assert!(count(endpoint(&second, name), "ok") > 0);
        assert!(count(endpoint(&first, name), "ok") > 0);
    }
    assert!(
        tags.iter()
            .all(|t| t == "my_api__eu" || t == "my_api__eu#1"),
        "{tags:?}"
    );
}

/// What probetop writes is relative to the current directory, whether written in the
/// config or not; what it reads is relative to the config file.
#[test]
fn relative_output_paths_are_taken_from_the_current_directory() {
    use probetop::config::{LoadOptions, load};
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("body.txt"), "hello").unwrap();
    let config_path = conf.join("probetop.toml");
    let endpoint_table = format!(
        "[[endpoint]]\nname = \"ok\"\nurl = \"{}\"\ninterval = \"100ms\"\nmethod = \"POST\"\nbody_file = \"body.txt\"\n",
        server.url("/echo-body")
    );
    let load_with = |export: &str| {
        std::fs::write(&config_path, format!("{export}\n{endpoint_table}")).unwrap();
        load(&LoadOptions {
            config_path: Some(config_path.clone()),
            ..LoadOptions::default()
        })
        .unwrap()
    };
    let written = load_with("[export]\ndir = \"exports\"\nhlog = \"logs/run.hlog\"\n");
    assert_eq!(written.export_dir, std::path::Path::new("exports"));
    assert_eq!(
        written.hlog.as_deref(),
        Some(std::path::Path::new("logs/run.hlog"))
    );
    // The body file, read, is found beside the config.
    assert_eq!(written.endpoints[0].body.as_deref(), Some("hello"));
    let default = load_with("");
    assert_eq!(
        default.export_dir,
        std::path::Path::new("probetop-snapshots")
    );

    // A run from elsewhere writes its hlog in its own directory.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::create_dir(work.join("logs")).unwrap();
    std::fs::write(
        &config_path,
        format!("[export]\nhlog = \"logs/run.hlog\"\nhlog_interval = \"1s\"\n\n{endpoint_table}"),
    )
    .unwrap();
    let snapshot = support::headless(
        &work,
        &["--duration", "500ms", "-c", config_path.to_str().unwrap()],
    );
    assert!(count(endpoint(&snapshot, "ok"), "ok") > 0, "{snapshot:#}");
    assert!(work.join("logs/run.hlog").is_file());
    assert!(!conf.join("logs").exists());
}

/// The counter `probetop_probes_total{endpoint="e",result="ok"}` in a scrape.
fn ok_total(text: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with("probetop_probes_total{") && l.contains("result=\"ok\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}

/// What the README says `r` does to `/metrics`: the reset zeroes its counters (so
/// Prometheus sees a counter reset) and its histograms. Driven through the same
/// reset the dashboard's `r` sends, with a real engine, statistics and server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_zeroes_the_metrics_counters() {
    use probetop::config::{Endpoint, defaults};
    use probetop::stats::{Clock, EndpointRules};
    let server = TestServer::start();
    let endpoints: std::sync::Arc<[Endpoint]> = vec![Endpoint::new(
        "e",
        server.url("/ok").parse().unwrap(),
        Duration::from_millis(50),
        Duration::from_secs(2),
    )]
    .into();
    let clock = Clock::now();
    let window = Duration::from_secs(60);
    let rules = vec![EndpointRules {
        state: defaults::STATE_RULE,
        min_cert_days: None,
        canary: false,
    }];
    let (recorder, stats, _thread) = probetop::stats::spawn(rules, window, window, clock).unwrap();
    let deadline = clock.start + Duration::from_millis(500);
    let engine =
        probetop::engine::Engine::start(&endpoints, &recorder, clock, Some(deadline)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), engine.wait())
        .await
        .expect("the run ends");
    let metrics = probetop::metrics::MetricsServer::start(
        "127.0.0.1:0".parse().unwrap(),
        endpoints,
        stats.clone(),
        probetop::metrics::Settings {
            buckets: defaults::METRICS_BUCKETS.to_vec(),
            phases: false,
        },
    )
    .await
    .unwrap();
    let port = metrics.addr().port();
    let scrape =
        move || tokio::task::spawn_blocking(move || support::get_metrics(port).expect("a scrape"));
    let before = scrape().await.unwrap();
    assert!(ok_total(&before).is_some_and(|n| n >= 5), "{before}");
    stats.reset();
    let after = scrape().await.unwrap();
    assert_eq!(ok_total(&after), Some(0), "{after}");
    let count = after
        .lines()
        .find(|l| l.starts_with("probetop_probe_duration_seconds_count{"))
        .unwrap_or_else(|| panic!("{after}"));
    assert!(count.ends_with(" 0"), "{count}");
    metrics.shutdown().await;
}

/// The dashboard has no exit code to fail with: `--fail-on` needs `--headless`, and
/// the binary says so with exit 2 instead of ignoring it.
#[test]
fn fail_on_without_headless_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).args(["--fail-on", "down", "http://127.0.0.1:9/"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--headless"), "{stderr}");
}
