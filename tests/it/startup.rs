//! Start-up and the final snapshot at scale, without changing what they produce: the
//! streamed JSON snapshot is the built one byte for byte, and its histograms (now
//! encoded from the compact form without building a histogram) decode with the
//! hdrhistogram crate to what was recorded.

use std::time::{Duration, Instant};

use probetop::config::{Endpoint, ExportFormat};
use probetop::probe::{ConnectionPhases, ErrorClass, ProbeOutcome};
use probetop::snapshot::{self, Render as _};
use probetop::stats::{self, Clock, EndpointRules, Sample, SampleKind, StatsStore};

fn endpoint(name: &str, url: &str) -> Endpoint {
    Endpoint::new(
        name,
        url::Url::parse(url).unwrap(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    )
}

fn ok(latency_us: u64, status: u16) -> ProbeOutcome {
    ProbeOutcome {
        status: Some(status),
        latency: Some(Duration::from_micros(latency_us)),
        ttfb: Some(Duration::from_micros(latency_us / 2)),
        transfer: Some(Duration::from_micros(latency_us / 3)),
        ..ProbeOutcome::default()
    }
}

/// The latencies recorded for the endpoint with many probes: from 90 µs to past 3 s,
/// so that its histogram is folded several times and grows after a fold.
fn spread() -> Vec<u64> {
    (0..300u64)
        .map(|i| 90 + (i * 7_919) % 40_000 + if i % 50 == 49 { 3_100_000 } else { 0 })
        .collect()
}

/// A finished store of six endpoints unlike each other: never probed, a few probes
/// (never folded), hundreds (folded, grown), failures of several classes, new
/// connections with every phase, skipped ticks.
async fn varied_store(endpoints: &[Endpoint]) -> StatsStore {
    let clock = Clock {
        start: Instant::now() - Duration::from_secs(30),
        start_wall: std::time::SystemTime::now() - Duration::from_secs(30),
    };
    let rules = vec![EndpointRules::default(); endpoints.len()];
    let window = Duration::from_secs(60);
    let (recorder, handle, _thread) = stats::spawn(rules, window, window, clock).unwrap();
    let at = |ms: u64| clock.start + Duration::from_millis(ms);
    let sample = |endpoint, ms, kind| Sample {
        endpoint,
        at: at(ms),
        lag: Duration::from_micros(300),
        kind,
    };
    for (i, latency) in [450u64, 1_900, 2_100].into_iter().enumerate() {
        recorder.record(sample(
            1,
            1_000 * i as u64,
            SampleKind::Probed(ok(latency, 200)),
        ));
    }
    for (i, latency) in spread().into_iter().enumerate() {
        let status = if i % 40 == 0 { 503 } else { 200 };
        let outcome = ok(latency, status);
        recorder.record(sample(2, 50 * i as u64, SampleKind::Probed(outcome)));
    }
    for (i, class) in [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Timeout,
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = ProbeOutcome::failed(class, "it failed \"badly\"\n\tagain");
        recorder.record(sample(
            3,
            2_000 + 100 * i as u64,
            SampleKind::Probed(outcome),
        ));
    }
    for i in 0..5u64 {
        recorder.record_connection(
            4,
            ConnectionPhases {
                dns: Some(Duration::from_micros(30 + i)),
                connect: Some(Duration::from_micros(120 * (i + 1))),
                tls: Some(Duration::from_micros(2_500 + 700 * i)),
            },
        );
        recorder.record(sample(4, 3_000 + i, SampleKind::Probed(ok(5_000 + i, 204))));
    }
    recorder.record(sample(5, 4_000, SampleKind::Skipped(3)));
    recorder.record(sample(5, 5_000, SampleKind::Probed(ok(0, 200))));
    handle.finish().await.expect("the statistics answer")
}

fn fleet() -> Vec<Endpoint> {
    vec![
        endpoint("never probed", "http://127.0.0.1:9/a"),
        endpoint("few", "http://127.0.0.1:9/b?token=s3cret"),
        endpoint("many «probes»", "http://127.0.0.1:9/c"),
        endpoint("failing \"one\"", "http://127.0.0.1:9/d"),
        endpoint("tls", "https://127.0.0.1:9/e"),
        endpoint("skipping", "tcp://127.0.0.1:9"),
    ]
}

#[tokio::test]
async fn the_streamed_json_snapshot_is_the_built_one_byte_for_byte() {
    let endpoints = fleet();
    let store = varied_store(&endpoints).await;
    let mut built = Vec::new();
    ExportFormat::Json
        .write_to(&snapshot::build(&endpoints, &store), &mut built)
        .unwrap();
    let mut streamed = Vec::new();
    snapshot::write_json(&endpoints, &store, &mut streamed).unwrap();
    assert_eq!(
        String::from_utf8(streamed).unwrap(),
        String::from_utf8(built.clone()).unwrap()
    );
    // Both written with serde_json's own pretty printing, byte for byte.
    let serde_pretty = snapshot::build(&endpoints, &store).to_json() + "\n";
    assert_eq!(String::from_utf8(built.clone()).unwrap(), serde_pretty);
    // And it is a snapshot of all six, every one of them encoded.
    let json: serde_json::Value = serde_json::from_slice(&built).unwrap();
    let written = json["endpoints"].as_array().unwrap();
    assert_eq!(written.len(), endpoints.len());
    assert_eq!(written[2]["probes"], 300);
    assert_eq!(written[4]["phases_ms"]["tls"]["count"], 5);

    // No endpoints at all: an empty list, written alike.
    let (mut built, mut streamed) = (Vec::new(), Vec::new());
    ExportFormat::Json
        .write_to(&snapshot::build(&[], &store), &mut built)
        .unwrap();
    snapshot::write_json(&[], &store, &mut streamed).unwrap();
    assert_eq!(streamed, built);
    assert!(
        String::from_utf8(built)
            .unwrap()
            .contains("\"endpoints\": [],")
    );
}

#[tokio::test]
async fn snapshot_histograms_decode_to_what_was_recorded() {
    let endpoints = fleet();
    let store = varied_store(&endpoints).await;
    let mut streamed = Vec::new();
    snapshot::write_json(&endpoints, &store, &mut streamed).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&streamed).unwrap();
    // Decoded by the hdrhistogram crate's own deserializer.
    let decode = |endpoint: usize, pointer: &str| {
        let text = json["endpoints"][endpoint].pointer(pointer).unwrap();
        snapshot::decode_histogram(text.as_str().unwrap()).unwrap()
    };
    let mut expected = stats::new_histogram();
    for latency in spread() {
        expected.record(latency).unwrap();
    }
    let many = decode(2, "/histogram/data");
    assert_eq!(many.len(), 300);
    let counts = |h: &hdrhistogram::Histogram<u64>| -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    };
    assert_eq!(counts(&many), counts(&expected));
    assert_eq!(
        json["endpoints"][2]["latency_ms"]["max"],
        expected.max() as f64 / 1000.0
    );
    let few = decode(1, "/histogram/data");
    assert_eq!(
        counts(&few),
        [(450, 1), (1_900, 1), (2_101, 1)],
        "2,100 µs shares a bucket of two"
    );
    let tls = decode(4, "/phase_histograms/tls");
    assert_eq!((tls.len(), tls.min(), tls.max()), (5, 2_500, 5_303));
    assert!(decode(0, "/histogram/data").is_empty());
    assert!(decode(1, "/phase_histograms/tls").is_empty());
}

/// The one error a config with several type errors reports: `[[endpoint]]` tables are
/// deserialized one at a time as they are validated, and still the first type error
/// is the one a deserialization of the whole file meets first (its keys in order:
/// `defaults` before `endpoint`, `export` and unknown later keys after).
#[test]
fn the_first_type_error_is_still_the_one_reported() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\ninterval = 5\n";
    let cases = [
        (
            format!("[export]\nformats = 5\n{endpoint}"),
            "endpoint[0].interval",
        ),
        (format!("zzz = 1\n{endpoint}"), "endpoint[0].interval"),
        (
            format!("{endpoint}[defaults]\ninterval = 7\n"),
            "defaults.interval",
        ),
        (format!("aaa = 1\n{endpoint}"), "aaa"),
        ("endpoint = 5\n[ui]\nbell = \"x\"\n".to_string(), "endpoint"),
        (
            format!("[[endpoint]]\nurl = \"http://127.0.0.1:9/a\"\n{endpoint}"),
            "endpoint[1].interval",
        ),
    ];
    for (text, key) in cases {
        let path = crate::support::write_config(dir.path(), &text);
        let options = probetop::config::LoadOptions {
            config_path: Some(path),
            ..Default::default()
        };
        let errors = probetop::config::load(&options).expect_err(&text).0;
        assert_eq!(errors.len(), 1, "{text}");
        assert_eq!(errors[0].key.as_deref(), Some(key), "{text}");
    }
}
