//! Every invalid input is an error that names the file, line, column and key, and
//! exits with code 2 — never a panic.
//!
//! Most cases load the config in-process, through the library (`config::load`), and
//! check the report the binary would print: `app.rs` prints a failed load as
//! `ConfigErrors`' Display, nothing added, and exits 2, which
//! `the_binary_prints_the_library_report_and_exits_2` checks against the real binary.
//! The real binary, run with `--check`, is kept for exit codes, for what `--check`
//! lists, for the lookup of config files and for what `app.rs` says by itself (no
//! endpoints, no terminal, bad command-line values).

use crate::support;

use std::path::Path;
use std::time::Duration;

use probetop::config::{Config, LoadOptions, load};
use support::{probetop, run, write_config};

/// Runs `probetop --check` on `config` and returns (exit code, stderr).
fn check(dir: &Path, config: &str) -> (Option<i32>, String) {
    write_config(dir, config);
    let output = run(probetop(dir).arg("--check"), Duration::from_secs(30));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Loads the config as the binary does with `options`, in-process; a failed load
/// comes back as the report the binary prints on stderr when it runs in `dir` (paths
/// under `dir` shown relative to it, as the binary finds `./probetop.toml`).
fn load_in(dir: &Path, options: &LoadOptions) -> Result<Config, String> {
    load(options).map_err(|errors| {
        errors
            .to_string()
            .replace(&format!("{}/", dir.display()), "")
    })
}

/// Loads `config` as `dir/probetop.toml`, in-process: what `probetop --check` in
/// `dir` reads.
fn load_config(dir: &Path, config: &str) -> Result<Config, String> {
    let path = write_config(dir, config);
    let options = LoadOptions {
        config_path: Some(path),
        ..LoadOptions::default()
    };
    load_in(dir, &options)
}

/// The report of a config that must fail to load (the binary's exit 2).
fn failed_load(dir: &Path, config: &str) -> String {
    match load_config(dir, config) {
        Ok(loaded) => panic!("the config loaded, want an error: {loaded:#?}"),
        Err(report) => report,
    }
}

/// Asserts a config error: `probetop.toml:LINE:COL`, the key, and `needle`; returns
/// the whole report.
fn assert_error(config: &str, line_col: &str, key: &str, needle: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let stderr = failed_load(dir.path(), config);
    assert!(
        stderr.contains(&format!("probetop.toml:{line_col}")),
        "want location {line_col}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("`{key}`")),
        "want key {key}:\n{stderr}"
    );
    assert!(stderr.contains(needle), "want {needle:?}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn unknown_key_suggests_the_right_one() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ntimout = \"1s\"\n",
        "3:1",
        "endpoint[0].timout",
        "did you mean `timeout`?",
    );
}

#[test]
fn bad_duration() {
    assert_error(
        "[defaults]\ninterval = \"5 parsecs\"\n",
        "2:12",
        "defaults.interval",
        "invalid duration \"5 parsecs\"",
    );
}

#[test]
fn wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ninsecure = \"yes\"\n",
        "3:12",
        "endpoint[0].insecure",
        "invalid type: string \"yes\", expected a boolean",
    );
}

#[test]
fn metrics_phases_wrong_type_or_misspelt() {
    assert_error(
        "[metrics]\nphases = \"on\"\n\n[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n",
        "2:10",
        "metrics.phases",
        "invalid type: string \"on\", expected a boolean",
    );
    assert_error(
        "[metrics]\nphase = true\n\n[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n",
        "2:1",
        "metrics.phase",
        "did you mean `phases`?",
    );
}

#[test]
fn bad_url() {
    assert_error(
        "[[endpoint]]\nname = \"x\"\nurl = \"ftp://127.0.0.1/\"\n",
        "3:7",
        "endpoint[0].url",
        "unsupported scheme `ftp` (use http, https, tcp or tls)",
    );
    assert_error(
        "[[endpoint]]\nurl = \"not a url\"\n",
        "2:7",
        "endpoint[0].url",
        "invalid URL \"not a url\"",
    );
}

#[test]
fn tcp_url_without_port() {
    assert_error(
        "[[endpoint]]\nurl = \"tcp://db.example.internal\"\n",
        "2:7",
        "endpoint[0].url",
        "a tcp:// URL needs a port: tcp://host:port",
    );
}

#[test]
fn tcp_url_with_a_path() {
    assert_error(
        "[[endpoint]]\nurl = \"tcp://127.0.0.1:5432/db\"\n",
        "2:7",
        "endpoint[0].url",
        "a tcp:// URL takes no path",
    );
}

#[test]
fn tls_url_with_a_query() {
    assert_error(
        "[[endpoint]]\nname = \"mail\"\nurl = \"tls://127.0.0.1:465?sni=x\"\n",
        "3:7",
        "endpoint[0].url",
        "a tls:// URL takes no query",
    );
}

#[test]
fn tcp_and_tls_urls_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).args(["--check", "tcp://127.0.0.1:9", "tls://127.0.0.1:9/"]),
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("2 endpoints"), "{stdout}");
}

#[test]
fn bad_tcp_and_tls_url_arguments() {
    let dir = tempfile::tempdir().unwrap();
    // An empty config file, so that no config of the developer's is looked up.
    let empty = write_config(dir.path(), "");
    for (arg, needle) in [
        ("tcp://127.0.0.1", "a tcp:// URL needs a port"),
        (
            "tls://user@127.0.0.1:9",
            "a tls:// URL takes no user name or password",
        ),
        ("tcp://127.0.0.1:9#x", "a tcp:// URL takes no fragment"),
        (
            "udp://127.0.0.1:53",
            "unsupported scheme `udp` (use http, https, tcp or tls)",
        ),
    ] {
        let options = LoadOptions {
            config_path: Some(empty.clone()),
            urls: vec![arg.to_string()],
            ..LoadOptions::default()
        };
        let stderr = load_in(dir.path(), &options).expect_err(arg);
        assert!(
            stderr.contains(&format!("invalid URL argument {arg:?}: {needle}")),
            "{arg}: {stderr}"
        );
        if arg == "tcp://127.0.0.1" {
            insta::assert_snapshot!("url_argument", stderr);
        }
    }
}

#[test]
fn method_on_tcp() {
    assert_error(
        "[[endpoint]]\nurl = \"tcp://127.0.0.1:9\"\nmethod = \"POST\"\n",
        "3:1",
        "endpoint[0].method",
        "`method` applies to http:// and https:// endpoints only (a tcp:// probe only connects)",
    );
}

#[test]
fn expect_status_on_tls() {
    assert_error(
        "[[endpoint]]\nurl = \"tls://127.0.0.1:9\"\n\n[endpoint.expect]\nmax_latency = \"1s\"\nstatus = [200]\n",
        "6:1",
        "endpoint[0].expect.status",
        "`expect.status` applies to http:// and https:// endpoints only (a tls:// probe",
    );
}

#[test]
fn certificate_keys_on_tcp() {
    assert_error(
        "[[endpoint]]\nurl = \"tcp://127.0.0.1:9\"\ninsecure = true\n",
        "3:1",
        "endpoint[0].insecure",
        "`insecure` applies to https:// and tls:// endpoints only (a tcp:// probe has no TLS)",
    );
}

#[test]
fn min_cert_days_wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"https://127.0.0.1:9/\"\n[endpoint.expect]\nmin_cert_days = \"30\"\n",
        "4:17",
        "endpoint[0].expect.min_cert_days",
        "invalid type: string \"30\", expected a whole number of days (0 to 3650)",
    );
}

#[test]
fn min_cert_days_out_of_range() {
    assert_error(
        "[[endpoint]]\nurl = \"https://127.0.0.1:9/\"\n[endpoint.expect]\nmin_cert_days = -1\n",
        "4:17",
        "endpoint[0].expect.min_cert_days",
        "min_cert_days cannot be negative",
    );
    assert_error(
        "[[endpoint]]\nurl = \"tls://127.0.0.1:9\"\nexpect = { min_cert_days = 4000 }\n",
        "3:28",
        "endpoint[0].expect.min_cert_days",
        "min_cert_days is at most 3650",
    );
}

#[test]
fn min_cert_days_on_http() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nmin_cert_days = 30\n",
        "4:1",
        "endpoint[0].expect.min_cert_days",
        "`min_cert_days` needs an https:// or tls:// URL: a http:// endpoint has no certificate",
    );
}

#[test]
fn tcp_tls_and_min_cert_days_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[defaults]\nmax_body_bytes = 65536\n\n\
         [[endpoint]]\nurl = \"tcp://127.0.0.1:9\"\ninterval = \"2s\"\ntimeout = \"1s\"\nmax_in_flight = 2\ndown_after = 3\nup_after = 2\n\
         [endpoint.expect]\nmax_latency = \"50ms\"\n\n\
         [[endpoint]]\nname = \"mail\"\nurl = \"tls://127.0.0.1:9/\"\ninsecure = true\n\
         [endpoint.expect]\nmin_cert_days = 14\n\n\
         [[endpoint]]\nname = \"web\"\nurl = \"https://127.0.0.1:9/\"\n\
         [endpoint.expect]\nstatus = [\"2xx\", 304]\nmin_cert_days = 0\n",
    );
    let output = run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("3 endpoints"), "{stdout}");
    // The name of a tcp:// endpoint defaults to its URL, as for http(s).
    let tcp = stdout
        .lines()
        .find(|l| l.starts_with("tcp://127.0.0.1:9 "))
        .expect(&stdout);
    assert!(tcp.contains("2s") && tcp.contains("1s"), "{tcp}");
    let mail = stdout
        .lines()
        .find(|l| l.starts_with("mail "))
        .expect(&stdout);
    assert!(mail.contains("tls://127.0.0.1:9/"), "{mail}");
}

#[test]
fn body_file_missing() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nmethod = \"POST\"\nbody_file = \"no-such-payload.json\"\n",
        "4:13",
        "endpoint[0].body_file",
        "cannot read body file",
    );
}

#[test]
fn basic_auth_missing_username_or_unknown_subkey() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { password = \"pw\" }\n",
        "3:14",
        "endpoint[0].basic_auth",
        "missing field `username`",
    );
    let report = assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbasic_auth = { user = \"ann\", password = \"pw\" }\n",
        "3:16",
        "endpoint[0].basic_auth.user",
        "unknown field `user`, expected `username` or `password`; did you mean `username`?",
    );
    insta::assert_snapshot!("basic_auth_unknown_subkey", report);
}

#[test]
fn bearer_token_wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nbearer_token = 42\n",
        "3:16",
        "endpoint[0].bearer_token",
        "invalid type: integer `42`, expected a string",
    );
}

#[test]
fn user_agent_wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nuser_agent = true\n",
        "3:14",
        "endpoint[0].user_agent",
        "invalid type: boolean `true`, expected a string",
    );
}

#[test]
fn http_version_not_1_1_or_2() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nhttp = \"3\"\n",
        "3:8",
        "endpoint[0].http",
        "invalid HTTP version \"3\": expected \"1.1\" or \"2\"",
    );
}

#[test]
fn follow_redirects_wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nfollow_redirects = \"no\"\n",
        "3:20",
        "endpoint[0].follow_redirects",
        "invalid type: string \"no\", expected a boolean",
    );
}

#[test]
fn connection_not_reuse_or_fresh() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nconnection = \"keep-alive\"\n",
        "3:14",
        "endpoint[0].connection",
        "invalid connection mode \"keep-alive\": expected \"reuse\" or \"fresh\"",
    );
}

#[test]
fn down_after_and_up_after_zero_or_wrong_type() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ndown_after = 0\n",
        "3:14",
        "endpoint[0].down_after",
        "must be at least 1",
    );
    assert_error(
        "[defaults]\nup_after = 0\n",
        "2:12",
        "defaults.up_after",
        "must be at least 1",
    );
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nup_after = \"2\"\n",
        "3:12",
        "endpoint[0].up_after",
        "invalid type: string \"2\", expected u32",
    );
}

#[test]
fn expect_status_class() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_config(
        dir.path(),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nstatus = [\"2xx\", 304]\n",
    );
    assert!(loaded.is_ok(), "{loaded:?}");
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nstatus = [\"2xx\", \"6xx\"]\n",
        "4:18",
        "endpoint[0].expect.status",
        "invalid status \"6xx\": expected a code (200) or a class (\"2xx\")",
    );
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nstatus = [\"abc\"]\n",
        "4:11",
        "endpoint[0].expect.status",
        "invalid status \"abc\"",
    );
}

#[test]
fn expect_body_regex_invalid() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nbody_regex = \"(ok\"\n",
        "4:14",
        "endpoint[0].expect.body_regex",
        "invalid regular expression \"(ok\"",
    );
}

#[test]
fn expect_json_pointer_without_slash() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\njson = { status = \"ok\" }\n",
        "4:10",
        "endpoint[0].expect.json.\"status\"",
        "\"status\" is not a JSON Pointer",
    );
}

#[test]
fn expect_headers_invalid_regex_or_name() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nheaders = { X-Up = \"[\" }\n",
        "4:20",
        "endpoint[0].expect.headers.X-Up",
        "invalid regular expression \"[\"",
    );
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[endpoint.expect]\nheaders = { \"Bad Name\" = \"x\" }\n",
        "4:13",
        "endpoint[0].expect.headers.Bad Name",
        "invalid header name \"Bad Name\"",
    );
}

#[test]
fn duplicate_name() {
    let report = assert_error(
        "[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/a\"\n\n[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/b\"\n",
        "6:8",
        "endpoint[1].name",
        "duplicate endpoint name \"api\" (first used on line 2)",
    );
    insta::assert_snapshot!("duplicate_name", report);
}

#[test]
fn durations_beyond_what_a_clock_can_add_are_rejected() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"500000000000years\"\n",
        "3:11",
        "endpoint[0].timeout",
        "longer than a year",
    );
}

#[test]
fn zero_timeout() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"0s\"\n",
        "3:11",
        "endpoint[0].timeout",
        "must be greater than zero",
    );
}

#[test]
fn unset_variable() {
    let report = assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nheaders = { Authorization = \"Bearer ${PROBETOP_TEST_UNSET_VARIABLE}\" }\n",
        "3:37",
        "endpoint[0].headers.Authorization",
        "environment variable `PROBETOP_TEST_UNSET_VARIABLE` is not set",
    );
    insta::assert_snapshot!("unset_variable", report);
}

#[test]
fn toml_syntax_error() {
    let report = assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\nname = \"x\"\n",
        "2:27",
        "endpoint[0].url",
        "invalid basic string",
    );
    insta::assert_snapshot!("toml_syntax_error", report);
}

#[test]
fn several_errors_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = failed_load(dir.path(), SEVERAL_ERRORS);
    assert!(stderr.contains("probetop.toml:3:12"), "{stderr}");
    assert!(stderr.contains("probetop.toml:4:11"), "{stderr}");
    insta::assert_snapshot!("several_errors", stderr);
}

/// A config with two errors, on lines 3 and 4.
const SEVERAL_ERRORS: &str =
    "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ninterval = \"soon\"\ntimeout = \"0ms\"\n";

#[test]
fn the_binary_prints_the_library_report_and_exits_2() {
    // What the in-process cases rely on: for a config that fails to load, the binary
    // prints the library's report, all of it and nothing more, and exits 2. A
    // validation error, a TOML error, a missing file and a bad URL argument take
    // different paths.
    let dir = tempfile::tempdir().unwrap();
    let syntax = "[[endpoint]]\nurl = \"http://127.0.0.1:9/\nname = \"x\"\n";
    for config in [SEVERAL_ERRORS, syntax] {
        let want = failed_load(dir.path(), config);
        let (code, stderr) = check(dir.path(), config);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr, want, "{config:?}");
    }
    let options = LoadOptions {
        config_path: Some(dir.path().join("nowhere.toml")),
        ..LoadOptions::default()
    };
    let want = load_in(dir.path(), &options).expect_err("no nowhere.toml");
    let output = run(
        probetop(dir.path()).args(["--check", "--config", "nowhere.toml"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, want);
    assert!(output.stdout.is_empty(), "{output:?}");

    let empty = write_config(dir.path(), "");
    let options = LoadOptions {
        config_path: Some(empty),
        urls: vec!["tcp://127.0.0.1".into()],
        ..LoadOptions::default()
    };
    let want = load_in(dir.path(), &options).expect_err("a URL without a port");
    let output = run(
        probetop(dir.path()).args(["--check", "tcp://127.0.0.1"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, want);
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        config_path: Some(dir.path().join("nowhere.toml")),
        ..LoadOptions::default()
    };
    let stderr = load_in(dir.path(), &options).expect_err("no nowhere.toml");
    assert!(stderr.contains("config file not found"), "{stderr}");
    assert!(stderr.contains("nowhere.toml"), "{stderr}");
    insta::assert_snapshot!("missing_config_file", stderr);
}

#[test]
fn no_endpoints_says_how_to_give_some() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&mut probetop(dir.path()), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no endpoints to probe"), "{stderr}");
    assert!(
        stderr.contains("--demo") && stderr.contains("--config"),
        "{stderr}"
    );

    let (code, stderr) = check(dir.path(), "[defaults]\ninterval = \"1s\"\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("probetop.toml defines no [[endpoint]]"),
        "{stderr}"
    );
}

#[test]
fn bad_command_line_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--check", "not-a-url"],
        vec!["--check", "-i", "fast", "http://127.0.0.1:9/"],
        vec!["--check", "-t", "0s", "http://127.0.0.1:9/"],
        vec!["--check", "-i", "500us", "http://127.0.0.1:9/"],
        vec![
            "--check",
            "--duration",
            "500000000000years",
            "http://127.0.0.1:9/",
        ],
        vec!["--no-such-flag"],
    ] {
        let output = run(probetop(dir.path()).args(&args), Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
}

#[test]
fn check_lists_the_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[defaults]\ninterval = \"2s\"\n\n[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/health\"\ntimeout = \"750ms\"\n",
    );
    let output = run(
        probetop(dir.path()).args(["--check", "http://127.0.0.1:9/cli"]),
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2 endpoints"), "{stdout}");
    let api = stdout
        .lines()
        .find(|l| l.starts_with("api "))
        .expect(&stdout);
    assert!(
        api.contains("2s") && api.contains("750ms") && api.contains("/health"),
        "{api}"
    );
    let cli = stdout.lines().find(|l| l.contains("/cli")).expect(&stdout);
    assert!(
        cli.contains("1s") && cli.contains("5s"),
        "CLI defaults: {cli}"
    );
}

#[test]
fn example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path())
            .arg("--check")
            .arg("--config")
            .arg(&example),
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("OK"));
}

#[test]
fn without_a_terminal_the_ui_refuses_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).arg("http://127.0.0.1:9/"),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a terminal") && stderr.contains("--headless"),
        "{stderr}"
    );
}

#[test]
fn config_is_looked_up_in_the_working_directory_then_xdg() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg").join("probetop");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(
        xdg.join("config.toml"),
        "[[endpoint]]\nname = \"from-xdg\"\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let listed = |dir: &Path| {
        let output = run(probetop(dir).arg("--check"), Duration::from_secs(30));
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(listed(dir.path()).contains("from-xdg"));
    write_config(
        dir.path(),
        "[[endpoint]]\nname = \"from-cwd\"\nurl = \"http://127.0.0.1:9/\"\n",
    );
    let stdout = listed(dir.path());
    assert!(
        stdout.contains("from-cwd") && !stdout.contains("from-xdg"),
        "{stdout}"
    );
}

/// An error on a huge line, with escape sequences in it, reaches the terminal cut to
/// a sane width and cleaned, with its location intact.
#[test]
fn an_error_on_a_huge_hostile_line_prints_a_short_clean_report() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(1_000_000);
    let (code, stderr) = check(
        dir.path(),
        &format!("[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"\\u001b[2J{huge}\"\n"),
    );
    assert_eq!(code, Some(2), "{}", &stderr[..stderr.len().min(2000)]);
    assert!(stderr.len() < 4_000, "{} bytes on stderr", stderr.len());
    assert!(stderr.contains("probetop.toml:3:"), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A config whose errors sit on lines holding secrets written literally: a URL's
/// password and token (the error after them on the line), the next line's API key,
/// a URL underlined whole, a header and a webhook's path.
const SECRETS_ON_ERROR_LINES: &str = r#"endpoint = [
  { name = "api", url = "https://ann:hunter2@127.0.0.1:9/health?token=abc123&region=eu", interval = "fast" },
  { name = "db", url = "https://127.0.0.1:9/?api_key=s3cr3t", timeout = "0ms" },
  { name = "web", url = "htps://carl:letmein@127.0.0.1:9/?token=tok3n" },
  { name = "auth", url = "http://127.0.0.1:9/", headers = { Authorization = "Bearer b3arer" }, interval = "soon" },
]

[[alert]]
webhook = "ftp://hooks.slack.com/services/T000/B000/XXXXSECRET"
"#;

/// The text each caret of `report` underlines, from the excerpt line above it.
fn underlined(report: &str) -> Vec<String> {
    let lines: Vec<&str> = report.lines().collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let (text, carets) = (pair[0], pair[1]);
            let (_, excerpt) = text.split_once(" | ")?;
            let (_, marks) = carets.split_once(" | ")?;
            let start = marks.find('^')?;
            let width = marks[start..].chars().take_while(|&c| c == '^').count();
            Some(excerpt.chars().skip(start).take(width).collect())
        })
        .collect()
}

/// Secrets written literally in the config never show in an error's excerpt, and
/// the carets stay under what they point at.
#[test]
fn excerpts_mask_the_secrets_on_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let report = failed_load(dir.path(), SECRETS_ON_ERROR_LINES);
    for secret in [
        "hunter2",
        "abc123",
        "s3cr3t",
        "letmein",
        "tok3n",
        "b3arer",
        "XXXXSECRET",
        "T000",
    ] {
        assert!(!report.contains(secret), "{secret} shows:\n{report}");
    }
    assert_eq!(
        underlined(&report),
        [
            "\"fast\"",
            "\"0ms\"",
            "\"htps://carl:***@127.0.0.1:9/?token=***\"",
            "\"soon\"",
            "\"ftp://hooks.slack.com/…\"",
        ],
        "{report}"
    );
    // The columns printed are the file's own, not the masked excerpt's.
    let line = SECRETS_ON_ERROR_LINES.lines().nth(1).unwrap();
    let column = line[..line.find("\"fast\"").unwrap()].chars().count() + 1;
    assert!(
        report.contains(&format!("probetop.toml:2:{column}\n")),
        "{report}"
    );
    insta::assert_snapshot!("secrets_in_excerpts", report);
    // The binary prints the same report.
    let (code, stderr) = check(dir.path(), SECRETS_ON_ERROR_LINES);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr, report);
}

/// Raw control characters and invisible marks on an error's line are written out in
/// its excerpt (TOML's escapes), beside its masks, so the report is terminal-safe as
/// it is and the caret stays under the text at fault in what the binary prints.
#[test]
fn excerpts_write_out_control_characters_and_keep_their_carets() {
    let dir = tempfile::tempdir().unwrap();
    // C1 characters and a direction mark are valid TOML in strings; the error comes
    // after them, and after the masks, on the same line.
    let valid_toml = "endpoint = [\n  { name = \"a\u{9b}31m\u{202e}b\", url = \"https://ann:hun\u{85}ter2@127.0.0.1:9/?token=abc123\", interval = \"fa\u{9b}st\" },\n]\n";
    // A raw BEL is not: the syntax error is at it.
    let invalid_toml = "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nname = \"x\u{7}y\"\n";
    for (config, carets) in [
        (valid_toml, ["\"fa\\u009Bst\""]),
        (invalid_toml, ["\\u0007"]),
    ] {
        let report = failed_load(dir.path(), config);
        assert_eq!(underlined(&report), carets, "{report}");
        assert!(
            !report.chars().any(|c| c.is_control() && c != '\n'),
            "{report:?}"
        );
        assert!(
            !report.contains("hun") && !report.contains("abc123"),
            "{report}"
        );
        // The binary's sanitising finds nothing left to change.
        let (code, stderr) = check(dir.path(), config);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr, report);
    }
}

/// An error far along a long line (past column 1,000) keeps its caret in what the
/// binary prints: the excerpt is a window of the line around the error, cut at both
/// ends, still masked and with its control characters written out, and no line of
/// the report is long enough for the terminal's cut to shorten it.
#[test]
fn an_error_far_along_a_long_line_keeps_its_caret() {
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "  {{ name = \"{}\u{9b}31m\", url = \"https://ann:hunter2@127.0.0.1:9/?token=abc123\", interval = \"fast\", user_agent = \"{}\" }},",
        "n".repeat(950),
        "u".repeat(1_000)
    );
    let config = format!("endpoint = [\n{line}\n]\n");
    let column = line[..line.find("\"fast\"").unwrap()].chars().count() + 1;
    assert!(column > 1_000, "{column}");

    let (code, stderr) = check(dir.path(), &config);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("probetop.toml:2:{column}\n")),
        "{stderr}"
    );
    assert_eq!(underlined(&stderr), ["\"fast\""], "{stderr}");
    let excerpt = stderr
        .lines()
        .find_map(|l| l.strip_prefix("2 | "))
        .expect("an excerpt line");
    assert!(
        excerpt.starts_with("…nnn") && excerpt.ends_with("uuu…"),
        "{excerpt}"
    );
    assert!(
        excerpt.contains("\\u009B31m\", url = \"https://ann:***@127.0.0.1:9/?token=***\""),
        "{excerpt}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("abc123"),
        "{stderr}"
    );
    assert!(stderr.lines().all(|l| l.chars().count() < 400), "{stderr}");
    // The same report as the library's: the terminal's sanitising left it alone.
    assert_eq!(stderr, failed_load(dir.path(), &config));
}
