//! Every invalid input is an error that names the file, line, column and key, and
//! exits with code 2 — never a panic. The real binary, run with `--check`.

mod support;

use std::path::Path;
use std::time::Duration;

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

/// Asserts a config error: exit 2, `probetop.toml:LINE:COL`, the key, and `needle`.
fn assert_error(config: &str, line_col: &str, key: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = check(dir.path(), config);
    assert_eq!(code, Some(2), "exit code; stderr:\n{stderr}");
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
fn bad_url() {
    assert_error(
        "[[endpoint]]\nname = \"x\"\nurl = \"ftp://127.0.0.1/\"\n",
        "3:7",
        "endpoint[0].url",
        "unsupported scheme `ftp`",
    );
    assert_error(
        "[[endpoint]]\nurl = \"not a url\"\n",
        "2:7",
        "endpoint[0].url",
        "invalid URL \"not a url\"",
    );
}

#[test]
fn duplicate_name() {
    assert_error(
        "[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/a\"\n\n[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/b\"\n",
        "6:8",
        "endpoint[1].name",
        "duplicate endpoint name \"api\" (first used on line 2)",
    );
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
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\nheaders = { Authorization = \"Bearer ${PROBETOP_TEST_UNSET_VARIABLE}\" }\n",
        "3:37",
        "endpoint[0].headers.Authorization",
        "environment variable `PROBETOP_TEST_UNSET_VARIABLE` is not set",
    );
}

#[test]
fn toml_syntax_error() {
    assert_error(
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\nname = \"x\"\n",
        "2:27",
        "endpoint[0].url",
        "invalid basic string",
    );
}

#[test]
fn several_errors_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = check(
        dir.path(),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ninterval = \"soon\"\ntimeout = \"0ms\"\n",
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("probetop.toml:3:12"), "{stderr}");
    assert!(stderr.contains("probetop.toml:4:11"), "{stderr}");
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        probetop(dir.path()).args(["--check", "--config", "nowhere.toml"]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config file not found"), "{stderr}");
    assert!(stderr.contains("nowhere.toml"), "{stderr}");
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
