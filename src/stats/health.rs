//! probetop's own health: how deep the queue into the statistics is, and whether
//! probetop kept up with its schedule.
//!
//! **Overloaded** is decided per second of the run (by when samples finished or
//! ticks were skipped): a second is overloaded when more than 1 % of its ticks fired
//! more than [`LATE_TICK`] late (its scheduler lag p99 is above the threshold), or
//! when the statistics queue was deeper than [`DEEP_QUEUE`] during it. 50 ms is far
//! above what a machine that keeps up shows (well under 10 ms) and far below what a
//! user reads as a target's slowness, so it separates "probetop is behind" from noise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::duration_to_us;

/// A tick that fires later than this is late.
pub const LATE_TICK: Duration = Duration::from_millis(50);

/// A statistics queue deeper than this many messages means the statistics thread is
/// behind by about a second at 10,000 probes a second: probetop is overloaded.
pub const DEEP_QUEUE: u64 = 10_000;

/// What was queued for the statistics thread and what it took, counted on both ends
/// so that the depth can be read without touching the queue.
#[derive(Debug, Default)]
pub(super) struct QueueCounter {
    /// Messages sent (by probes, the engine and readers).
    enqueued: AtomicU64,
    /// Messages the statistics thread took out; only it writes this.
    dequeued: AtomicU64,
}

impl QueueCounter {
    /// A counter shared by the senders and the statistics thread.
    pub(super) fn shared() -> Arc<Self> {
        Arc::new(QueueCounter::default())
    }

    /// Counts a message sent, and returns the depth with it.
    pub(super) fn sent(&self) -> u64 {
        let enqueued = self.enqueued.fetch_add(1, Ordering::Relaxed) + 1;
        enqueued.saturating_sub(self.dequeued.load(Ordering::Relaxed))
    }

    /// Counts `taken` messages taken out in all (the statistics thread's own count),
    /// and returns the depth left behind them.
    pub(super) fn taken(&self, taken: u64) -> u64 {
        self.dequeued.store(taken, Ordering::Relaxed);
        self.depth()
    }

    /// Messages sent but not yet taken.
    pub(super) fn depth(&self) -> u64 {
        // Read `dequeued` first: `enqueued` only grows, so the difference can only
        // err high, never wrap below zero.
        let dequeued = self.dequeued.load(Ordering::Relaxed);
        self.enqueued
            .load(Ordering::Relaxed)
            .saturating_sub(dequeued)
    }
}

/// The statistics queue's depth as of a read, and the deepest it was since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Messages waiting when the statistics were read.
    pub depth: u64,
    /// The most that waited behind a message the statistics thread took out, since
    /// the statistics started (or were last reset, as the scheduler lag is).
    pub max_depth: u64,
}

/// Why probetop is overloaded right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverloadReason {
    /// Ticks fired late: the worst lag of the second, in whole milliseconds.
    SchedulerLag {
        /// The worst lag of that second.
        lag_ms: u64,
    },
    /// The statistics queue was this deep.
    StatsQueue {
        /// Messages waiting.
        depth: u64,
    },
}

impl std::fmt::Display for OverloadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverloadReason::SchedulerLag { lag_ms } => write!(
                f,
                "ticks fire late (scheduler lag {lag_ms} ms > {} ms)",
                LATE_TICK.as_millis()
            ),
            OverloadReason::StatsQueue { depth } => {
                write!(f, "statistics queue {depth} deep (> {DEEP_QUEUE})")
            }
        }
    }
}

/// How often and how badly probetop fell behind, second by second.
#[derive(Debug, Clone, Default)]
pub struct Overload {
    /// Closed seconds that were overloaded.
    seconds: u64,
    /// Ticks that fired more than [`LATE_TICK`] late.
    late_ticks: u64,
    /// The latest tick's lag, at most, in µs.
    max_lag_us: u32,
    /// The second being counted (since the clock's start), once a tick came.
    second: Option<u32>,
    /// Ticks in it.
    ticks: u64,
    /// Late ticks in it.
    late: u64,
    /// The largest lag in it, in µs.
    worst_lag_us: u32,
    /// The deepest queue seen in it.
    deepest: u64,
    /// Why the latest closed second was overloaded, and which second it was.
    last: Option<(u32, OverloadReason)>,
}

impl Overload {
    /// Counts a tick that fired `lag` late, in the second `second` (since the
    /// clock's start), with the statistics queue `queue_depth` deep behind it.
    pub fn tick(&mut self, second: u32, lag: Duration, queue_depth: u64) {
        match self.second {
            Some(current) if second > current => {
                self.close();
                self.second = Some(second);
            }
            // A sample of an earlier second (they arrive nearly in order) counts in
            // the current one.
            Some(_) => {}
            None => self.second = Some(second),
        }
        let lag_us = duration_to_us(lag);
        self.ticks += 1;
        self.max_lag_us = self.max_lag_us.max(lag_us);
        self.worst_lag_us = self.worst_lag_us.max(lag_us);
        self.deepest = self.deepest.max(queue_depth);
        if lag > LATE_TICK {
            self.late += 1;
            self.late_ticks += 1;
        }
    }

    /// Why the second being counted is overloaded, if it is.
    fn current_reason(&self) -> Option<OverloadReason> {
        if self.deepest > DEEP_QUEUE {
            Some(OverloadReason::StatsQueue {
                depth: self.deepest,
            })
        } else if self.late * 100 > self.ticks {
            Some(OverloadReason::SchedulerLag {
                lag_ms: u64::from(self.worst_lag_us) / 1000,
            })
        } else {
            None
        }
    }

    fn close(&mut self) {
        if let (Some(second), Some(reason)) = (self.second, self.current_reason()) {
            self.seconds += 1;
            self.last = Some((second, reason));
        }
        (self.ticks, self.late, self.worst_lag_us, self.deepest) = (0, 0, 0, 0);
    }

    /// Seconds during which probetop was overloaded, the second being counted too.
    pub fn seconds(&self) -> u64 {
        self.seconds + u64::from(self.current_reason().is_some())
    }

    /// Ticks that fired more than [`LATE_TICK`] late.
    pub fn late_ticks(&self) -> u64 {
        self.late_ticks
    }

    /// The latest any tick fired.
    pub fn max_lag(&self) -> Duration {
        Duration::from_micros(u64::from(self.max_lag_us))
    }

    /// Why probetop is overloaded at second `now` (since the clock's start), with the
    /// statistics queue `queue_depth` deep: the second being counted qualifies, or
    /// the one before `now` did, or the queue is deep now. `None` when it keeps up.
    pub fn now(&self, now: u32, queue_depth: u64) -> Option<OverloadReason> {
        if queue_depth > DEEP_QUEUE {
            return Some(OverloadReason::StatsQueue { depth: queue_depth });
        }
        let recent = |second: u32| second.saturating_add(1) >= now;
        if self.second.is_some_and(recent)
            && let Some(reason) = self.current_reason()
        {
            return Some(reason);
        }
        self.last
            .filter(|&(second, _)| recent(second))
            .map(|(_, reason)| reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON_TIME: Duration = Duration::from_millis(2);
    const LATE: Duration = Duration::from_millis(300);

    #[test]
    fn a_run_that_keeps_up_is_never_overloaded() {
        let mut o = Overload::default();
        for second in 0..10 {
            for _ in 0..1_000 {
                o.tick(second, ON_TIME, 3);
            }
            // One late tick in a thousand is noise (p99 still on time).
            o.tick(second, LATE, 3);
        }
        assert_eq!(o.seconds(), 0);
        assert_eq!(o.late_ticks(), 10);
        assert_eq!(o.max_lag(), LATE);
        assert_eq!(o.now(10, 3), None);
    }

    #[test]
    fn late_ticks_or_a_deep_queue_make_a_second_overloaded() {
        let mut o = Overload::default();
        for _ in 0..100 {
            o.tick(0, ON_TIME, 0);
        }
        for _ in 0..10 {
            o.tick(1, LATE, 0);
        }
        assert_eq!(o.seconds(), 1, "the second being counted counts");
        assert_eq!(
            o.now(1, 0),
            Some(OverloadReason::SchedulerLag { lag_ms: 300 })
        );
        o.tick(2, ON_TIME, DEEP_QUEUE + 1);
        assert_eq!(o.seconds(), 2);
        o.tick(5, ON_TIME, 0);
        assert_eq!(o.seconds(), 2);
        assert_eq!(o.late_ticks(), 10);
        // Long after the last overloaded second, only a deep queue now says so.
        assert_eq!(o.now(9, 0), None);
        assert_eq!(
            o.now(9, 20_000),
            Some(OverloadReason::StatsQueue { depth: 20_000 })
        );
        assert!(
            o.now(3, 0).is_some(),
            "the second just closed was overloaded"
        );
    }

    #[test]
    fn the_queue_depth_is_what_was_sent_and_not_taken() {
        let q = QueueCounter::shared();
        for _ in 0..5 {
            q.sent();
        }
        assert_eq!(q.depth(), 5);
        assert_eq!(q.taken(2), 3);
        assert_eq!(q.taken(5), 0);
    }
}
