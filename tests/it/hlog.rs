//! `--hlog`: the interval log, read back by the hdrhistogram crate's own log reader
//! (independent of probetop's writer), holds the same samples as the snapshot.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use support::{TestServer, count, headless_with, probetop, run};

#[test]
fn interval_log_totals_match_the_snapshot() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = headless_with(
        dir.path(),
        &format!(
            "[defaults]\ninterval = \"100ms\"\n\n[export]\nhlog = \"run.hlog\"\nhlog_interval = \"1s\"\n\n[[endpoint]]\nname = \"fast one\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"slow\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"refused\"\nurl = \"http://127.0.0.1:9/\"\n",
            server.url("/delay/1"),
            server.url("/delay/30"),
        ),
        &["--duration", "3s"],
    );
    let log = std::fs::read(dir.path().join("run.hlog")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("#[StartTime: "), "{text}");
    assert!(
        text.contains("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""),
        "{text}"
    );

    let mut totals: HashMap<String, u64> = HashMap::new();
    let mut intervals = 0;
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&log) {
        match entry.expect("a well-formed log line") {
            LogEntry::Interval(h) => {
                let tag = h
                    .tag()
                    .expect("every histogram is tagged")
                    .as_str()
                    .to_string();
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .unwrap();
                let histogram: hdrhistogram::Histogram<u64> =
                    deserializer.deserialize(&mut bytes.as_slice()).unwrap();
                *totals.entry(tag).or_default() += histogram.len();
                intervals += 1;
            }
            LogEntry::StartTime(_) | LogEntry::BaseTime(_) => {}
        }
    }
    // Three seconds at one-second intervals: several intervals per endpoint.
    assert!(intervals >= 6, "{intervals} intervals: {text}");
    for (name, tag) in [("fast one", "fast_one"), ("slow", "slow")] {
        let e = support::endpoint(&snapshot, name);
        let responses = count(e, "ok");
        assert_eq!(responses, 30, "{e:#}");
        assert_eq!(
            totals.get(tag).copied(),
            Some(responses),
            "{name}: {totals:?}"
        );
    }
    assert!(
        !totals.contains_key("refused"),
        "no responses, no histograms: {totals:?}"
    );
}

#[test]
fn an_unwritable_hlog_path_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("afile"), "").unwrap();
    let output = run(
        probetop(dir.path()).args([
            "--headless",
            "--duration",
            "1s",
            "--hlog",
            "afile/sub/run.hlog",
            "http://127.0.0.1:9/",
        ]),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot open the hlog file afile/sub/run.hlog"),
        "{stderr}"
    );
}
