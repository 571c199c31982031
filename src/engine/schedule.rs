//! The fixed-rate schedule of one endpoint.

use std::time::{Duration, Instant};

/// Due times `first + k × interval`, computed from k (not by adding up intervals), so
/// rounding never drifts and a late tick does not push later ones back.
#[derive(Debug, Clone)]
pub struct Schedule {
    first: Instant,
    interval: Duration,
    next: u64,
}

impl Schedule {
    /// A schedule whose first tick is due at `first`.
    pub fn new(first: Instant, interval: Duration) -> Self {
        Schedule {
            first,
            interval,
            next: 0,
        }
    }

    /// When the next tick is due.
    pub fn next_due(&self) -> Instant {
        let nanos = self
            .interval
            .as_nanos()
            .saturating_mul(u128::from(self.next));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.first + offset
    }

    /// Moves on to the following tick.
    pub fn advance(&mut self) {
        self.next += 1;
    }

    /// Ticks handed out so far.
    pub fn ticks(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let start = Instant::now();
        let mut s = Schedule::new(start, Duration::from_millis(100) / 3);
        for _ in 0..3000 {
            s.advance();
        }
        assert_eq!(s.ticks(), 3000);
        // 3000 × 33.333333 ms = 99 999.999 ms: off by < 1 µs, not 3000 roundings.
        let off = Duration::from_secs(100).abs_diff(s.next_due() - start);
        assert!(off <= Duration::from_micros(1), "{off:?}");
    }
}
