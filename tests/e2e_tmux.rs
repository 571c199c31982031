//! End to end in a real terminal: the `probetop` binary runs inside tmux against a
//! loopback test server, and the test reads the screen the way a user would.
//!
//! It checks that the table fills with numbers, that `e` exports a JSON and a CSV
//! that agree with each other and with what the server did, and that `q`, SIGTERM,
//! SIGHUP and SIGQUIT all exit 0 and give the terminal back: normal screen, no mouse
//! reporting, and the line discipline out of raw mode (SIGHUP and SIGQUIT with the
//! final snapshot written).
//!
//! tmux is required: without it the tests fail with a message saying so (CI installs
//! it in `.ci/run`), because a silently skipped end-to-end test looks like a pass.
//! The tmux harness (`support::tmux`, shared with the UI benchmark) gives every tmux
//! server its own socket and kills it however the test ends.
//!
//! A binary of its own: the screen's latency is checked against bounds, which tests of
//! other areas running beside it could starve.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestServer;
use support::tmux::{Tmux, probetop_in_pane, sh_quote};

/// How long any one wait for the screen or a file may take. Generous: a loaded
/// 2-core CI machine may take seconds to start a debug binary, and the waits end as
/// soon as the condition holds, so a fast machine does not pay for it.
const WAIT_LIMIT: Duration = Duration::from_secs(20);
/// Time between two looks at the screen.
const POLL_STEP: Duration = Duration::from_millis(100);
/// The pane's size: wide enough for every column of the table.
const SIZE: (u16, u16) = (120, 30);

/// Names of the endpoints in the config.
const OK_NAME: &str = "fast-ok";
const FAIL_NAME: &str = "always-503";

/// The result of a tmux step, or the test's failure with its error.
fn must<T>(step: anyhow::Result<T>) -> T {
    step.unwrap_or_else(|e| panic!("{e:#}"))
}

/// Polls `check` every [`POLL_STEP`] for at most [`WAIT_LIMIT`]; returns its first
/// `Some`, or fails the test with `what`, the last screen and probetop's log.
fn wait_for<T>(tmux: &Tmux, run: &Run, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT_LIMIT;
    let mut screen;
    loop {
        screen = must(tmux.capture());
        if let Some(found) = check(&screen) {
            return found;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL_STEP);
    }
    panic!(
        "timed out after {WAIT_LIMIT:?} waiting for {what}\n--- screen ---\n{screen}\n--- probetop log ---\n{}",
        run.log()
    );
}

/// A probetop run's working directory and the files the pane's shell writes there.
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    /// Writes the config: one endpoint that answers after 20 ms, one that always
    /// answers 503, both every 200 ms; exports go to `./exports`.
    fn new(server: &TestServer) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("probetop-e2e-")
            .tempdir()
            .expect("creating a temporary directory");
        let config = format!(
            r#"[defaults]
interval = "200ms"
timeout = "2s"

[export]
dir = "exports"

[[endpoint]]
name = "{OK_NAME}"
url = "{ok}"

[[endpoint]]
name = "{FAIL_NAME}"
url = "{fail}"
"#,
            ok = server.url("/delay/20"),
            fail = server.url("/status/503"),
        );
        std::fs::write(dir.path().join("probetop.toml"), config).expect("writing the config");
        Run { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The pane's command: probetop (its pid written first, `exec` so that the pid is
    /// probetop's own), then its exit code shown on the screen and kept in a file,
    /// then the terminal settings (renamed into place, so they are never read half
    /// written), then a pause so the pane stays readable (the guard
    /// kills the server long before the pause ends).
    fn shell_command(&self) -> String {
        let q = |name: &str| sh_quote(&self.path(name).to_string_lossy());
        format!(
            "{probetop}; echo EXITED:$? | tee {exit}; stty -a > {stty}.tmp && mv {stty}.tmp {stty}; sleep 60",
            probetop = probetop_in_pane(
                &self.path("pid"),
                &self.path("probetop.toml"),
                &self.path("probetop.log")
            ),
            exit = q("exit-code"),
            stty = q("stty"),
        )
    }

    /// probetop's diagnostics so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.path("probetop.log")).unwrap_or_default()
    }

    /// The contents of `name`, once it exists and is complete (ends with a newline).
    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path(name))
            .ok()
            .filter(|text| text.ends_with('\n'))
    }

    /// The exported JSON and CSV paths, once both exist.
    fn exports(&self) -> Option<(PathBuf, PathBuf)> {
        let entries = std::fs::read_dir(self.path("exports")).ok()?;
        let (mut json, mut csv) = (None, None);
        for entry in entries.flatten() {
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => json = Some(path),
                Some("csv") => csv = Some(path),
                _ => {}
            }
        }
        Some((json?, csv?))
    }
}

/// The whitespace-separated cells after `name` on the screen line of that endpoint.
/// With 120 columns the table has every column: LAST P50 P90 P99 MAX OK% PROBES …
fn row_cells<'a>(screen: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let line = screen.lines().find(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|second| second == name)
    })?;
    let (_, rest) = line.split_once(name)?;
    Some(rest.split_whitespace().collect())
}

/// Both endpoints have numbers: a p50 for the good one, probes for both.
fn table_has_numbers(screen: &str) -> Option<f64> {
    let ok = row_cells(screen, OK_NAME)?;
    let fail = row_cells(screen, FAIL_NAME)?;
    let p50: f64 = ok.get(1)?.parse().ok()?;
    let ok_probes: u64 = ok.get(6)?.parse().ok()?;
    let fail_probes: u64 = fail.get(6)?.parse().ok()?;
    (ok_probes > 0 && fail_probes > 0).then_some(p50)
}

/// The dashboard's header: `probetop`, then the run time as HH:MM:SS.
fn shows_header(screen: &str) -> bool {
    screen.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("probetop")
            && words.next().is_some_and(|t| {
                t.len() == 8 && t.split(':').count() == 3 && t.split(':').all(is_number)
            })
    })
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit())
}

/// Starts probetop in tmux and waits until the table shows numbers for both
/// endpoints; returns the good endpoint's p50 as shown.
fn start_dashboard(tmux: &mut Tmux, run: &Run) -> f64 {
    must(tmux.start(run.dir.path(), SIZE, &run.shell_command()));
    let p50 = wait_for(tmux, run, "numbers for both endpoints", table_has_numbers);
    assert_eq!(
        must(tmux.display("#{alternate_on}")),
        "1",
        "the dashboard should draw on the alternate screen"
    );
    p50
}

/// Waits until the pane's shell has recorded probetop's exit, then checks that it
/// exited 0 and that the terminal is back to normal; returns the screen then.
fn assert_exited_cleanly(tmux: &Tmux, run: &Run) -> String {
    wait_for(tmux, run, "probetop to exit", |_| run.file("exit-code"));
    let code = run.file("exit-code").unwrap_or_default();
    assert_eq!(
        code.trim(),
        "EXITED:0",
        "probetop's exit; log:\n{}",
        run.log()
    );
    // The marker is printed on the normal screen, so seeing it proves the switch back.
    let screen = wait_for(tmux, run, "the exit marker on the screen", |screen| {
        screen.contains("EXITED:0").then(|| screen.to_string())
    });
    assert!(
        !shows_header(&screen),
        "the dashboard is still on screen after exit:\n{screen}"
    );
    assert_eq!(
        must(tmux.display("#{alternate_on}")),
        "0",
        "alternate screen left"
    );
    // The mouse reporting the dashboard turned on must be off again, or clicks in the
    // shell would type escape sequences.
    assert_eq!(
        must(tmux.display("#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}")),
        "000",
        "mouse reporting left on"
    );
    assert_eq!(
        must(tmux.display("#{cursor_flag}")),
        "1",
        "cursor left hidden"
    );
    // Raw mode is a setting of the terminal device, which tmux cannot see: the shell
    // recorded `stty -a` after probetop exited.
    let stty = wait_for(tmux, run, "the stty settings", |_| run.file("stty"));
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            flags.contains(&flag),
            "the terminal is still in raw mode ({flag} is off): {stty}"
        );
    }
    screen
}

#[test]
fn dashboard_shows_exports_and_quits_cleanly() {
    let server = TestServer::start();
    let run = Run::new(&server);
    let mut tmux = must(Tmux::new("e2e-quit"));
    let shown_p50 = start_dashboard(&mut tmux, &run);
    assert!(
        (15.0..200.0).contains(&shown_p50),
        "the screen's p50 of a 20 ms endpoint is {shown_p50}"
    );

    must(tmux.send_key("e"));
    wait_for(&tmux, &run, "the export status and files", |screen| {
        let status = screen
            .lines()
            .any(|l| l.trim_start().starts_with("exported"));
        if status { run.exports() } else { None }
    });
    let (json_path, csv_path) = run.exports().expect("both export files");

    let text = std::fs::read_to_string(&json_path).expect("reading the JSON export");
    let snapshot: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the JSON export does not parse ({e}):\n{text}"));
    let endpoints = snapshot["endpoints"].as_array().expect("endpoints array");
    assert_eq!(endpoints.len(), 2, "{snapshot:#}");
    let ok = support::endpoint(&snapshot, OK_NAME);
    let probes = support::count(ok, "probes");
    assert!(probes > 0, "{ok:#}");
    assert_eq!(support::count(ok, "ok"), probes, "{ok:#}");
    let p50 = ok["latency_ms"]["p50"].as_f64().expect("latency_ms.p50");
    // 20 ms of server delay, plus loopback and a debug build on a busy machine.
    assert!((20.0..=40.0).contains(&p50), "p50 {p50} ms: {ok:#}");
    let fail = support::endpoint(&snapshot, FAIL_NAME);
    let fail_probes = support::count(fail, "probes");
    assert!(fail_probes > 0, "{fail:#}");
    assert_eq!(
        fail["errors"]["status"].as_u64(),
        Some(fail_probes),
        "{fail:#}"
    );
    assert_eq!(
        fail["status_codes"]["503"].as_u64(),
        Some(fail_probes),
        "{fail:#}"
    );

    let mut reader = csv::Reader::from_path(&csv_path).expect("opening the CSV export");
    let header = reader.headers().expect("CSV header").clone();
    let name_at = header
        .iter()
        .position(|h| h == "name")
        .expect("name column");
    let probes_at = header
        .iter()
        .position(|h| h == "probes")
        .expect("probes column");
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("CSV rows");
    assert_eq!(rows.len(), 2, "CSV rows: {rows:?}");
    for row in &rows {
        let name = &row[name_at];
        let in_json = support::count(support::endpoint(&snapshot, name), "probes");
        assert_eq!(row[probes_at], in_json.to_string(), "probes of {name}");
    }

    must(tmux.send_key("q"));
    assert_exited_cleanly(&tmux, &run);
}

/// Starts the dashboard, sends it `signal` from outside, and checks it exits 0 with
/// the terminal restored; returns the run, for what it left behind, and the screen
/// after the exit.
fn signal_exits_zero_and_restores_the_terminal(signal: libc::c_int, tag: &str) -> (Run, String) {
    let server = TestServer::start();
    signal_run_and_check_the_exit(Run::new(&server), signal, tag)
}

/// [`signal_exits_zero_and_restores_the_terminal`] for a prepared `run` (its
/// server kept running by the caller).
fn signal_run_and_check_the_exit(run: Run, signal: libc::c_int, tag: &str) -> (Run, String) {
    let mut tmux = must(Tmux::new(tag));
    // Numbers on screen mean several loop turns have passed, so the signal handler
    // is installed by now.
    start_dashboard(&mut tmux, &run);

    let pid: libc::pid_t = run
        .file("pid")
        .and_then(|text| text.trim().parse().ok())
        .expect("the pid file");
    // The pid must still be probetop's: never signal a stranger.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "probetop", "pid {pid} is not probetop");
    // SAFETY: kill(2) with a valid signal number has no memory-safety preconditions.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());

    let screen = assert_exited_cleanly(&tmux, &run);
    (run, screen)
}

#[test]
fn sigterm_exits_zero_and_restores_the_terminal() {
    let (run, _) = signal_exits_zero_and_restores_the_terminal(libc::SIGTERM, "e2e-sigterm");
    // A deliberate stop, not a lost terminal: nothing written unasked.
    assert!(run.exports().is_none(), "SIGTERM wrote a snapshot");
}

/// The terminal closing (an ssh session dropped) must not leave it raw, and loses
/// nothing measured: the final snapshot is in the export directory.
#[test]
fn sighup_exits_zero_and_restores_the_terminal() {
    let (run, _) = signal_exits_zero_and_restores_the_terminal(libc::SIGHUP, "e2e-sighup");
    let (json, _csv) = run.exports().expect("the final snapshot after SIGHUP");
    assert_final_snapshot(&json);
}

/// The snapshot at `path` parses and holds probes of both endpoints.
fn assert_final_snapshot(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).expect("reading the final snapshot");
    let snapshot: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the final snapshot does not parse ({e}):\n{text}"));
    for name in [OK_NAME, FAIL_NAME] {
        let entry = support::endpoint(&snapshot, name);
        assert!(support::count(entry, "probes") > 0, "{entry:#}");
    }
}

/// The pane's process, if it is still alive (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|s| s.starts_with('Z'))
    })
}

/// A dashboard whose terminal disappears (its tmux session killed: the pty hangs up,
/// SIGHUP, reads fail) writes its final snapshot and ends.
#[test]
fn a_dashboard_that_loses_its_terminal_writes_a_final_snapshot_and_exits() {
    lose_the_terminal(false, "e2e-lost");
}

/// With `[export] on_exit` too, and then one snapshot only: the exit snapshot.
#[test]
fn a_dashboard_that_loses_its_terminal_with_on_exit_writes_one_snapshot() {
    let run = lose_the_terminal(true, "e2e-lost-on-exit");
    let snapshots = std::fs::read_dir(run.path("exports"))
        .expect("the export directory")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(snapshots, 1, "log:\n{}", run.log());
}

/// Starts the dashboard (with `[export] on_exit` if asked), kills its tmux session
/// and checks that it ends with its final snapshot written; returns the run.
fn lose_the_terminal(on_exit: bool, tag: &str) -> Run {
    let server = TestServer::start();
    let run = Run::new(&server);
    if on_exit {
        let path = run.path("probetop.toml");
        let config = std::fs::read_to_string(&path).expect("reading the config");
        let config = config.replace("dir = \"exports\"\n", "dir = \"exports\"\non_exit = true\n");
        assert!(config.contains("on_exit = true"), "{config}");
        std::fs::write(&path, config).expect("writing the config");
    }
    let mut tmux = must(Tmux::new(tag));
    start_dashboard(&mut tmux, &run);
    let pid: u32 = run
        .file("pid")
        .and_then(|text| text.trim().parse().ok())
        .expect("the pid file");
    assert!(alive(pid), "probetop is not running");
    assert!(
        run.exports().is_none(),
        "exported before the terminal went away"
    );

    let output = must(support::tmux::run_bounded(
        tmux.command()
            .args(["kill-session", "-t", support::tmux::SESSION]),
        "tmux kill-session",
    ));
    assert!(
        output.status.success(),
        "kill-session: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let deadline = Instant::now() + WAIT_LIMIT;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(POLL_STEP);
    }
    assert!(
        !alive(pid),
        "probetop still runs {WAIT_LIMIT:?} after its terminal went away; log:\n{}",
        run.log()
    );
    let (json, csv) = run
        .exports()
        .unwrap_or_else(|| panic!("no final snapshot; log:\n{}", run.log()));
    assert_final_snapshot(&json);
    assert!(std::fs::metadata(csv).is_ok_and(|m| m.len() > 0));
    run
}

/// Ctrl-\ must not leave the terminal raw either, and it is "quit and dump": the
/// final snapshot is in the export directory, and the restored terminal says where.
#[test]
fn sigquit_exits_zero_restores_the_terminal_and_writes_the_final_snapshot() {
    let (run, screen) = signal_exits_zero_and_restores_the_terminal(libc::SIGQUIT, "e2e-sigquit");
    let (json, csv) = run
        .exports()
        .unwrap_or_else(|| panic!("no final snapshot after SIGQUIT; log:\n{}", run.log()));
    assert_final_snapshot(&json);
    assert!(std::fs::metadata(&csv).is_ok_and(|m| m.len() > 0));
    // Said on the restored terminal, above the shell's next line (not overwritten
    // by it), naming the file written.
    let stem = json
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a file stem");
    let lines: Vec<&str> = screen.lines().collect();
    let said = lines.iter().position(|l| {
        l.starts_with("probetop: SIGQUIT: final snapshot exported") && l.contains(stem)
    });
    let exited = lines.iter().position(|l| l.contains("EXITED:0"));
    assert!(
        matches!((said, exited), (Some(said), Some(exited)) if said < exited),
        "the final snapshot's line is missing or misplaced:\n{screen}"
    );
}

/// With `[export] on_exit`, SIGQUIT's final snapshot is the exit snapshot: one
/// snapshot for the run, not two.
#[test]
fn sigquit_with_on_exit_writes_one_snapshot() {
    let server = TestServer::start();
    let run = Run::new(&server);
    let path = run.path("probetop.toml");
    let config = std::fs::read_to_string(&path).expect("reading the config");
    let config = config.replace("dir = \"exports\"\n", "dir = \"exports\"\non_exit = true\n");
    assert!(config.contains("on_exit = true"), "{config}");
    std::fs::write(&path, config).expect("writing the config");
    let (run, screen) = signal_run_and_check_the_exit(run, libc::SIGQUIT, "e2e-sigquit-on-exit");
    let (json, _csv) = run
        .exports()
        .unwrap_or_else(|| panic!("no snapshot after SIGQUIT; log:\n{}", run.log()));
    assert_final_snapshot(&json);
    let snapshots: Vec<_> = std::fs::read_dir(run.path("exports"))
        .expect("the export directory")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| e.file_name())
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert!(
        screen.contains("probetop: exit snapshot written"),
        "{screen}"
    );
    assert!(!screen.contains("SIGQUIT: final snapshot"), "{screen}");
}

#[test]
fn an_endpoint_going_down_rings_the_bell_unless_it_is_off() {
    let server = TestServer::start();
    for bell in [true, false] {
        let run = Run::new(&server);
        if !bell {
            let path = run.path("probetop.toml");
            let mut config = std::fs::read_to_string(&path).expect("reading the config");
            config.push_str("\n[ui]\nbell = false\n");
            std::fs::write(&path, config).expect("writing the config");
        }
        let mut tmux = must(Tmux::new("e2e-bell"));
        start_dashboard(&mut tmux, &run);
        // The always-503 endpoint is down from its first probe; the bell rings with
        // the fetch that shows it, before the frame that draws it.
        wait_for(&tmux, &run, "the header's down count", |screen| {
            screen.contains("1 down").then_some(())
        });
        // tmux flags a bell in a window nobody is attached to.
        let flag = if bell {
            wait_for(&tmux, &run, "the bell", |_| {
                let flag = must(tmux.display("#{window_bell_flag}"));
                (flag == "1").then_some(flag)
            })
        } else {
            // Nothing to wait for: a few refreshes' time for a bell that should not come.
            std::thread::sleep(Duration::from_secs(1));
            must(tmux.display("#{window_bell_flag}"))
        };
        assert_eq!(flag, if bell { "1" } else { "0" }, "bell = {bell}");
        must(tmux.send_key("q"));
        assert_exited_cleanly(&tmux, &run);
    }
}

/// `[ui] bell` changed by a reload holds from the next frame: turned off, an
/// endpoint going down rings nothing; turned on again, the next one rings.
#[test]
fn a_reload_turns_the_bell_off_and_on_again() {
    let server = TestServer::start();
    let run = Run::new(&server);
    let path = run.path("probetop.toml");
    let endpoints = |bell: bool, steady: bool| {
        let mut config = format!(
            "[defaults]\ninterval = \"200ms\"\ntimeout = \"2s\"\n\n[ui]\nbell = {bell}\n\n[[endpoint]]\nname = \"flipper\"\nurl = \"{}\"\n",
            server.url("/flip")
        );
        if steady {
            let steady = server.url("/delay/20");
            config.push_str(&format!(
                "\n[[endpoint]]\nname = \"steady\"\nurl = \"{steady}\"\n"
            ));
        }
        config
    };
    std::fs::write(&path, endpoints(true, false)).expect("writing the config");
    let mut tmux = must(Tmux::new("e2e-bell-reload"));
    must(tmux.start(run.dir.path(), SIZE, &run.shell_command()));
    let probed = |screen: &str, name: &str| {
        row_cells(screen, name)
            .and_then(|cells| cells.get(6)?.parse::<u64>().ok())
            .is_some_and(|probes| probes > 0)
    };
    wait_for(&tmux, &run, "the endpoint up", |screen| {
        (probed(screen, "flipper") && screen.contains("1 up")).then_some(())
    });
    let bell_flag = || must(tmux.display("#{window_bell_flag}"));
    assert_eq!(bell_flag(), "0", "no endpoint went down yet");

    std::fs::write(&path, endpoints(false, false)).expect("writing the config");
    wait_for(&tmux, &run, "the reload with the bell off", |screen| {
        screen
            .contains("config reloaded: 1 endpoint (1 kept")
            .then_some(())
    });
    server.set_flip(503);
    wait_for(&tmux, &run, "the endpoint down", |screen| {
        screen.contains("1 down").then_some(())
    });
    // Nothing to wait for: a few refreshes' time for a bell that should not come.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        bell_flag(),
        "0",
        "the bell rang after a reload turned it off"
    );

    // On again (and an endpoint added, so that the status line tells the reloads
    // apart): the next endpoint going down rings.
    std::fs::write(&path, endpoints(true, true)).expect("writing the config");
    wait_for(&tmux, &run, "the reload with the bell on", |screen| {
        screen
            .contains("config reloaded: 2 endpoints (1 kept, 1 added")
            .then_some(())
    });
    server.set_flip(200);
    wait_for(&tmux, &run, "both endpoints up", |screen| {
        (probed(screen, "steady") && screen.contains("2 up")).then_some(())
    });
    server.set_flip(503);
    let flag = wait_for(&tmux, &run, "the bell", |_| {
        let flag = bell_flag();
        (flag == "1").then_some(flag)
    });
    assert_eq!(flag, "1");
    must(tmux.send_key("q"));
    assert_exited_cleanly(&tmux, &run);
}
