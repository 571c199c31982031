//! Alerts and canaries through the real binary, against servers the tests start:
//! a command (a tiny shell script that writes its environment to a file; run without
//! a shell by probetop) and webhooks to the test server's `/hook`, for a route the
//! test flips down and up again; none for an endpoint that only started up; a
//! webhook that hangs delaying no probe; a canary on a refused port excusing another
//! endpoint's failures; and the config's errors for `[[alert]]`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use support::{TestServer, count, endpoint, free_port, probetop, wait_bounded, write_config};

/// A headless probetop in `dir` for `duration`, without proxies from the
/// environment (the webhooks go to loopback).
fn headless(dir: &Path, duration: &str) -> Command {
    let mut command = probetop(dir);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    command.args(["--headless", "--duration", duration]);
    command
}

/// A script that appends one line of its `PROBETOP_*` environment to the file named
/// by its first argument.
pub(crate) fn env_script(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("page.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nprintf 'endpoint=%s|url=%s|state=%s|previous=%s|reason=%s|at=%s\\n' \
         \"$PROBETOP_ENDPOINT\" \"$PROBETOP_URL\" \"$PROBETOP_STATE\" \"$PROBETOP_PREVIOUS\" \
         \"$PROBETOP_REASON\" \"$PROBETOP_AT\" >> \"$1\"\n",
    )
    .expect("writing the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("making the script executable");
    path
}

/// The lines the script wrote, each as its fields.
pub(crate) fn pages(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            line.split('|')
                .filter_map(|field| field.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A fresh directory holding [`env_script`], and the file the script pages into.
fn paging_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let script = env_script(dir.path());
    let out = dir.path().join("pages.txt");
    (dir, script, out)
}

/// Runs `command` while `during` flips the server: returns the snapshot.
fn run_with(command: &mut Command, during: impl FnOnce()) -> serde_json::Value {
    let child = command.spawn().expect("starting probetop");
    during();
    let output = crate::support::succeeded(wait_bounded(child, Duration::from_secs(60)));
    serde_json::from_slice(&output.stdout).expect("a JSON snapshot")
}

#[test]
fn a_command_and_webhooks_tell_of_down_then_up_and_nothing_of_a_steady_endpoint() {
    let (dir, script, out) = paging_dir();
    let server = TestServer::start();
    let config = format!(
        r#"
[[endpoint]]
name = "flappy"
url = "{flip}"
interval = "200ms"
timeout = "2s"
down_after = 1

[[endpoint]]
name = "steady"
url = "{steady}"
interval = "200ms"

[[alert]]
command = ["{script}", "{out}"]

[[alert]]
webhook = "{hook}"

[[alert]]
on = ["down"]
endpoints = ["flappy"]
webhook = "{broken}"
format = "slack"
"#,
        flip = server.url("/flip"),
        steady = server.url("/steady"),
        script = script.display(),
        out = out.display(),
        hook = server.url("/hook/T000/B000/secret"),
        broken = server.url("/status/500/secret"),
    );
    write_config(dir.path(), &config);
    let snapshot = run_with(&mut headless(dir.path(), "9s"), || {
        std::thread::sleep(Duration::from_millis(1500));
        server.set_flip(503);
        std::thread::sleep(Duration::from_millis(2000));
        server.set_flip(0);
    });

    // The command: one page for the fall, one for the recovery; none at the start.
    let pages = pages(&out);
    let states: Vec<(&str, &str, &str)> = pages
        .iter()
        .map(|p| {
            (
                p["endpoint"].as_str(),
                p["state"].as_str(),
                p["previous"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("flappy", "down", "up"), ("flappy", "up", "down")],
        "{pages:#?}"
    );
    assert_eq!(pages[0]["url"], server.url("/flip"));
    assert!(pages[0]["reason"].contains("status"), "{pages:#?}");
    assert_eq!(pages[1]["reason"], "");
    for page in &pages {
        humantime::parse_rfc3339(&page["at"]).expect("PROBETOP_AT is RFC 3339");
    }

    // The JSON webhook: the same two, POSTed; the Slack one to a failing hook:
    // tried three times.
    let hooks = server.hooks();
    let bodies: Vec<serde_json::Value> = hooks
        .iter()
        .map(|h| serde_json::from_str(&h.body).expect("a JSON body"))
        .collect();
    let told: Vec<(&str, &str)> = bodies
        .iter()
        .map(|b| {
            (
                b["endpoint"].as_str().unwrap(),
                b["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(told, [("flappy", "down"), ("flappy", "up")], "{bodies:#?}");
    assert!(hooks.iter().all(|h| h.method == "POST"));
    assert!(hooks.iter().all(|h| {
        h.headers
            .contains(&("content-type".to_string(), "application/json".to_string()))
    }));
    assert_eq!(bodies[0]["previous"], "up");
    assert_eq!(bodies[1]["url"], server.url("/flip"));
    for key in ["endpoint", "url", "state", "previous", "reason", "at"] {
        assert!(bodies[0].get(key).is_some(), "{key} missing: {}", bodies[0]);
    }

    // Every delivery recorded in the snapshot, webhook paths masked.
    let alerts = snapshot["alerts"].as_array().expect("alerts list");
    let ok: Vec<_> = alerts.iter().filter(|a| a["result"] == "ok").collect();
    assert_eq!(ok.len(), 4, "{alerts:#?}");
    assert!(
        ok.iter()
            .all(|a| a["attempts"] == 1 && a["endpoint"] == "flappy")
    );
    let broken: Vec<_> = alerts.iter().filter(|a| a["result"] != "ok").collect();
    assert_eq!(broken.len(), 1, "{alerts:#?}");
    assert_eq!(broken[0]["result"], "HTTP 500");
    assert_eq!(broken[0]["attempts"], 3);
    assert_eq!(broken[0]["state"], "down");
    let masked = format!("http://{}/…", server.addr());
    assert!(alerts.iter().any(|a| a["target"] == masked), "{alerts:#?}");
    let text = snapshot.to_string();
    assert!(!text.contains("secret") && !text.contains("T000"), "{text}");
    assert_eq!(snapshot["alert_events_dropped"], 0);
    assert_eq!(
        endpoint(&snapshot, "steady")["transitions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "steady only started up"
    );
}

#[test]
fn repeat_reminds_while_the_state_lasts() {
    let (dir, script, out) = paging_dir();
    let server = TestServer::start();
    let config = format!(
        r#"
[[endpoint]]
name = "broken"
url = "{broken}"
interval = "200ms"

[[alert]]
on = ["down"]
command = ["{script}", "{out}"]
repeat = "1s"
"#,
        broken = server.url("/status/503"),
        script = script.display(),
        out = out.display(),
    );
    write_config(dir.path(), &config);
    run_with(&mut headless(dir.path(), "3500ms"), || {});
    let pages = pages(&out);
    // Down at the first probe (not up first: that fires), then a reminder a second.
    assert_eq!(pages[0]["state"], "down", "{pages:#?}");
    assert_eq!(pages[0]["previous"], "unknown", "{pages:#?}");
    let reminders = &pages[1..];
    assert!(
        (2..=3).contains(&reminders.len()),
        "about one a second for 3.5 s: {pages:#?}"
    );
    assert!(
        reminders
            .iter()
            .all(|p| p["previous"] == "down" && p["reason"] == "still down"),
        "{pages:#?}"
    );
}

#[test]
fn a_hanging_webhook_delays_no_probe() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start();
    let hook = TestServer::start();
    let config = format!(
        r#"
[[endpoint]]
name = "down"
url = "{down}"
interval = "100ms"
timeout = "1s"
down_after = 1
up_after = 1

[[endpoint]]
name = "fast"
url = "{fast}"
interval = "100ms"

[[alert]]
webhook = "{stall}"
"#,
        down = server.url("/flip"),
        fast = server.url("/fast"),
        stall = hook.url("/stall"),
    );
    write_config(dir.path(), &config);
    let started = Instant::now();
    // Flapping every 300 ms: every change is one more delivery that hangs.
    let snapshot = run_with(&mut headless(dir.path(), "4s"), || {
        for i in 0..10 {
            std::thread::sleep(Duration::from_millis(300));
            server.set_flip(if i % 2 == 0 { 503 } else { 0 });
        }
    });
    let took = started.elapsed();
    assert!(hook.requests() >= 1, "the webhook was called");
    let fast = endpoint(&snapshot, "fast");
    // 40 ticks due in 4 s: a loaded machine may lose a few, never most.
    assert!(count(fast, "probes") >= 30, "{fast:#}");
    assert_eq!(count(fast, "skipped"), 0, "{fast:#}");
    let lag_p99 = snapshot["scheduler_lag_ms"]["p99"].as_f64().unwrap();
    // A delivery waiting on the runtime of the probes would hold them for seconds;
    // a loaded machine adds tens of milliseconds at most.
    assert!(lag_p99 < 250.0, "scheduler lag p99 {lag_p99} ms");
    // The end waits for deliveries under way a little (EXIT_GRACE, 3 s), not for the
    // hanging hook's 10 s timeouts and retries.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_failing_canary_excuses_the_other_endpoints_failures() {
    let (dir, script, out) = paging_dir();
    let server = TestServer::start();
    let refused = format!("tcp://127.0.0.1:{}", free_port());
    let config = format!(
        r#"
[[endpoint]]
name = "gateway"
url = "{refused}"
interval = "100ms"
timeout = "1s"
canary = true

[[endpoint]]
name = "api"
url = "{flip}"
interval = "100ms"
down_after = 1

[[alert]]
endpoints = ["api"]
command = ["{script}", "{out}"]
"#,
        flip = server.url("/flip"),
        script = script.display(),
        out = out.display(),
    );
    write_config(dir.path(), &config);
    let port = free_port();
    let mut command = headless(dir.path(), "5s");
    command.args(["--metrics-addr", &format!("127.0.0.1:{port}")]);
    let mut metrics = None;
    let snapshot = run_with(&mut command, || {
        std::thread::sleep(Duration::from_millis(1500));
        server.set_flip(503);
        std::thread::sleep(Duration::from_millis(1500));
        metrics = support::get_metrics(port);
    });
    let metrics = metrics.expect("/metrics answered");
    assert!(
        metrics.contains("probetop_local_network_down 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"probetop_probes_total{endpoint="api",result="excused"}"#),
        "{metrics}"
    );
    let api = endpoint(&snapshot, "api");
    let (probes, ok, failed, excused) = (
        count(api, "probes"),
        count(api, "ok"),
        count(api, "failed"),
        count(api, "excused"),
    );
    assert!(excused >= 5, "{api:#}");
    assert_eq!(
        failed, 0,
        "every failure came while the canary failed: {api:#}"
    );
    assert_eq!(ok + failed + excused, probes, "{api:#}");
    assert_eq!(api["state"], "up", "an excused failure moves no state");
    assert_eq!(api["transitions"].as_array().unwrap().len(), 1, "{api:#}");
    let gateway = endpoint(&snapshot, "gateway");
    assert_eq!(gateway["state"], "down");
    assert_eq!(
        count(gateway, "excused"),
        0,
        "a canary's own failures count"
    );
    assert_eq!(count(gateway, "failed"), count(gateway, "probes"));
    assert_eq!(snapshot["local_network"]["down"], true);
    assert_eq!(snapshot["local_network"]["canaries"], 1);
    assert!(pages(&out).is_empty(), "no alert fires: {:#?}", pages(&out));
    assert!(snapshot["alerts"].as_array().unwrap().is_empty());
}

#[test]
fn without_canaries_nothing_is_excused() {
    let dir = tempfile::tempdir().unwrap();
    let refused = format!("tcp://127.0.0.1:{}", free_port());
    let config =
        format!("[[endpoint]]\nname = \"gone\"\nurl = \"{refused}\"\ninterval = \"100ms\"\n");
    write_config(dir.path(), &config);
    let snapshot = run_with(&mut headless(dir.path(), "1s"), || {});
    let gone = endpoint(&snapshot, "gone");
    assert!(count(gone, "failed") > 0, "{gone:#}");
    assert_eq!(count(gone, "excused"), 0);
    assert_eq!(gone["state"], "down");
    assert!(snapshot["local_network"].is_null());
}

/// The report of loading `config` from `dir`, which must fail.
fn load_error(dir: &Path, config: &str) -> String {
    let path = write_config(dir, config);
    let options = probetop::config::LoadOptions {
        config_path: Some(path),
        ..Default::default()
    };
    match probetop::config::load(&options) {
        Ok(_) => panic!("the config loaded, want an error"),
        Err(errors) => errors.to_string(),
    }
}

/// The first line of each error of a report: the messages without the excerpts.
fn messages(report: &str) -> String {
    report
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn alert_config_errors_name_the_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let report = load_error(
        dir.path(),
        r#"[[endpoint]]
name = "api"
url = "http://127.0.0.1:9/"

[[alert]]
endpoints = ["apj"]
command = ["/bin/true"]
webhook = "https://hooks.example.com/T000/B000/secret"

[[alert]]
on = ["down", "sideways"]

[[alert]]
webhook = "https://hooks.example.com/x"
format = "teams"
repeat = "soon"

[[alert]]
command = ["/bin/true"]
format = "slack"
repeat = "500ms"
"#,
    );
    for (line_col, key, needle) in [
        (
            "6:14",
            "alert[0].endpoints[0]",
            "no endpoint is named \"apj\"; did you mean \"api\"?",
        ),
        (
            "8:11",
            "alert[0].webhook",
            "either a `command` or a `webhook`, not both",
        ),
        ("10:1", "alert[1]", "needs a `command`"),
        ("11:15", "alert[1].on[1]", "unknown state \"sideways\""),
        ("15:10", "alert[2].format", "unknown alert format \"teams\""),
        ("16:10", "alert[2].repeat", ""),
        ("20:10", "alert[3].format", "applies to a `webhook` only"),
        ("21:10", "alert[3].repeat", "at least 1s"),
    ] {
        let want = format!("probetop.toml:{line_col}");
        let entry = report
            .split("error: ")
            .find(|e| e.contains(&format!("(key `{key}`)")))
            .unwrap_or_else(|| panic!("no error for {key}:\n{report}"));
        assert!(entry.contains(&want), "{key} not at {want}:\n{entry}");
        assert!(
            entry.contains(needle),
            "{key}: {needle:?} missing:\n{entry}"
        );
    }
    // The messages leave the URL out (the excerpt is the file's own line: a secret
    // belongs in a `${VAR}` there).
    assert!(!messages(&report).contains("secret"), "{report}");

    // The binary: exit 2, nothing probed.
    let output = support::run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("alert[1].on[1]"), "{stderr}");
}

#[test]
fn a_bad_webhook_url_is_reported_without_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let report = load_error(
        dir.path(),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n\n[[alert]]\nwebhook = \"ftp://hooks.example.com/secret\"\n\n[[alert]]\ncommand = []\n\n[ui]\nbell = \"loud\"\n",
    );
    // A type error stops the reading first: fixed, the others show.
    assert!(report.contains("ui.bell"), "{report}");
    let report = load_error(
        dir.path(),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n\n[[alert]]\nwebhook = \"ftp://hooks.example.com/secret\"\n\n[[alert]]\ncommand = []\n\n[ui]\nbell = false\n",
    );
    assert!(report.contains("(key `alert[0].webhook`)"), "{report}");
    assert!(report.contains("http:// or https://"), "{report}");
    assert!(report.contains("(key `alert[1].command`)"), "{report}");
    assert!(!messages(&report).contains("secret"), "{report}");
}

/// Feeds the real statistics thread: a canary that fails, then another endpoint's
/// failures (excused), an alert delivery; returns what the dashboard would fetch.
async fn recorded_dashboard() -> (
    probetop::ui::model::OverviewData,
    probetop::ui::model::DetailData,
    Vec<probetop::config::Endpoint>,
) {
    use probetop::probe::{ErrorClass, ProbeOutcome};
    use probetop::stats::{self, AlertDelivery, Clock, EndpointRules, Sample, SampleKind, State};
    use probetop::ui::model::{self, Span};

    let url = |s: &str| url::Url::parse(s).unwrap();
    let (interval, timeout) = (Duration::from_secs(1), Duration::from_secs(1));
    let mut gateway =
        probetop::config::Endpoint::new("gateway", url("tcp://127.0.0.1:9"), interval, timeout);
    gateway.canary = true;
    let api = probetop::config::Endpoint::new("api", url("http://127.0.0.1:9/"), interval, timeout);
    let endpoints = vec![gateway, api];
    let rules = endpoints
        .iter()
        .map(|e| EndpointRules {
            canary: e.canary,
            ..EndpointRules::default()
        })
        .collect();
    let clock = Clock::now();
    let window = Duration::from_secs(300);
    let (recorder, handle, thread) = stats::spawn(rules, window, window, clock).unwrap();
    let sample = |endpoint: usize, outcome: ProbeOutcome| Sample {
        endpoint,
        at: std::time::Instant::now(),
        lag: Duration::ZERO,
        kind: SampleKind::Probed(outcome),
    };
    let ok = ProbeOutcome {
        status: Some(200),
        latency: Some(Duration::from_millis(3)),
        ..ProbeOutcome::default()
    };
    recorder.record(sample(1, ok));
    recorder.record(sample(
        0,
        ProbeOutcome::failed(ErrorClass::Connect, "refused"),
    ));
    for _ in 0..3 {
        recorder.record(sample(
            1,
            ProbeOutcome::failed(ErrorClass::Connect, "refused"),
        ));
    }
    handle.record_alert(AlertDelivery {
        at: SystemTime::now(),
        endpoint: 1,
        state: State::Down,
        target: "https://hooks.example.com/…".into(),
        result: "HTTP 500".into(),
        attempts: 3,
    });
    let shared: std::sync::Arc<[probetop::config::Endpoint]> = endpoints.clone().into();
    let (overview, detail) = handle
        .read(move |s| {
            (
                model::overview(s, &shared, Span::FiveMinutes),
                model::detail(s, 1, Span::FiveMinutes).unwrap(),
            )
        })
        .await
        .unwrap();
    handle.finish().await.unwrap();
    thread.join().unwrap();
    (overview, detail, endpoints)
}

#[tokio::test]
async fn the_dashboard_says_local_network_down_and_shows_excused_probes_and_alerts() {
    use probetop::stats::State;
    use probetop::ui::model::Span;
    use probetop::ui::state::{Mode, UiState};
    use probetop::ui::theme::Theme;
    use probetop::ui::view::{self, ViewInput};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    let (overview, detail, endpoints) = recorded_dashboard().await;
    assert!(overview.local_network_down);
    assert_eq!(
        overview.rows[1].state,
        State::Up,
        "excused failures move no state"
    );
    assert_eq!(detail.excused, 3);
    assert_eq!(detail.counts, [4, 1, 0, 0], "probes, ok, failed, skipped");
    assert_eq!(detail.alerts.len(), 1);
    assert!(
        detail.alerts[0].1.ends_with("HTTP 500 (3 attempts)"),
        "{:?}",
        detail.alerts
    );
    assert!(!detail.alerts[0].2, "not delivered");

    let mut state = UiState::new(Span::FiveMinutes);
    state.refresh_rows(&overview);
    let screen = |state: &UiState| {
        let mut terminal = Terminal::new(TestBackend::new(180, 40)).unwrap();
        let input = ViewInput {
            state,
            data: &overview,
            detail: Some(&detail),
            endpoints: &endpoints,
            rate: None,
            paused: false,
            theme: Theme { color: false },
        };
        terminal
            .draw(|frame| {
                // The layout matters only to the event loop.
                let _ = view::draw(frame, &input);
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    let lines = screen(&state);
    assert!(lines[0].contains("local network down"), "{}", lines[0]);
    let api_row = lines.iter().find(|l| l.contains("api")).unwrap();
    assert!(api_row.contains("3 excused"), "{api_row}");

    state.mode = Mode::Detail(1);
    let lines = screen(&state).join("\n");
    assert!(lines.contains("excused 3"), "{lines}");
    assert!(
        lines.contains("alert down → https://hooks.example.com/…: HTTP 500"),
        "{lines}"
    );
}
