//! The shared time base of the engine and the statistics.

use std::time::{Duration, Instant, SystemTime};

/// Start of a run, on both the monotonic and the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic start: schedules and latencies are measured on this clock.
    pub start: Instant,
    /// Wall-clock start, for timestamps shown to people.
    pub start_wall: SystemTime,
}

impl Clock {
    /// Starts now.
    pub fn now() -> Self {
        Clock {
            start: Instant::now(),
            start_wall: SystemTime::now(),
        }
    }

    /// Deciseconds since start, the time unit of window entries
    /// (fine enough for windows of a minute or more, and 13 years fit in a `u32`).
    pub fn ds_since_start(&self, at: Instant) -> u32 {
        duration_to_ds(at.saturating_duration_since(self.start))
    }

    /// The wall-clock time of monotonic instant `at`, counted back from the wall clock
    /// now rather than forward from the start: the monotonic clock stops while the
    /// machine sleeps, so after a suspend `start_wall + elapsed` would lag behind.
    pub fn wall(&self, at: Instant) -> SystemTime {
        let (now, now_wall) = (Instant::now(), SystemTime::now());
        match now.checked_duration_since(at) {
            Some(ago) => now_wall.checked_sub(ago).unwrap_or(self.start_wall),
            None => now_wall + at.saturating_duration_since(now),
        }
    }
}

/// A duration in deciseconds, saturating.
pub fn duration_to_ds(d: Duration) -> u32 {
    u32::try_from(d.as_millis() / 100).unwrap_or(u32::MAX)
}
