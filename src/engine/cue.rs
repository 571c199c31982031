//! Firing a shard's next ticks a little early instead of sleeping until they are due.
//!
//! A probe sent on its own costs the probing thread two wake-ups: one for its tick
//! and one for its answer. A wake-up of a thread that was asleep is, on the virtual
//! machines measured, 30–45 µs of that thread's CPU whatever it then does, most of a
//! loopback probe's cost. So when the thread is about to sleep with no probe in flight
//! (nothing else would wake it sooner) and a shard's alarm is due within its
//! [`allowance`], that shard fires now, in the wake-up it is already in: the answer of
//! one probe then sends the next, and a run of packed ticks
//! (`schedule::FIRST_TICK_STEP` apart) goes out as a chain, each answer sending the
//! next tick, until the chain is an allowance ahead of the schedule.
//!
//! The allowance is 1 % of the shard's shortest interval, at most [`MOST_EARLY`]:
//! measured at 1,000 endpoints a second against a loopback nginx, the probing thread
//! slept 690–713 times a second with 1 ms, 426 with 5 ms and 276 with 10 ms, and its
//! CPU fell by a quarter to a third, while a tick 10 ms early is a hundredth of a
//! second's interval.
//!
//! The rule keeps what the schedule promises. A tick fires at most its allowance
//! before it is due (never late because of this), and the schedule itself does not
//! move: the next tick is still due an interval after this one's due time (open
//! loop). A probe is only fired early when none is in flight on the thread, so two
//! never meet at a server because of it (bursts were measured to raise the latency a
//! server shows). Latency is timed from the real send, as always; an early tick's lag
//! is zero. A shard still fires at most once per `WAKE_GAP` of alarm times, so at high
//! rates (where a probe is nearly always in flight anyway) the batching of ticks is
//! unchanged.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;

/// The most a tick is ever fired before it is due.
pub(super) const MOST_EARLY: Duration = Duration::from_millis(10);

/// How long before its alarm a shard whose shortest interval is `interval` may be
/// told to fire: 1 % of that interval, at most [`MOST_EARLY`].
pub(super) fn allowance(interval: Duration) -> Duration {
    (interval / 100).min(MOST_EARLY)
}

/// No alarm for a tick is set.
const UNSET: u64 = u64::MAX;

/// The probing thread's cues: its probes in flight and each shard's alarm, read
/// just before the thread sleeps ([`Cues::before_park`], tokio's `on_thread_park`).
pub(super) struct Cues {
    /// Instants are kept as nanoseconds after this.
    origin: Instant,
    /// Probes in flight on the thread, of every shard.
    in_flight: AtomicUsize,
    shards: Box<[ShardCue]>,
}

struct ShardCue {
    /// From when the shard may be told to fire (its alarm, for a tick, less its
    /// allowance; nanoseconds after `origin`), or [`UNSET`].
    cue_from: AtomicU64,
    /// Told to fire: set by [`Cues::before_park`], taken by the shard.
    cued: AtomicBool,
    waker: AtomicWaker,
}

impl Cues {
    /// Cues for `shards` shards.
    pub(super) fn new(shards: usize) -> Arc<Self> {
        Arc::new(Cues {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            shards: (0..shards)
                .map(|_| ShardCue {
                    cue_from: AtomicU64::new(UNSET),
                    cued: AtomicBool::new(false),
                    waker: AtomicWaker::new(),
                })
                .collect(),
        })
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(UNSET - 1)
    }

    /// Called by the probing runtime just before its thread sleeps: with no probe in
    /// flight, tells each shard whose alarm is due within its allowance to fire now
    /// (the runtime then polls it instead of sleeping).
    pub(super) fn before_park(&self) {
        if self.in_flight.load(Ordering::Relaxed) != 0 {
            return;
        }
        // Read only when nothing is in flight: an idle thread is about to sleep.
        let now = self.nanos(Instant::now());
        for shard in &self.shards {
            if shard.cue_from.load(Ordering::Relaxed) <= now {
                shard.cue_from.store(UNSET, Ordering::Relaxed);
                shard.cued.store(true, Ordering::Relaxed);
                shard.waker.wake();
            }
        }
    }

    /// A probe was spawned.
    pub(super) fn probe_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A probe ended (finished, cancelled or panicked).
    pub(super) fn probe_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a probe is in flight on the thread.
    pub(super) fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) != 0
    }

    /// Shard `shard`'s alarm is set for a tick at `at`, which it may fire up to
    /// `allowance` early.
    pub(super) fn set_alarm(&self, shard: usize, at: Instant, allowance: Duration) {
        let from = at.checked_sub(allowance).unwrap_or(self.origin);
        self.shards[shard]
            .cue_from
            .store(self.nanos(from), Ordering::Relaxed);
    }

    /// Shard `shard`'s alarm is set for something other than a tick, or for nothing:
    /// only an alarm for a tick is fired early.
    pub(super) fn clear_alarm(&self, shard: usize) {
        self.shards[shard].cue_from.store(UNSET, Ordering::Relaxed);
    }

    /// Resolves when shard `shard` is told to fire (cancel-safe; the cue is taken).
    pub(super) async fn cued(&self, shard: usize) {
        let cue = &self.shards[shard];
        poll_fn(|cx| {
            cue.waker.register(cx.waker());
            if cue.cued.swap(false, Ordering::Relaxed) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Forgets a cue shard `shard` did not wake for (it woke for its alarm or
    /// another reason first).
    pub(super) fn forget(&self, shard: usize) {
        self.shards[shard].cued.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn only_an_alarm_for_a_tick_due_soon_with_nothing_in_flight_is_cued() {
        let cues = Cues::new(2);
        let now = Instant::now();
        let allowance = allowance(Duration::from_secs(1));
        assert_eq!(allowance, Duration::from_millis(10), "1 % of a second");
        assert_eq!(
            super::allowance(Duration::from_millis(100)),
            Duration::from_millis(1),
            "1 % of a short interval"
        );
        assert_eq!(
            super::allowance(Duration::from_secs(60)),
            MOST_EARLY,
            "capped"
        );
        cues.set_alarm(0, now + allowance / 2, allowance);
        cues.set_alarm(1, now + Duration::from_millis(50), allowance);
        // A probe in flight: its answer will wake the thread anyway.
        cues.probe_started();
        cues.before_park();
        let waited = tokio::time::timeout(Duration::from_millis(20), cues.cued(0)).await;
        assert!(waited.is_err(), "cued with a probe in flight");
        cues.probe_ended();
        cues.before_park();
        tokio::time::timeout(Duration::from_secs(5), cues.cued(0))
            .await
            .expect("the shard due within its allowance is cued");
        let far = tokio::time::timeout(Duration::from_millis(20), cues.cued(1)).await;
        assert!(far.is_err(), "a shard 50 ms from its alarm was cued");
        // A cue is taken once, and an alarm that is not for a tick is never cued.
        cues.clear_alarm(0);
        cues.before_park();
        let again = tokio::time::timeout(Duration::from_millis(20), cues.cued(0)).await;
        assert!(again.is_err(), "cued twice, or for an alarm not for a tick");
    }
}
