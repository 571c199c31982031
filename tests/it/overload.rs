//! probetop honest under overload: fed ticks that fired late, or a statistics queue
//! held back, the statistics report it (snapshot `overload`, `stats_queue`, the
//! overview's notice, the timeout's message); in a run that keeps up, they read zero.

use std::time::{Duration, Instant};

use probetop::config::Endpoint;
use probetop::probe::{ErrorClass, ProbeOutcome};
use probetop::snapshot::{self, Snapshot};
use probetop::stats::{
    self, Clock, DEEP_QUEUE, EndpointRules, OverloadReason, Recorder, Sample, SampleKind,
    StatsHandle,
};
use probetop::ui::model::{self, OverviewData, Span};

const ENDPOINTS: usize = 4;

fn endpoints() -> Vec<Endpoint> {
    (0..ENDPOINTS)
        .map(|i| {
            let url = url::Url::parse(&format!("http://127.0.0.1:9/{i}")).unwrap();
            Endpoint::new(
                &format!("e{i}"),
                url,
                Duration::from_secs(1),
                Duration::from_secs(5),
            )
        })
        .collect()
}

/// A statistics thread whose clock started `ago` (so samples can fall in earlier
/// seconds of the run).
fn start(ago: Duration) -> (Recorder, StatsHandle, Clock) {
    let now = Instant::now();
    let clock = Clock {
        start: now - ago,
        start_wall: std::time::SystemTime::now() - ago,
    };
    let rules = vec![EndpointRules::default(); ENDPOINTS];
    let window = Duration::from_secs(60);
    let (recorder, handle, _thread) = stats::spawn(rules, window, window, clock).unwrap();
    (recorder, handle, clock)
}

fn ok() -> ProbeOutcome {
    ProbeOutcome {
        status: Some(200),
        latency: Some(Duration::from_millis(1)),
        ..ProbeOutcome::default()
    }
}

fn sample(endpoint: usize, at: Instant, lag: Duration, outcome: ProbeOutcome) -> Sample {
    Sample {
        endpoint,
        at,
        lag,
        kind: SampleKind::Probed(outcome),
    }
}

async fn read(handle: &StatsHandle) -> (Snapshot, OverviewData) {
    let endpoints = endpoints();
    handle
        .read(move |s| {
            (
                snapshot::build(&endpoints, s),
                model::overview(s, &endpoints, Span::OneMinute),
            )
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_run_that_keeps_up_reads_zero() {
    let (recorder, handle, clock) = start(Duration::from_secs(10));
    for second in 0..10 {
        for endpoint in 0..ENDPOINTS {
            let at = clock.start + Duration::from_secs(second) + Duration::from_millis(100);
            recorder.record(sample(endpoint, at, Duration::from_millis(2), ok()));
        }
    }
    let (snapshot, overview) = read(&handle).await;
    assert_eq!(snapshot.overload.seconds, 0);
    assert_eq!(snapshot.overload.late_ticks, 0);
    assert_eq!(snapshot.overload.max_lag_ms, 2.0);
    assert_eq!(overview.overload, None);
    assert_eq!(snapshot.stats_queue.depth, 0);
    let json: serde_json::Value = serde_json::from_str(&snapshot.to_json()).unwrap();
    assert_eq!(
        json["overload"],
        serde_json::json!({"seconds": 0, "late_ticks": 0, "max_lag_ms": 2.0})
    );
    assert!(json["stats_queue"]["max_depth"].as_u64().is_some());
}

#[tokio::test]
async fn late_ticks_are_reported_and_excuse_their_timeouts() {
    let (recorder, handle, clock) = start(Duration::from_secs(10));
    let late = Duration::from_millis(300);
    // Seconds 0 to 4 keep up; 8 and 9 and the current one fall behind.
    for second in 0..5 {
        for endpoint in 0..ENDPOINTS {
            let at = clock.start + Duration::from_secs(second);
            recorder.record(sample(endpoint, at, Duration::from_millis(1), ok()));
        }
    }
    for second in [8, 9] {
        for endpoint in 0..ENDPOINTS {
            let at = clock.start + Duration::from_secs(second);
            recorder.record(sample(endpoint, at, late, ok()));
        }
    }
    // A probe started 300 ms late timed out: probetop's lateness, said so.
    let timeout = ProbeOutcome::failed(ErrorClass::Timeout, "no response within 5s");
    recorder.record(sample(0, Instant::now(), late, timeout.clone()));
    // One started on time, but while probetop was overloaded: said so too.
    recorder.record(sample(1, Instant::now(), Duration::ZERO, timeout));
    let (snapshot, overview) = read(&handle).await;
    assert_eq!(snapshot.overload.seconds, 3, "{:?}", snapshot.overload);
    assert_eq!(snapshot.overload.late_ticks, 2 * ENDPOINTS as u64 + 1);
    assert_eq!(snapshot.overload.max_lag_ms, 300.0);
    assert_eq!(
        overview.overload,
        Some(OverloadReason::SchedulerLag { lag_ms: 300 })
    );
    let [late_one, on_time_one] = [0, 1].map(|i| overview.rows[i].last_result.clone());
    assert_eq!(
        late_one,
        "timeout: no response within 5s (probetop was overloaded: this probe started 300 ms late)"
    );
    assert_eq!(
        on_time_one,
        "timeout: no response within 5s — probetop was overloaded: \
         ticks fire late (scheduler lag 300 ms > 50 ms)"
    );
    // The class stays: counts and --fail-on mean what they meant.
    assert_eq!(snapshot.endpoints[0].errors.get("timeout"), Some(&1));
}

#[tokio::test]
async fn the_statistics_queue_depth_is_reported_and_a_deep_one_is_overload() {
    let (recorder, handle, _clock) = start(Duration::ZERO);
    // Hold the statistics thread in a read while samples pile up behind it.
    let (held, release) = (
        tokio::sync::oneshot::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (held_tx, held_rx) = held;
    let (release_tx, release_rx) = release;
    let stall = {
        let handle = handle.clone();
        tokio::spawn(async move {
            handle
                .read(move |_| {
                    held_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                })
                .await
        })
    };
    held_rx.await.unwrap();
    let queued = DEEP_QUEUE + 500;
    for k in 0..queued {
        let endpoint = (k % ENDPOINTS as u64) as usize;
        recorder.record(sample(endpoint, Instant::now(), Duration::ZERO, ok()));
    }
    release_tx.send(()).unwrap();
    stall.await.unwrap().unwrap();
    let (snapshot, overview) = read(&handle).await;
    // Behind the first sample waited all the others (and the read that follows).
    assert!(
        snapshot.stats_queue.max_depth >= queued - 1,
        "{:?}",
        snapshot.stats_queue
    );
    assert_eq!(
        snapshot.stats_queue.depth, 0,
        "drained by the time of the read"
    );
    assert!(snapshot.overload.seconds >= 1, "{:?}", snapshot.overload);
    assert_eq!(snapshot.overload.late_ticks, 0, "no tick was late");
    assert!(
        matches!(overview.overload, Some(OverloadReason::StatsQueue { depth }) if depth > DEEP_QUEUE),
        "{:?}",
        overview.overload
    );
}

/// A config of `n` endpoints on `server`, every 100 ms.
fn fast_config(server: &crate::support::TestServer, n: usize) -> String {
    let mut text = String::from("[defaults]\ninterval = \"100ms\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "\n[[endpoint]]\nname = \"e{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/e{i}"))
        ));
    }
    text
}

#[test]
fn the_real_binary_reads_zero_when_it_keeps_up() {
    let server = crate::support::TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    crate::support::write_config(dir.path(), &fast_config(&server, 3));
    let snapshot = crate::support::headless(dir.path(), &["--duration", "1500ms"]);
    assert_eq!(
        snapshot["overload"]["seconds"], 0,
        "{:#}",
        snapshot["overload"]
    );
    assert_eq!(snapshot["overload"]["late_ticks"], 0);
    assert!(snapshot["overload"]["max_lag_ms"].as_f64().unwrap() < 50.0);
    assert!(snapshot["stats_queue"]["depth"].as_u64().is_some());
    assert!(snapshot["stats_queue"]["max_depth"].as_u64().is_some());
}

#[test]
fn the_real_binary_says_when_its_scheduler_was_stalled() {
    let server = crate::support::TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    crate::support::write_config(dir.path(), &fast_config(&server, 5));
    let child = crate::support::probetop(dir.path())
        .args(["--headless", "--duration", "3s"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // Stopping the whole process stalls its scheduler as an overloaded machine
    // would, only more: every tick due meanwhile fires late.
    crate::support::signal(child.id(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1_200));
    crate::support::signal(child.id(), libc::SIGCONT);
    let output = crate::support::wait_bounded(child, Duration::from_secs(30));
    assert!(output.status.success(), "{output:?}");
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let overload = &snapshot["overload"];
    assert!(overload["seconds"].as_u64().unwrap() >= 1, "{overload:#}");
    assert!(
        overload["late_ticks"].as_u64().unwrap() >= 5,
        "{overload:#}"
    );
    assert!(
        overload["max_lag_ms"].as_f64().unwrap() >= 1_000.0,
        "{overload:#}"
    );
}

/// A run that cannot probe everything before its end still ends: 300 endpoints on
/// one host that never answers share 256 turns, so 44 probes due before the deadline
/// wait for a turn that comes only when the first 256 time out. They are given up
/// (counted as skipped, probetop's doing) a grace after the deadline plus their
/// timeout, instead of being sent late and holding the run for another timeout.
#[test]
fn a_run_ends_though_probes_still_wait_for_a_turn() {
    let server = crate::support::RawServer::start(b"", crate::support::Then::Hold);
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[defaults]\ninterval = \"60s\"\ntimeout = \"6s\"\n");
    for i in 0..300 {
        config.push_str(&format!(
            "\n[[endpoint]]\nname = \"e{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/e{i}"))
        ));
    }
    crate::support::write_config(dir.path(), &config);
    let started = Instant::now();
    let snapshot = crate::support::headless(dir.path(), &["--duration", "1s"]);
    let took = started.elapsed();
    let sum = |key: &str| -> u64 {
        snapshot["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[key].as_u64().unwrap())
            .sum()
    };
    // 256 sent and timed out; the 44 that never got a turn were skipped.
    assert_eq!((sum("failed"), sum("skipped")), (256, 44), "{took:?}");
    // Given up at 1 s + 6 s + 1 s; sending them late would end past 13 s.
    assert!(took < Duration::from_secs(12), "the run took {took:?}");
}
