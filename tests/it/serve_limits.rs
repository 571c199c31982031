//! The `/metrics` server cannot be used against the probes that share its process:
//! a flood of connections that send half a request and wait, more than the process
//! has file descriptors, neither makes fresh-connection probes fail nor keeps a
//! scraper out.

use crate::support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use support::{TestServer, count, endpoint, get_metrics, probetop, wait_bounded, write_config};

/// The descriptor limit probetop runs under: what a default shell gives.
const DESCRIPTORS: libc::rlim_t = 1024;
/// Connections in the flood: more than probetop has descriptors.
const FLOOD: usize = 1100;

/// Scrapes until one answers, for at most `limit`.
fn scrape_within(addr: SocketAddr, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(text) = get_metrics(addr.port()) {
            return Some(text);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the child if the test fails before waiting for it, so a failed run leaves
/// no probetop behind.
struct ChildGuard(Option<std::process::Child>);

impl ChildGuard {
    fn id(&self) -> u32 {
        // Never a made-up pid: kill(0, …) would signal the whole process group.
        self.0
            .as_ref()
            .map(std::process::Child::id)
            .expect("the child is still ours")
    }

    fn take(&mut self) -> std::process::Child {
        self.0.take().expect("the child is waited for once")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // Already gone is fine: the point is that it does not outlive the test.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_flood_of_half_requests_starves_neither_probes_nor_scrapes() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = write_config(
        dir.path(),
        &format!(
            r#"[[endpoint]]
name = "fresh"
url = "{}"
interval = "100ms"
timeout = "2s"
connection = "fresh"
"#,
            server.url("/status/200")
        ),
    );
    let addr: SocketAddr = ([127, 0, 0, 1], support::free_port()).into();
    let mut command = probetop(dir.path());
    command.args([
        "--headless",
        "--metrics-addr",
        &addr.to_string(),
        "-c",
        &config.to_string_lossy(),
    ]);
    // SAFETY: between fork and exec only setrlimit(2) runs, which is async-signal-safe
    // and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: DESCRIPTORS,
                rlim_max: DESCRIPTORS,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = ChildGuard(Some(command.spawn().expect("starting probetop")));
    assert!(
        scrape_within(addr, Duration::from_secs(10)).is_some(),
        "/metrics never answered"
    );

    // Half a request each, then silence: the connections stay open until the test ends.
    // Bounded in attempts and time; a connect may wait for a full backlog to drain
    // (the kernel retries a dropped SYN after a second) on a loaded machine.
    let mut flood = Vec::with_capacity(FLOOD);
    let flood_deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..3 * FLOOD {
        if flood.len() == FLOOD || Instant::now() >= flood_deadline {
            break;
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            // An evicted connection may already be closed: that is the point.
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            flood.push(stream);
        }
    }
    assert!(
        flood.len() > DESCRIPTORS as usize,
        "the flood opened only {} connections",
        flood.len()
    );
    assert!(
        scrape_within(addr, Duration::from_secs(5)).is_some(),
        "/metrics did not answer during the flood"
    );

    // Probing goes on beside the open flood for a while, then SIGTERM ends the run.
    let flooded_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let flood_lasted = flooded_at.elapsed();
    crate::support::signal(child.id(), libc::SIGTERM);
    let output = wait_bounded(child.take(), Duration::from_secs(30));
    drop(flood);
    assert!(
        output.status.success(),
        "probetop failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the snapshot parses");
    let fresh = endpoint(&snapshot, "fresh");
    assert_eq!(count(fresh, "failed"), 0, "probes failed: {fresh:#}");
    // At least the 20 ticks of the flood's last 2 s were probed, with no failure:
    // the probes always had descriptors for their fresh connections.
    assert!(
        count(fresh, "probes") >= 20,
        "{} probes over a run of at least {flood_lasted:?}: {fresh:#}",
        count(fresh, "probes")
    );
}
