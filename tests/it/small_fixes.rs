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
            // Still in flight when the 2 s run ends, if its tick comes at ~0.7 s.
            server.url("/delay/1200"),
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
