//! Durations as written in the file and on the command line: humantime strings
//! (`250ms`, `1s`, `5m`) within the bounds a timer and a clock can keep.

use std::time::Duration;

/// The shortest duration accepted: a finer interval could not be kept by the timer
/// (1 ms granularity) and would only flood the target.
pub const MIN_DURATION: Duration = Duration::from_millis(1);
/// The longest duration accepted (a year): far beyond any useful interval or
/// timeout, and small enough that adding it to a clock never overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a humantime duration (`250ms`, `1s`, `5m`) between 1 ms and a year.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?}: {e} (examples: 250ms, 1s, 5m)"))?;
    if duration.is_zero() {
        return Err(format!("duration {text:?} must be greater than zero"));
    }
    if duration < MIN_DURATION {
        return Err(format!("duration {text:?} is shorter than 1ms"));
    }
    if duration > MAX_DURATION {
        return Err(format!("duration {text:?} is longer than a year"));
    }
    Ok(duration)
}
