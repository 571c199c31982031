//! A timer that wakes its thread once, at the moment it is set for.
//!
//! tokio's timer wheel files a deadline more than 64 ms away on a coarser level and
//! wakes the runtime at the start of the deadline's slot there, only to file it
//! again on the finer level and sleep on: a sleep of 100 ms to 1 s costs two
//! wake-ups, not one. Measured on an idle dashboard (10 endpoints every second), a
//! fifth of the probing thread's wake-ups were these. On Linux, an [`Alarm`] is a
//! `timerfd` set for the exact instant, whose expiry is one readiness event on the
//! runtime's own poll; elsewhere (or should the kernel refuse a timerfd) it is
//! tokio's sleep.

use std::pin::Pin;
use std::time::{Duration, Instant};

/// One deadline at a time, reset as often as needed; [`Alarm::wait`] is cancel-safe.
pub struct Alarm {
    inner: Inner,
}

enum Inner {
    #[cfg(target_os = "linux")]
    Fd(linux::TimerFd),
    Sleep(Pin<Box<tokio::time::Sleep>>),
}

impl Alarm {
    /// An alarm, not set. Must be made inside a tokio runtime with I/O and time
    /// enabled.
    pub fn new() -> Self {
        #[cfg(target_os = "linux")]
        match linux::TimerFd::new() {
            Ok(fd) => {
                return Alarm {
                    inner: Inner::Fd(fd),
                };
            }
            Err(e) => {
                tracing::debug!("no timerfd ({e}): tokio's timer instead");
            }
        }
        Alarm {
            inner: Inner::Sleep(Box::pin(tokio::time::sleep_until(
                tokio::time::Instant::now(),
            ))),
        }
    }

    /// Sets the alarm for `at` (at once if it is past), replacing any earlier
    /// setting.
    pub fn set(&mut self, at: Instant) {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Fd(fd) => {
                if let Err(e) = fd.set(at) {
                    // Not expected (the descriptor is ours and the time valid); the
                    // sleep keeps the schedule going whatever happened.
                    tracing::warn!("setting a timerfd failed ({e}): tokio's timer instead");
                    self.inner = Inner::Sleep(Box::pin(tokio::time::sleep_until(at.into())));
                }
            }
            Inner::Sleep(sleep) => sleep.as_mut().reset(at.into()),
        }
    }

    /// Waits until the time it was last set for has come.
    pub async fn wait(&mut self) {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Fd(fd) => fd.wait().await,
            Inner::Sleep(sleep) => sleep.as_mut().await,
        }
    }
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm::new()
    }
}

/// How far ahead of a batch of probes the [`DriverKeeper`] keeps its timer, at most.
const KEEP_AHEAD: Duration = Duration::from_secs(1);

/// The longest sleep the [`DriverKeeper`] keeps its timer over. A kept timer can
/// still wake the thread early: tokio's wheel wakes it at the start of a timer's
/// slot to file the timer finer, and one filed a level up (its distance crossing a
/// 4,096 ms boundary of the wheel) has its slot start at that boundary. Where sleeps
/// are long the probes per wake-up are few, and so are the writes the keeper saves:
/// a conservative bound, not a measured optimum (what was measured is in the type's
/// docs).
const KEEP_OVER: Duration = Duration::from_millis(50);

/// Keeps tokio's timer driver from signalling its own thread for every probe's
/// timeout.
///
/// tokio writes to the runtime's eventfd whenever a timer is set earlier than the
/// driver's next wake-up as it stood when the thread last slept or woke; when the
/// probes of one wake-up have all ended before the next, the wheel is empty then, so
/// each probe's two timeouts (its own and the exchange's) cost two `write`s to a
/// thread that is awake anyway (measured: two of a probe's nine system calls at 100
/// endpoints). A timer a little ahead of the probes' own keeps the driver's next
/// wake-up before theirs (timers shorter than its distance, such as a `tcp://`
/// probe's close grace, still write). It is made anew at each wake-up rather than
/// moved: tokio moves a timer later only in place, leaving it in its old slot, and
/// woke the thread at that slot about once a second per shard to file it again
/// (measured: +1.9 wake-ups a second with 10 endpoints). It is kept only over short
/// sleeps (see [`KEEP_OVER`]).
pub struct DriverKeeper {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl DriverKeeper {
    /// A keeper without a timer yet.
    pub fn new() -> Self {
        DriverKeeper { sleep: None }
    }

    /// After probes were started at `fired`, none with a timeout shorter than
    /// `shortest`: keeps the timer at or before the earliest of their deadlines.
    pub fn after_fire(&mut self, fired: Instant, shortest: Duration) {
        let at = tokio::time::Instant::from_std(fired + shortest.min(KEEP_AHEAD));
        let sleep = tokio::time::sleep_until(at);
        match &mut self.sleep {
            // Replaced in place (the old one is dropped first, off the wheel, waking
            // nobody), not reset: see the type's docs. Filed when next polled.
            Some(old) => old.set(sleep),
            None => self.sleep = Some(Box::pin(sleep)),
        }
    }

    /// Before the thread sleeps, at `now`, until `wake` (`None`: until something
    /// happens): lets the timer go unless the sleep is short and ends well before it.
    pub fn before_sleep(&mut self, now: Instant, wake: Option<Instant>) {
        let Some(sleep) = &self.sleep else {
            return;
        };
        let keeps = wake.is_some_and(|wake| {
            wake <= now + KEEP_OVER && wake + KEEP_OVER < sleep.deadline().into_std()
        });
        if !keeps {
            // Dropping a timer takes it off the wheel without waking anyone.
            self.sleep = None;
        }
    }

    /// Never returns, unless the timer is due (it then goes): the timer only has to
    /// be polled, so that tokio files it.
    pub async fn wait(&mut self) {
        match &mut self.sleep {
            Some(sleep) => {
                sleep.as_mut().await;
                self.sleep = None;
            }
            None => std::future::pending().await,
        }
    }
}

impl Default for DriverKeeper {
    fn default() -> Self {
        DriverKeeper::new()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A non-blocking `CLOCK_MONOTONIC` timerfd (the clock `Instant` reads on Linux),
    /// registered with the runtime.
    pub struct TimerFd {
        fd: AsyncFd<OwnedFd>,
        /// The instant it is set for, so that setting it again for the same one
        /// costs no system call.
        set_for: Option<Instant>,
    }

    impl TimerFd {
        pub fn new() -> io::Result<Self> {
            // SAFETY: no pointers; the result is checked below.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a descriptor just made and owned by no one else.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: an `OwnedFd` keeps its one descriptor open until it is dropped,
            // with the `AsyncFd`.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
            Ok(TimerFd { fd, set_for: None })
        }

        pub fn set(&mut self, at: Instant) -> io::Result<()> {
            if self.set_for == Some(at) {
                return Ok(());
            }
            // `Instant` hides its timespec: the monotonic clock now, plus how far
            // `at` is from now (a past `at` fires at once).
            let now = Instant::now();
            let mut clock = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `clock` is a valid timespec to write into.
            if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut clock) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let ahead = at.saturating_duration_since(now);
            let nanos = i128::from(clock.tv_sec) * 1_000_000_000
                + i128::from(clock.tv_nsec)
                + ahead.as_nanos() as i128;
            // A zero value would disarm it; the clock is never at zero anyway.
            let nanos = nanos.max(1);
            let value = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                    tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
                },
            };
            // SAFETY: a descriptor of ours, a valid itimerspec, no old value wanted.
            let done = unsafe {
                libc::timerfd_settime(
                    self.fd.get_ref().as_raw_fd(),
                    libc::TFD_TIMER_ABSTIME,
                    &value,
                    std::ptr::null_mut(),
                )
            };
            if done != 0 {
                return Err(io::Error::last_os_error());
            }
            self.set_for = Some(at);
            Ok(())
        }

        pub async fn wait(&mut self) {
            loop {
                let mut guard = match self.fd.readable().await {
                    Ok(guard) => guard,
                    Err(e) => {
                        // The runtime is shutting down: nothing will be due any more.
                        tracing::debug!("waiting on a timerfd failed: {e}");
                        return std::future::pending().await;
                    }
                };
                let mut expirations = [0u8; 8];
                // SAFETY: reads at most 8 bytes into a buffer of 8.
                let read = unsafe {
                    libc::read(
                        guard.get_inner().as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        expirations.len(),
                    )
                };
                if read == 8 {
                    // Expired, and not readable again before it is set and expires
                    // anew (a new edge): forget the readiness, or the next wait
                    // would begin with a read that finds nothing. Until it is set
                    // again a wait waits forever (tokio's sleep would return at
                    // once); the callers always set it before waiting.
                    guard.clear_ready();
                    self.set_for = None;
                    return;
                }
                // Not expired yet (EAGAIN, after a reset), or interrupted: wait again.
                guard.clear_ready();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn an_alarm_fires_at_its_time_and_not_before() {
        let mut alarm = Alarm::new();
        let start = Instant::now();
        alarm.set(start + Duration::from_millis(150));
        // Reset earlier than first set: the later setting is gone.
        alarm.set(start + Duration::from_millis(80));
        tokio::time::timeout(Duration::from_secs(5), alarm.wait())
            .await
            .expect("the alarm fired");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(80),
            "fired after {waited:?}"
        );
        // Set for a time past: at once.
        alarm.set(start);
        tokio::time::timeout(Duration::from_secs(5), alarm.wait())
            .await
            .expect("a past alarm fires at once");
        // A wait cancelled midway leaves the alarm set.
        alarm.set(Instant::now() + Duration::from_millis(100));
        let early = tokio::time::timeout(Duration::from_millis(10), alarm.wait()).await;
        assert!(early.is_err(), "fired 90 ms early");
        tokio::time::timeout(Duration::from_secs(5), alarm.wait())
            .await
            .expect("the alarm still fired after a cancelled wait");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_keeper_is_capped_ahead_and_kept_only_over_short_sleeps() {
        let mut keeper = DriverKeeper::new();
        let fired = Instant::now();
        keeper.after_fire(fired, Duration::from_secs(5));
        // Capped at a second ahead, whatever the timeouts.
        let at = keeper.sleep.as_ref().map(|s| s.deadline().into_std());
        assert_eq!(at, Some(fired + KEEP_AHEAD));
        // A short sleep well before it keeps it.
        keeper.before_sleep(fired, Some(fired + Duration::from_millis(10)));
        assert!(keeper.sleep.is_some(), "let go over a short sleep");
        // Moving it on replaces it, at the new distance.
        keeper.after_fire(
            fired + Duration::from_millis(10),
            Duration::from_millis(300),
        );
        let at = keeper.sleep.as_ref().map(|s| s.deadline().into_std());
        assert_eq!(at, Some(fired + Duration::from_millis(310)));
        // A sleep ending at it, a long sleep, or one without an end lets it go.
        keeper.before_sleep(
            fired + Duration::from_millis(300),
            Some(fired + Duration::from_millis(305)),
        );
        assert!(keeper.sleep.is_none(), "kept over a sleep ending at it");
        keeper.after_fire(fired, Duration::from_secs(1));
        keeper.before_sleep(fired, Some(fired + Duration::from_millis(200)));
        assert!(keeper.sleep.is_none(), "kept over a long sleep");
        keeper.after_fire(fired, Duration::from_secs(1));
        keeper.before_sleep(fired, None);
        assert!(
            keeper.sleep.is_none(),
            "kept with nothing else to wake the thread"
        );
        // Without a timer it never resolves; with one due, it resolves and goes.
        let idle = tokio::time::timeout(Duration::from_millis(20), keeper.wait()).await;
        assert!(idle.is_err(), "resolved without a timer");
        keeper.after_fire(Instant::now(), Duration::from_millis(10));
        tokio::time::timeout(Duration::from_secs(5), keeper.wait())
            .await
            .expect("a due keeper resolves");
        assert!(keeper.sleep.is_none(), "a keeper that fired is gone");
    }
}
