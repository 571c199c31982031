//! What a reload changes besides the endpoints, through the real binary against
//! loopback servers: an added `[[alert]]` runs at the next change of state and a
//! removed one no more (and neither fires for a state an endpoint was already in),
//! while a delivery it had under way finishes;
//! `[export]` changes what the next export and the exit snapshot write, and where;
//! `[metrics]` changes the next scrape; the window and the interval log stay as they
//! started, and the reload says so.
//!
//! The headless harness is `support::live`'s, shared with `tests/it/ops_seams.rs`;
//! the alert script and its pages are `tests/it/alerts.rs`'s.

use crate::alerts::{env_script, pages};
use crate::support;

use std::path::{Path, PathBuf};

use support::live::{Headless, wait_for, wait_screen};
use support::tmux::{Tmux, probetop_in_pane};
use support::{TestServer, count, endpoint, get_metrics};

/// One `[[endpoint]]` table, probed every 100 ms, down after one failure.
fn endpoint_toml(name: &str, url: &str) -> String {
    format!(
        "[[endpoint]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"100ms\"\n\
         timeout = \"1s\"\ndown_after = 1\n\n"
    )
}

/// Writes `run`'s config anew and waits for the reload report after the first
/// `seen` of them; returns it.
fn reload(run: &Headless, config: &str, seen: usize) -> String {
    std::fs::write(run.dir.join("probetop.toml"), config).expect("writing the config");
    wait_for(
        &format!("reload report {}", seen + 1),
        || {
            let stderr = run.stderr();
            let reports: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("config reloaded") || l.contains("reload refused"))
                .collect();
            reports.get(seen).map(|l| l.to_string())
        },
        || run.stderr(),
    )
}

/// The `/metrics` value of the series starting with `series` (its labels included).
fn value(metrics: &str, series: &str) -> Option<u64> {
    let line = metrics.lines().find(|l| l.starts_with(series))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// `(state, previous)` of each page the script wrote to `path`.
fn states(path: &Path) -> Vec<(String, String)> {
    pages(path)
        .into_iter()
        .map(|p| (p["state"].clone(), p["previous"].clone()))
        .collect()
}

#[test]
fn a_reload_that_adds_an_alert_runs_it_at_the_next_change_and_one_that_removes_it_stops_it() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let script = env_script(dir.path());
    let (first, second) = (dir.path().join("first.txt"), dir.path().join("second.txt"));
    let alert = |out: &Path| {
        format!(
            "[[alert]]\ncommand = [\"{}\", \"{}\"]\n\n",
            script.display(),
            out.display()
        )
    };
    let flappy = endpoint_toml("flappy", &server.url("/flip"));
    // No alert at start: the alerting starts idle, for a reload to give it some.
    std::fs::write(dir.path().join("probetop.toml"), &flappy).unwrap();
    let run = Headless::start(dir.path(), &[]);
    run.wait_metrics("flappy up", |m| {
        (value(m, "probetop_state{endpoint=\"flappy\",state=\"up\"}")? == 1).then_some(())
    });

    let report = reload(&run, &format!("{flappy}{}", alert(&first)), 0);
    assert!(
        report.contains("1 kept, 0 added, 0 removed") && report.contains("[[alert]] applied"),
        "{report}"
    );
    assert!(!report.contains("applies only at start"), "{report}");
    // The next change runs it.
    server.set_flip(503);
    wait_for(
        "the added alert's page",
        || (!states(&first).is_empty()).then_some(()),
        || run.stderr(),
    );

    // The first alert goes, a second comes, while flappy is down: nothing tells of
    // the down it is already in.
    let report = reload(&run, &format!("{flappy}{}", alert(&second)), 1);
    assert!(report.contains("[[alert]] applied"), "{report}");
    server.set_flip(0);
    wait_for(
        "the second alert's page of the recovery",
        || (!states(&second).is_empty()).then_some(()),
        || run.stderr(),
    );
    // Every delivery under way ends before the snapshot is printed.
    let snapshot = run.finish();
    assert_eq!(states(&first), [("down".into(), "up".into())]);
    assert_eq!(states(&second), [("up".into(), "down".into())]);
    let alerts = snapshot["alerts"].as_array().expect("alerts list");
    let told: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["state"].as_str().unwrap(), a["result"].as_str().unwrap()))
        .collect();
    assert_eq!(told, [("down", "ok"), ("up", "ok")], "{alerts:#?}");
    // flappy's statistics went through both reloads.
    let flappy = endpoint(&snapshot, "flappy");
    assert!(
        count(flappy, "ok") > 0 && count(flappy, "failed") > 0,
        "{flappy:#}"
    );
    assert_eq!(
        flappy["transitions"].as_array().unwrap().len(),
        3,
        "{flappy:#}"
    );
}

/// A script that writes `started` into the directory named by its first argument,
/// waits (at most 8 s, within the attempt's 10 s) until `go` appears there, then
/// writes `done` and exits 0.
fn gated_script(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("gated.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\n: > \"$1/started\"\ni=0\n\
         while [ ! -e \"$1/go\" ] && [ $i -lt 80 ]; do sleep 0.1; i=$((i+1)); done\n\
         : > \"$1/done\"\n",
    )
    .expect("writing the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("making the script executable");
    path
}

#[test]
fn a_delivery_under_way_when_a_reload_removes_its_alert_finishes() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let script = gated_script(dir.path());
    let flappy = endpoint_toml("flappy", &server.url("/flip"));
    let alert = format!(
        "[[alert]]\non = [\"down\"]\ncommand = [\"{}\", \"{}\"]\n\n",
        script.display(),
        dir.path().display()
    );
    std::fs::write(dir.path().join("probetop.toml"), format!("{flappy}{alert}")).unwrap();
    let run = Headless::start(dir.path(), &[]);
    run.wait_metrics("flappy up", |m| {
        (value(m, "probetop_state{endpoint=\"flappy\",state=\"up\"}")? == 1).then_some(())
    });
    server.set_flip(503);
    wait_for(
        "the delivery to start",
        || dir.path().join("started").exists().then_some(()),
        || run.stderr(),
    );
    // Removed while its command runs: the command is not killed for it.
    let report = reload(&run, &flappy, 0);
    assert!(report.contains("[[alert]] applied"), "{report}");
    assert!(
        !dir.path().join("done").exists(),
        "the gate is still closed"
    );
    std::fs::write(dir.path().join("go"), "").unwrap();
    wait_for(
        "the delivery to finish",
        || dir.path().join("done").exists().then_some(()),
        || run.stderr(),
    );
    let snapshot = run.finish();
    let alerts = snapshot["alerts"].as_array().expect("alerts list");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["result"], "ok", "{alerts:#?}");
    assert_eq!(alerts[0]["attempts"], 1, "{alerts:#?}");
}

/// The extensions of the files in `dir`, sorted (none when it does not exist).
fn extensions(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| Some(e.path().extension()?.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_reload_that_changes_export_changes_what_the_exit_snapshot_writes_and_where() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let one = endpoint_toml("one", &server.url("/1"));
    let export = |dir: &str, formats: &str| {
        format!("[export]\ndir = \"{dir}\"\nformats = [{formats}]\non_exit = true\n\n{one}")
    };
    std::fs::write(
        dir.path().join("probetop.toml"),
        export("first", "\"json\""),
    )
    .unwrap();
    let run = Headless::start(dir.path(), &[]);
    run.wait_metrics("one probing", |m| {
        (value(m, "probetop_probes_total{endpoint=\"one\",result=\"ok\"}")? > 0).then_some(())
    });
    // A directory that does not exist yet: made at the export, as at start.
    let report = reload(&run, &export("later/exports", "\"csv\", \"md\""), 0);
    assert!(report.contains("[export] applied"), "{report}");
    let snapshot = run.finish();
    assert!(count(endpoint(&snapshot, "one"), "probes") > 0);
    // In the new formats, with the JSON `--resume` reads; nothing where it was.
    assert_eq!(
        extensions(&dir.path().join("later/exports")),
        ["csv", "json", "md"]
    );
    assert!(!dir.path().join("first").exists());
}

#[test]
fn a_reload_that_turns_metrics_phases_on_and_off_changes_the_next_scrape() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let one = endpoint_toml("one", &server.url("/1"));
    let metrics = |phases: bool, buckets: &str| {
        format!("[metrics]\nphases = {phases}\nbuckets = [{buckets}]\n\n{one}")
    };
    std::fs::write(dir.path().join("probetop.toml"), metrics(false, "0.5, 1.0")).unwrap();
    let run = Headless::start(dir.path(), &[]);
    let scrape = run.wait_metrics("one probing", |m| {
        (value(m, "probetop_probes_total{endpoint=\"one\",result=\"ok\"}")? > 0)
            .then(|| m.to_string())
    });
    assert!(
        !scrape.contains("probetop_phase_duration_seconds"),
        "{scrape}"
    );
    assert!(!scrape.contains("le=\"0.0123\""), "{scrape}");

    let report = reload(&run, &metrics(true, "0.0123, 1.0"), 0);
    assert!(report.contains("[metrics] applied"), "{report}");
    // The very next scrape: the reload's report comes once its settings are sent.
    let scrape = get_metrics(run.port).expect("a scrape");
    let connect = "probetop_phase_duration_seconds_count{endpoint=\"one\",phase=\"connect\"}";
    assert!(value(&scrape, connect).is_some(), "{scrape}");
    assert!(
        scrape.contains("probetop_probe_duration_seconds_bucket{le=\"0.0123\",endpoint=\"one\"}"),
        "{scrape}"
    );
    assert!(!scrape.contains("le=\"0.5\""), "{scrape}");

    let report = reload(&run, &metrics(false, "0.0123, 1.0"), 1);
    assert!(report.contains("[metrics] applied"), "{report}");
    let scrape = get_metrics(run.port).expect("a scrape");
    assert!(
        !scrape.contains("probetop_phase_duration_seconds"),
        "{scrape}"
    );
    // Probing went on through both.
    assert!(
        value(
            &scrape,
            "probetop_probes_total{endpoint=\"one\",result=\"ok\"}"
        )
        .unwrap()
            > 0,
        "{scrape}"
    );
    run.finish();
}

#[test]
fn a_reload_that_changes_the_window_or_the_hlog_warns_and_keeps_them() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let one = endpoint_toml("one", &server.url("/1"));
    let config = |window: &str, hlog: &str, every: &str| {
        format!(
            "[defaults]\nwindow = \"{window}\"\n\n[export]\nhlog = \"{hlog}\"\n\
             hlog_interval = \"{every}\"\n\n{one}"
        )
    };
    std::fs::write(
        dir.path().join("probetop.toml"),
        config("1m", "run.hlog", "1s"),
    )
    .unwrap();
    let run = Headless::start(dir.path(), &[]);
    let logged = || {
        std::fs::read_to_string(dir.path().join("run.hlog"))
            .map(|l| l.matches("Tag=one,").count())
            .unwrap_or(0)
    };
    wait_for(
        "one in the hlog",
        || (logged() > 0).then_some(()),
        || run.stderr(),
    );

    let report = reload(&run, &config("5m", "other.hlog", "2s"), 0);
    assert!(
        report.contains("window, hlog changed but applies only at start: kept as it was"),
        "{report}"
    );
    // Only they: nothing else changed, nothing else is named.
    assert!(!report.contains("applied"), "{report}");
    // The log goes on in its file, at its interval; no other file is opened.
    let before = logged();
    wait_for(
        "more intervals in run.hlog",
        || (logged() >= before + 2).then_some(()),
        || run.stderr(),
    );
    assert!(!dir.path().join("other.hlog").exists());
    let snapshot = run.finish();
    assert_eq!(endpoint(&snapshot, "one")["window"]["seconds"], 60);
}

#[test]
fn a_reload_changes_what_the_dashboards_export_key_writes() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let one = endpoint_toml("one", &server.url("/1"));
    let config = dir.path().join("probetop.toml");
    std::fs::write(
        &config,
        format!("[export]\ndir = \"exports\"\nformats = [\"json\"]\n\n{one}"),
    )
    .unwrap();
    let q = |name: &str| dir.path().join(name);
    let command = format!(
        "{}; sleep 60",
        probetop_in_pane(&q("pid"), &config, &q("probetop.log"))
    );
    let mut tmux = Tmux::new("reload-live-export").unwrap_or_else(|e| panic!("{e:#}"));
    // Wide enough for the whole report, the temporary directory's path included.
    tmux.start(dir.path(), (220, 30), &command)
        .unwrap_or_else(|e| panic!("{e:#}"));
    wait_screen(&tmux, "the table", |s| s.contains("one"));

    // Another directory, not there yet, other formats; no bell.
    std::fs::write(
        &config,
        format!(
            "[export]\ndir = \"later\"\nformats = [\"csv\", \"md\"]\n\n[ui]\nbell = false\n\n{one}"
        ),
    )
    .unwrap();
    wait_screen(&tmux, "the reload on the status line", |s| {
        s.contains("[export], [ui] applied")
    });
    tmux.send_key("e").unwrap();
    wait_for(
        "the export in the new formats",
        || (extensions(&q("later")) == ["csv", "md"]).then_some(()),
        || std::fs::read_to_string(q("probetop.log")).unwrap_or_default(),
    );
    assert!(!q("exports").exists(), "nothing where exports went before");
    tmux.send_key("q").unwrap();
}
