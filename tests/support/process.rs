//! A running `probetop` seen from the outside, as the benches measure it: its pid
//! once it wrote it, and the CPU time it used (Linux `/proc`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The pid a shell wrote to `path` before it exec'd probetop (a whole line, so a
/// half-written file is not read as a pid), polling every `poll` for at most `limit`.
pub fn wait_for_pid(path: &Path, limit: Duration, poll: Duration) -> anyhow::Result<u32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .filter(|t| t.ends_with('\n'))
            .and_then(|t| t.trim().parse().ok())
        {
            return Ok(pid);
        }
        if Instant::now() >= deadline {
            bail!("probetop did not start within {limit:?}");
        }
        std::thread::sleep(poll);
    }
}

/// User + system CPU time of `pid`, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: count the
    // fields after its closing parenthesis. utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/PID/stat format")?
        .split_whitespace()
        .collect();
    // Field 3 (state) is the first after the name, so field k is at index k - 3.
    let ticks = |k: usize| -> anyhow::Result<u64> {
        fields
            .get(k - 3)
            .and_then(|f| f.parse().ok())
            .context("unexpected /proc/PID/stat format")
    };
    // SAFETY: sysconf has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Ok(Duration::from_secs_f64(
        (ticks(14)? + ticks(15)?) as f64 / per_second as f64,
    ))
}
