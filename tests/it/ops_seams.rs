//! Where the live-operations features meet, through the real binary against
//! loopback servers: a reload and the alerting (an added endpoint alerts under its
//! own name and URL, a removed or renamed one never under its old name), a reload and
//! the canaries (adding one starts excusing, removing the only one stops it), a
//! reload and the event log (state-change lines name the endpoint by id, not by
//! position), a reload and the snapshots written at exit (`[export] on_exit`, the
//! dashboard's final export), a reload and `[[alert]]` (checked with the config,
//! applied at start only), and `excused` carried by `--resume` and summed by `merge`.
//!
//! Every wait polls up to [`WAIT_LIMIT`]: a loaded 2-core machine may stall a debug
//! binary for seconds, and nothing here measures time.

use crate::alerts::{env_script, pages};
use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::live::{Headless, wait_for, wait_screen};
use support::tmux::{Tmux, probetop_in_pane};
use support::{TestServer, count, endpoint, free_port, get_metrics, names, probetop};

/// The pages about `name`, as `(state, previous)`.
fn pages_of(path: &Path, name: &str) -> Vec<(String, String)> {
    pages(path)
        .into_iter()
        .filter(|p| p["endpoint"] == name)
        .map(|p| (p["state"].clone(), p["previous"].clone()))
        .collect()
}

/// One `[[endpoint]]` table, probed every 100 ms, down after one failure.
fn endpoint_toml(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[endpoint]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"100ms\"\n\
         timeout = \"1s\"\ndown_after = 1\n{extra}\n"
    )
}

/// A URL nothing listens on (a port that was free a moment ago): refused.
fn refused_url() -> String {
    format!("http://127.0.0.1:{}/refused", free_port())
}

/// The count of `probetop_probes_total` for `name` and `result` in a scrape (0
/// when the series is absent), or `None` before the endpoint is there at all.
fn probes_total(metrics: &str, name: &str, result: &str) -> Option<u64> {
    let endpoint = format!("probetop_probes_total{{endpoint=\"{name}\",");
    if !metrics.lines().any(|l| l.starts_with(&endpoint)) {
        return None;
    }
    let series = format!("{endpoint}result=\"{result}\"}} ");
    Some(
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0),
    )
}

/// The failed probes of `name` in a scrape, every class together.
fn failures(metrics: &str, name: &str) -> Option<u64> {
    probes_total(metrics, name, "ok")?;
    let prefix = format!("probetop_probes_total{{endpoint=\"{name}\",result=\"");
    Some(
        metrics
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter(|rest| !rest.starts_with("ok\"") && !rest.starts_with("excused\""))
            .filter_map(|rest| rest.rsplit(' ').next()?.trim().parse::<u64>().ok())
            .sum(),
    )
}

/// The endpoints' names in a snapshot, in order.
/// The lines of the event log (`probetop::endpoint`), from after `marker`.
fn endpoint_lines_after<'a>(log: &'a str, marker: &str) -> Vec<&'a str> {
    let from = log
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in the log:\n{log}"));
    log[from..]
        .lines()
        .filter_map(|l| l.split_once("probetop::endpoint: ").map(|(_, text)| text))
        .collect()
}

#[test]
fn after_a_reload_alerts_and_the_log_name_added_endpoints_and_never_removed_ones() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let script = env_script(dir.path());
    let out = dir.path().join("pages.txt");
    let alert = format!(
        "[[alert]]\non = [\"down\", \"up\"]\ncommand = [\"{}\", \"{}\"]\n\n",
        script.display(),
        out.display()
    );
    let export = "[export]\ndir = \"exports\"\nformats = [\"json\", \"csv\"]\non_exit = true\n\n";
    let flip = server.url("/flip");
    let before = format!(
        "{export}{}{}{alert}",
        endpoint_toml("keep", &server.url("/keep"), ""),
        endpoint_toml("old", &flip, ""),
    );
    let config = dir.path().join("probetop.toml");
    std::fs::write(&config, before).unwrap();
    let run = Headless::start(dir.path(), &[]);
    run.wait_metrics("keep and old probing", |m| {
        (probes_total(m, "keep", "ok")? >= 2 && probes_total(m, "old", "ok")? >= 2).then_some(())
    });
    // `old` goes down and up again: alerts about it are delivered and kept.
    server.set_flip(503);
    wait_for(
        "old's down alert",
        || (!pages_of(&out, "old").is_empty()).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );
    server.set_flip(0);
    wait_for(
        "old's up alert",
        || (pages_of(&out, "old").len() >= 2).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );

    // `old` is renamed (a removal and an addition on the same route), `added` comes
    // first on a port nothing listens on; every position moves, ids do not.
    let added_url = refused_url();
    let after = format!(
        "{export}{}{}{}{alert}",
        endpoint_toml("added", &added_url, ""),
        endpoint_toml("keep", &server.url("/keep"), ""),
        endpoint_toml("renamed", &flip, ""),
    );
    std::fs::write(&config, after).unwrap();
    let report = run.wait_stderr("config reloaded", 0);
    assert!(
        report[0].contains("3 endpoints (1 kept, 2 added, 1 removed)"),
        "{report:?}"
    );
    // Unchanged: the report names no start-only key.
    assert!(!report[0].contains("applies only at start"), "{report:?}");
    wait_for(
        "the added endpoint's down alert",
        || (!pages_of(&out, "added").is_empty()).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );
    run.wait_metrics("renamed probing ok", |m| {
        (probes_total(m, "renamed", "ok")? >= 1).then_some(())
    });
    // Down on the route `old` had: only `renamed` may tell of it.
    server.set_flip(503);
    wait_for(
        "the renamed endpoint's down alert",
        || (!pages_of(&out, "renamed").is_empty()).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );
    server.set_flip(0);
    wait_for(
        "the renamed endpoint's up alert",
        || (pages_of(&out, "renamed").len() >= 2).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );
    let snapshot = run.finish();

    let all = pages(&out);
    let added = all.iter().find(|p| p["endpoint"] == "added").unwrap();
    assert_eq!(added["url"], added_url, "{all:#?}");
    assert_eq!(
        (added["state"].as_str(), added["previous"].as_str()),
        ("down", "unknown"),
        "{all:#?}"
    );
    assert!(added["reason"].contains("refused"), "{all:#?}");
    let renamed = all.iter().find(|p| p["endpoint"] == "renamed").unwrap();
    assert_eq!(renamed["url"], flip, "{all:#?}");
    assert_eq!(
        pages_of(&out, "renamed"),
        [("down".into(), "up".into()), ("up".into(), "down".into())],
        "a renamed endpoint starts afresh: its first up is quiet"
    );
    assert_eq!(
        pages_of(&out, "old"),
        [("down".into(), "up".into()), ("up".into(), "down".into())],
        "nothing about old after the reload"
    );
    assert!(pages_of(&out, "keep").is_empty(), "{all:#?}");

    // The snapshot's deliveries name the endpoints by their new positions; old's
    // left with it.
    let mut delivered: Vec<(&str, &str)> = snapshot["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["endpoint"].as_str().unwrap(),
                a["state"].as_str().unwrap(),
            )
        })
        .collect();
    delivered.sort_unstable();
    assert_eq!(
        delivered,
        [("added", "down"), ("renamed", "down"), ("renamed", "up")],
        "{:#}",
        snapshot["alerts"]
    );
    assert_eq!(names(&snapshot), ["added", "keep", "renamed"]);
    let renamed = endpoint(&snapshot, "renamed");
    let from_to: Vec<(&str, &str)> = renamed["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        from_to,
        [("unknown", "up"), ("up", "down"), ("down", "up")],
        "{renamed:#}"
    );
    assert_eq!(count(endpoint(&snapshot, "keep"), "failed"), 0);

    // The log's state-change lines after the reload name the endpoints by id.
    let log = std::fs::read_to_string(dir.path().join("probetop.log")).unwrap();
    let lines = endpoint_lines_after(&log, "config reloaded");
    let starts = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(starts("added: unknown -> down: "), 1, "{lines:#?}");
    assert_eq!(starts("renamed: up -> down: status: "), 1, "{lines:#?}");
    // Only old's line held back by the 10 s limit may come after: it is written
    // when old is removed, and the reload's report may overtake it.
    assert!(
        lines.iter().all(|l| !l.starts_with("keep:")
            && (!l.starts_with("old:") || l.starts_with("old: down -> up (at "))),
        "{lines:#?}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("old: down -> up"))
            .count(),
        1,
        "old's recovery is logged, once: {log}"
    );

    // `[export] on_exit`: the reloaded set, each with its own numbers.
    let exit = exported(&dir.path().join("exports"));
    assert_eq!(exit.len(), 1, "one exit snapshot");
    assert_eq!(names(&exit[0]), ["added", "keep", "renamed"]);
    let added = endpoint(&exit[0], "added");
    assert_eq!(
        (count(added, "ok"), added["url"].as_str()),
        (0, Some(added_url.as_str()))
    );
    let csv = csv_column(&dir.path().join("exports"), "interval_ms");
    assert_eq!(csv, ["100", "100", "100"], "the CSV's interval_ms column");
}

/// The JSON snapshots in `dir`, by name.
fn exported(dir: &Path) -> Vec<serde_json::Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// Column `name` of the one CSV export in `dir`.
fn csv_column(dir: &Path, name: &str) -> Vec<String> {
    let path = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a CSV export");
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == name).expect("the column");
    reader
        .records()
        .map(|r| r.unwrap()[at].to_string())
        .collect()
}

#[test]
fn a_reload_that_removes_the_only_canary_ends_the_excusing_and_one_that_adds_a_canary_starts_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = env_script(dir.path());
    let out = dir.path().join("pages.txt");
    let alert = format!(
        "[[alert]]\nendpoints = [\"api\"]\nrepeat = \"1s\"\ncommand = [\"{}\", \"{}\"]\n\n",
        script.display(),
        out.display()
    );
    let api = endpoint_toml("api", &refused_url(), "");
    let canary = |name: &str| endpoint_toml(name, &refused_url(), "canary = true");
    let config = dir.path().join("probetop.toml");
    std::fs::write(&config, format!("{}{api}{alert}", canary("gateway"))).unwrap();
    let run = Headless::start(dir.path(), &[]);
    let failed = |m: &str| failures(m, "api");
    let excused = |m: &str| probes_total(m, "api", "excused");

    // Every canary fails: api's failures are excused.
    run.wait_metrics("api excused", |m| (excused(m)? >= 3).then_some(()));

    // The only canary removed: nothing is left to excuse a failure.
    std::fs::write(&config, format!("{api}{alert}")).unwrap();
    run.wait_stderr("config reloaded", 0);
    let counted = run.wait_metrics("api's failures counted", |m| {
        let failed = failed(m)?;
        // Without canaries there is no verdict to report.
        (failed >= 3 && !m.contains("probetop_local_network_down")).then_some(failed)
    });
    let scrape = get_metrics(run.port).unwrap_or_default();
    assert!(
        scrape.contains(r#"probetop_probes_total{endpoint="api",result="excused"}"#),
        "a counter that counted stays: {scrape}"
    );
    // Its state moves again: the alert fires, and its reminders come.
    wait_for(
        "api's down alert and a reminder",
        || (pages_of(&out, "api").len() >= 2).then_some(()),
        || format!("{:#?}\n{}", pages(&out), run.stderr()),
    );
    // Its first page tells of down (whether api went down before the canary's first
    // failure was recorded or after the reload), and a reminder follows.
    let api_pages = pages_of(&out, "api");
    assert_eq!(
        api_pages[0],
        ("down".to_string(), "unknown".to_string()),
        "{:#?}",
        pages(&out)
    );
    assert!(
        api_pages[1..].contains(&("down".to_string(), "down".to_string())),
        "{:#?}",
        pages(&out)
    );

    // A canary again, failing: api's failures are excused from its first failure on.
    std::fs::write(&config, format!("{api}{}{alert}", canary("gateway2"))).unwrap();
    run.wait_stderr("config reloaded", 1);
    let (frozen, from) = run.wait_metrics("api excused again", |m| {
        let (failed, excused) = (failed(m)?, excused(m)?);
        m.contains("probetop_local_network_down 1")
            .then_some((failed, excused))
    });
    assert!(frozen >= counted, "{frozen} < {counted}");
    run.wait_metrics("more of api's failures excused", |m| {
        let (failed, excused) = (failed(m)?, excused(m)?);
        assert_eq!(failed, frozen, "a failure counted while every canary fails");
        (excused >= from + 5).then_some(())
    });
    let snapshot = run.finish();
    let api = endpoint(&snapshot, "api");
    assert_eq!(count(api, "failed"), frozen, "{api:#}");
    assert_eq!(
        count(api, "ok") + count(api, "failed") + count(api, "excused"),
        count(api, "probes"),
        "{api:#}"
    );
    assert_eq!(snapshot["local_network"]["down"], true);
    assert_eq!(snapshot["local_network"]["canaries"], 1);
    let log = std::fs::read_to_string(dir.path().join("probetop.log")).unwrap();
    assert!(
        log.contains("no canary left after the reload: local network up"),
        "{log}"
    );
}

#[test]
fn a_reload_whose_alerts_name_a_removed_endpoint_is_refused_and_changed_alerts_are_reported() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let alert =
        |names: &str| format!("[[alert]]\nendpoints = [{names}]\ncommand = [\"/bin/true\"]\n\n");
    let (x, y) = (
        endpoint_toml("x", &server.url("/x"), ""),
        endpoint_toml("y", &server.url("/y"), ""),
    );
    let config = dir.path().join("probetop.toml");
    std::fs::write(&config, format!("{x}{y}{}", alert("\"x\""))).unwrap();
    let run = Headless::start(dir.path(), &[]);
    run.wait_metrics("x probing", |m| probes_total(m, "x", "ok"));

    // x removed, the alert still naming it: refused whole, like at start.
    std::fs::write(&config, format!("{y}{}", alert("\"x\""))).unwrap();
    let refused = run.wait_stderr("reload refused", 0);
    let stderr = run.stderr();
    let report = &stderr[stderr.find(&refused[0]).unwrap()..];
    assert!(report.contains("(key `alert[0].endpoints[0]`)"), "{report}");
    assert!(report.contains("probetop.toml:9:14"), "{report}");
    assert!(report.contains("no endpoint is named \"x\""), "{report}");
    let seen = run.wait_metrics("x still probing", |m| probes_total(m, "x", "ok"));
    run.wait_metrics("x probing on after the refusal", |m| {
        (probes_total(m, "x", "ok")? > seen).then_some(())
    });

    // x removed and the alert changed with it: applied, alerts included, and the
    // report says so.
    std::fs::write(&config, format!("{y}{}", alert("\"y\""))).unwrap();
    let reloaded = run.wait_stderr("config reloaded", 0);
    assert!(
        reloaded[0].contains("1 endpoint (1 kept, 0 added, 1 removed)")
            && reloaded[0].contains("[[alert]] applied"),
        "{reloaded:?}"
    );
    assert!(run.log().contains("[[alert]] applied"));
    run.wait_metrics("x gone", |m| {
        probes_total(m, "x", "ok").is_none().then_some(())
    });
    assert_eq!(names(&run.finish()), ["y"]);
}

/// A headless run of `config` in `dir` for `duration`, with `args`; its snapshot.
fn snapshot_of(dir: &Path, config: &str, args: &[&str]) -> serde_json::Value {
    std::fs::write(dir.join("probetop.toml"), config).unwrap();
    support::headless(dir, args)
}

#[test]
fn resume_continues_excused_and_merge_sums_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}{}",
        endpoint_toml("gateway", &refused_url(), "canary = true"),
        endpoint_toml("api", &refused_url(), "")
    );
    let first = snapshot_of(
        dir.path(),
        &config,
        &["--duration", "2s", "--vantage", "eu-1"],
    );
    let excused = |s: &serde_json::Value| count(endpoint(s, "api"), "excused");
    assert!(excused(&first) >= 3, "{first:#}");
    std::fs::write(dir.path().join("first.json"), first.to_string()).unwrap();

    let resumed = snapshot_of(
        dir.path(),
        &config,
        &[
            "--duration",
            "1s",
            "--vantage",
            "eu-1",
            "--resume",
            "first.json",
        ],
    );
    let (before, after) = (endpoint(&first, "api"), endpoint(&resumed, "api"));
    assert!(excused(&resumed) > excused(&first), "{after:#}");
    assert!(
        count(after, "failed") >= count(before, "failed"),
        "{after:#}"
    );
    assert_eq!(
        count(after, "ok") + count(after, "failed") + count(after, "excused"),
        count(after, "probes"),
        "{after:#}"
    );

    // Another vantage point; the merge adds both runs' excused probes.
    let other = snapshot_of(
        dir.path(),
        &config,
        &["--duration", "1s", "--vantage", "us-2"],
    );
    assert!(excused(&other) >= 1, "{other:#}");
    std::fs::write(dir.path().join("eu-1.json"), resumed.to_string()).unwrap();
    std::fs::write(dir.path().join("us-2.json"), other.to_string()).unwrap();
    let output = support::run(
        probetop(dir.path()).args(["merge", "eu-1.json", "us-2.json"]),
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let merged: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let api = endpoint(&merged, "api");
    assert_eq!(
        count(api, "excused"),
        excused(&resumed) + excused(&other),
        "{api:#}"
    );
    assert_eq!(
        count(&api["vantages"]["eu-1"], "excused"),
        excused(&resumed)
    );
    assert_eq!(count(&api["vantages"]["us-2"], "excused"), excused(&other));
    assert_eq!(
        count(api, "ok") + count(api, "failed") + count(api, "excused"),
        count(api, "probes"),
        "{api:#}"
    );

    // The merge's Markdown has no canary verdict, yet shows the excused probes.
    let output = support::run(
        probetop(dir.path()).args(["merge", "--export-format", "md", "eu-1.json", "us-2.json"]),
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = String::from_utf8(output.stdout).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let head = md
        .lines()
        .find(|l| l.starts_with("| endpoint"))
        .expect("a table");
    let at = cells(head).iter().position(|c| c == "excused");
    let at = at.unwrap_or_else(|| panic!("no excused column:\n{md}"));
    let row = md
        .lines()
        .find(|l| l.starts_with("| api"))
        .expect("api's row");
    assert_eq!(cells(row)[at], count(api, "excused").to_string(), "{md}");
}

#[test]
fn the_dashboards_exit_snapshots_after_a_reload_hold_the_new_set() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let export = "[export]\ndir = \"exports\"\nformats = [\"json\"]\non_exit = true\n\n";
    let config = dir.path().join("probetop.toml");
    let healthy = |name: &str| endpoint_toml(name, &server.url(&format!("/{name}")), "");
    std::fs::write(
        &config,
        format!("{export}{}{}", healthy("alpha"), healthy("bravo")),
    )
    .unwrap();
    let q = |name: &str| dir.path().join(name);
    let command = format!(
        "{}; sleep 60",
        probetop_in_pane(&q("pid"), &config, &q("probetop.log"))
    );
    let mut tmux = Tmux::new("ops-seams-exit").unwrap_or_else(|e| panic!("{e:#}"));
    tmux.start(dir.path(), (120, 30), &command)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let screen = |what: &str, check: &dyn Fn(&str) -> bool| wait_screen(&tmux, what, check);
    screen("alpha and bravo", &|s| {
        s.contains("alpha") && s.contains("bravo")
    });

    // bravo removed, charlie added before alpha on a port nothing listens on.
    let c_url = refused_url();
    std::fs::write(
        &config,
        format!(
            "{export}{}{}",
            endpoint_toml("charlie", &c_url, ""),
            healthy("alpha")
        ),
    )
    .unwrap();
    screen("the reload", &|s| {
        s.contains("(1 kept, 1 added, 1 removed)")
    });
    // The terminal hangs up: with `[export] on_exit` the exit snapshot is the final
    // one (one file, not two).
    let pid: libc::pid_t = std::fs::read_to_string(q("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) with a valid signal on the probetop this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(
        "probetop to exit after the hang-up",
        // SAFETY: kill(2) with signal 0 only asks whether the process still exists.
        || (unsafe { libc::kill(pid, 0) } != 0).then_some(()),
        || std::fs::read_to_string(q("probetop.log")).unwrap_or_default(),
    );
    let snapshots = exported(&q("exports"));
    assert_eq!(
        snapshots.len(),
        1,
        "{}",
        std::fs::read_to_string(q("probetop.log")).unwrap_or_default()
    );
    for snapshot in &snapshots {
        assert_eq!(names(snapshot), ["charlie", "alpha"], "{snapshot:#}");
        let (c, a) = (endpoint(snapshot, "charlie"), endpoint(snapshot, "alpha"));
        assert_eq!(c["url"], c_url.as_str());
        assert_eq!(count(c, "ok"), 0, "charlie's numbers are its own: {c:#}");
        assert!(count(c, "failed") > 0, "{c:#}");
        assert!(count(a, "ok") > 0, "{a:#}");
        assert_eq!(count(a, "failed"), 0, "alpha's numbers are its own: {a:#}");
    }
}
