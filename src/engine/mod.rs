//! The probing schedule: fixed-rate ticks, timeouts, overlap cap, cancellation.
//!
//! Probe k of an endpoint is due at `start + offset + k × interval` whatever happened
//! to earlier probes (an open-loop schedule, so slow periods are not under-sampled).
//! Probes of one endpoint may overlap up to its `max_in_flight`; a tick beyond that is
//! recorded as skipped, never silently dropped.
//!
//! The endpoints are split into a few shards, one task each, holding its endpoints'
//! next due times in a heap: a shard sleeps until the earliest, then fires every tick
//! due by then in one go, and each probe runs as a task of its own. (One sleeping
//! task per endpoint, each with a `JoinSet` of its probes, was measured: at 10,000
//! endpoints the scheduler alone woke 10,000 tasks a second and re-registered a timer
//! and two wakers at each; with shards, ticks due in the same millisecond share one
//! wake-up and one timer.)
//!
//! The shards, the probes and the connections they open run on a runtime of their
//! own, on one thread ([`Engine::start`]): measured against the process's two-worker
//! runtime, one thread cost a third less CPU per probe at every rate (at 1,000
//! endpoints 62 µs instead of 85, at 10,000 22 µs instead of 32), as nothing wakes a
//! second worker to steal a probe that would have finished sooner where it was; one
//! thread holds about 40,000 probes a second here. Being apart, ticks never wait
//! behind the dashboard or `/metrics` on the main runtime, nor they behind probes.

mod schedule;

mod reconfigure;

mod cue;

pub mod timer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use reconfigure::{Change, Prepared};
pub use schedule::Schedule;

use crate::config::Endpoint;
use crate::probe::{ClientPool, Prober};
use crate::stats::{Clock, EndpointId, Recorder, Sample, SampleKind};

/// The least time between two wake-ups of a shard: ticks due closer together than
/// this fire together, up to this late (the lag they are recorded with).
const WAKE_GAP: Duration = Duration::from_millis(1);

/// When a shard whose earliest tick is due at `due` sets its alarm, if it last fired
/// ticks for an alarm set for `last`: at `due`, but at most once per [`WAKE_GAP`].
fn alarm_time(due: Instant, last: Instant) -> Instant {
    due.max(last + WAKE_GAP)
}

/// How late a tick may fire before the ticks missed meanwhile are counted as
/// skipped in one go instead of being fired late one by one.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(1);

/// The running probes of every endpoint.
pub struct Engine {
    /// While true, ticks pass without probes (and are not counted as skipped).
    paused: tokio::sync::watch::Sender<bool>,
    /// Stop scheduling new probes.
    stop: CancellationToken,
    /// Cancel probes in flight too.
    abort: CancellationToken,
    /// The shards and every probe in flight.
    tasks: TaskTracker,
    /// Each shard's commands (a reload's changes); endpoint `id` is in shard
    /// `id % shards.len()`.
    shards: Vec<tokio::sync::mpsc::UnboundedSender<reconfigure::ShardCommand>>,
    /// What a reload needs to build probers: the shared clients, each endpoint's
    /// settings as probed now, the recorder. Locked only to prepare or commit a
    /// change, never across an await.
    control: Mutex<reconfigure::Control>,
    /// When a `--duration` run stops probing: its duration after the schedules
    /// started ([`Engine::deadline`]).
    deadline: Option<Instant>,
    /// The probing thread, which ends once every task in `tasks` has; not joined
    /// (that would block the caller's runtime), it ends promptly after [`Engine::abort`].
    _thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    /// Starts the schedule of every endpoint, their first ticks packed a millisecond
    /// apart within the first second (or their interval, if shorter), the hosts
    /// interleaved (see [`schedule::first_offset`] and [`schedule::start_order`]).
    ///
    /// With a `deadline`, only ticks due before it are probed; the probes in flight
    /// then finish and the engine ends by itself (a run of `--duration`). The
    /// schedules start once the probers are built, not at `clock.start`, and the
    /// deadline moves with them ([`Engine::deadline`]).
    pub fn start(
        endpoints: &[Endpoint],
        recorder: &Recorder,
        clock: Clock,
        deadline: Option<Instant>,
    ) -> anyhow::Result<Self> {
        Self::start_shared(endpoints.into(), recorder, clock, deadline)
    }

    /// [`Engine::start`] with the run's own endpoint list, kept (to tell what a
    /// reload changes) without a copy.
    pub fn start_shared(
        endpoints: Arc<[Endpoint]>,
        recorder: &Recorder,
        clock: Clock,
        deadline: Option<Instant>,
    ) -> anyhow::Result<Self> {
        let mut clients = ClientPool::default();
        let mut engine = Engine {
            paused: tokio::sync::watch::Sender::new(false),
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            tasks: TaskTracker::new(),
            shards: Vec::new(),
            control: Mutex::new(reconfigure::Control::new(recorder.clone())),
            deadline: None,
            _thread: None,
        };
        // Two shards, so that the heap each keeps is half as deep; both on the one
        // probing thread.
        let shard_count = endpoints.len().clamp(1, 2);
        let per_shard = endpoints.len().div_ceil(shard_count);
        let cues = cue::Cues::new(shard_count);
        let mut shards: Vec<Shard> = (0..shard_count)
            .map(|_| {
                let (tx, commands) = tokio::sync::mpsc::unbounded_channel();
                engine.shards.push(tx);
                commands
            })
            .collect::<Vec<_>>()
            .into_iter()
            .enumerate()
            .map(|(number, commands)| Shard {
                number,
                cues: Arc::clone(&cues),
                // Sized for their share up front, not grown (and copied) as they fill.
                slots: Vec::with_capacity(per_shard),
                positions: HashMap::with_capacity(per_shard),
                commands: Some(commands),
                start: clock.start,
                due: BinaryHeap::with_capacity(per_shard),
                deadline,
                paused: engine.paused.subscribe(),
                recorder: recorder.clone(),
                stop: engine.stop.clone(),
                tasks: engine.tasks.clone(),
                shortest_timeout: Duration::MAX,
                early: cue::MOST_EARLY,
            })
            .collect();
        let mut probers = Vec::with_capacity(endpoints.len());
        for (index, endpoint) in endpoints.iter().enumerate() {
            let connections = {
                let recorder = recorder.clone();
                Arc::new(move |record| recorder.record_connection(index, record))
            };
            probers.push(Arc::new(Prober::new(endpoint, &mut clients, connections)?));
        }
        engine
            .control
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .started(clients, endpoints.clone());
        // The runtime is built and dropped on its own thread: a runtime may not be
        // dropped inside another (should anything here fail, the caller's).
        let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
        let (go, started) = tokio::sync::oneshot::channel::<()>();
        let tasks = engine.tasks.clone();
        let thread = std::thread::Builder::new()
            .name("probetop-engine".into())
            .spawn(move || {
                // I/O and time only: no signal or child-process driver to look at
                // on every turn (`enable_all` reaps orphans at each park).
                // See `cue`: a tick due within a millisecond fires instead of
                // the thread sleeping and waking for it.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .on_thread_park(move || cues.before_park())
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        // The receiver waits for exactly this answer.
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                // As above: `start` waits for this answer.
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async move {
                    // Dropped unsent when `start` failed: there is nothing to run then.
                    if started.await.is_ok() {
                        tasks.wait().await;
                    }
                });
                // Dropping the runtime ends the pooled connections' tasks.
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the probing thread ended before it started"))??;
        // The schedules start once everything is built, not at the clock's start:
        // building the probers (and the statistics before them) takes a while for a
        // large fleet (130 ms at 50,000 endpoints), and so does queueing their ticks
        // (25–30 ms), and the first ticks would all be that late: lateness of
        // probetop's start, not of its probing. They are queued from a provisional
        // origin, then moved on by the time that took.
        // A `--duration` run probes for its whole duration from there.
        let provisional = Instant::now().max(clock.start);
        let deadline = deadline.map(|d| d + (provisional - clock.start));
        for shard in &mut shards {
            shard.start = provisional;
            shard.deadline = deadline;
        }
        let count = endpoints.len().max(1) as u32;
        let ranks = schedule::start_order(
            endpoints
                .iter()
                .map(|e| (e.url.host_str(), e.url.port_or_known_default())),
        );
        for (index, (endpoint, prober)) in endpoints.iter().zip(probers).enumerate() {
            let offset = schedule::first_offset(endpoint.interval, ranks[index], count);
            shards[index % shard_count].add(Slot {
                index,
                schedule: Schedule::new(provisional + offset, endpoint.interval),
                max_in_flight: endpoint.max_in_flight as usize,
                in_flight: Arc::new(AtomicUsize::new(0)),
                prober,
                cancel: engine.abort.child_token(),
            });
        }
        let queueing = provisional.elapsed();
        engine.deadline = deadline.map(|d| d + queueing);
        for mut shard in shards {
            shard.postpone(queueing);
            engine.tasks.spawn_on(shard.run(), &handle);
        }
        engine.tasks.close();
        // The thread waits for this only, so it cannot have gone.
        let _ = go.send(());
        engine._thread = Some(thread);
        Ok(engine)
    }

    /// When a run with a deadline stops probing: the deadline given to
    /// [`Engine::start`], moved on by the time its start-up took (the schedules start
    /// once the probers are built), so a `--duration` run probes for all of it.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Pauses or resumes probing. Ticks due while paused are neither probed nor
    /// counted as skipped (nothing was wanted); the schedule's phase is kept.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// Whether probing is paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Stops scheduling and cancels the probes in flight.
    pub fn abort(&self) {
        self.stop.cancel();
        self.abort.cancel();
    }

    /// Waits until the schedule has ended and no probe is in flight.
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.abort();
    }
}

/// One endpoint's schedule and probes.
struct Slot {
    /// The endpoint's id, which its samples carry.
    index: EndpointId,
    schedule: Schedule,
    max_in_flight: usize,
    /// Probes of this endpoint in flight (decremented by the probe task as it ends).
    in_flight: Arc<AtomicUsize>,
    prober: Arc<Prober>,
    /// Cancels this endpoint's probes in flight (a child of the engine's abort),
    /// when a reload removes it.
    cancel: CancellationToken,
}

/// The schedules of a share of the endpoints, fired by one task.
struct Shard {
    /// Which shard this is, among the thread's [`cue::Cues`].
    number: usize,
    /// Told when to fire a little early (see `cue`), and told of the probes it spawns.
    cues: Arc<cue::Cues>,
    /// The endpoints' slots; `None` where a reload removed one (positions stay put,
    /// so the heap's entries stay valid).
    slots: Vec<Option<Slot>>,
    /// Position in `slots` of each endpoint id.
    positions: HashMap<EndpointId, usize>,
    /// A reload's changes; `None` once the engine is gone.
    commands: Option<tokio::sync::mpsc::UnboundedReceiver<reconfigure::ShardCommand>>,
    /// When the schedules started (just after the probers were built), which every
    /// schedule's phase is counted from.
    start: Instant,
    /// Each slot's next due tick, earliest first: (due, position in `slots`). An
    /// entry whose due time is not its slot's next (the slot was removed or
    /// rescheduled) is stale and passes without a tick.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    deadline: Option<Instant>,
    paused: tokio::sync::watch::Receiver<bool>,
    recorder: Recorder,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// The shortest timeout of any probe this shard started (`Duration::MAX` before
    /// the first), which the `timer::DriverKeeper` keeps ahead of.
    shortest_timeout: Duration,
    /// How early it may fire a tick (`cue::allowance` of the shortest interval any
    /// of its endpoints had).
    early: Duration,
}

impl Shard {
    fn add(&mut self, slot: Slot) {
        let position = self.slots.len();
        let due = slot.schedule.next_due();
        self.allow_for(slot.schedule.interval());
        self.positions.insert(slot.index, position);
        self.slots.push(Some(slot));
        self.queue(position, due);
    }

    /// Moves the start, the deadline and every queued tick `by` later, before the
    /// shard runs: the ticks' order is the same, so the heap stays one.
    fn postpone(&mut self, by: Duration) {
        self.start += by;
        self.deadline = self.deadline.map(|d| d + by);
        for slot in self.slots.iter_mut().flatten() {
            slot.schedule.postpone(by);
        }
        self.due = std::mem::take(&mut self.due)
            .into_iter()
            .map(|Reverse((at, position))| Reverse((at + by, position)))
            .collect();
    }

    /// Keeps the shard's early allowance within that of an endpoint probed every
    /// `interval`.
    fn allow_for(&mut self, interval: Duration) {
        self.early = self.early.min(cue::allowance(interval));
    }

    /// Queues slot `position`'s next tick, due at `due`, unless it is past the deadline.
    fn queue(&mut self, position: usize, due: Instant) {
        if self.deadline.is_none_or(|deadline| due < deadline) {
            self.due.push(Reverse((due, position)));
        }
    }

    async fn run(mut self) {
        self.probe_until_done().await;
        // Dropped off this thread: the slots of 25,000 endpoints took 60 ms to drop,
        // during which the other shard's last ticks fired late and the answers of
        // the probes in flight waited to be read (lateness that would be timed as
        // the targets'). The runtime waits for it as it shuts down.
        let slots = std::mem::take(&mut self.slots);
        drop(tokio::task::spawn_blocking(move || drop(slots)));
    }

    /// Fires the ticks as they come due until the deadline passes with none left,
    /// or the engine stops.
    async fn probe_until_done(&mut self) {
        let stopped = self.stop.clone().cancelled_owned();
        tokio::pin!(stopped);
        // One timer, reset for every wake-up rather than made anew; an `Alarm`, so
        // that a tick 100 ms away costs one wake-up, not two (see `timer`).
        let mut alarm = timer::Alarm::new();
        // See `timer::DriverKeeper`: setting the probes' timeouts must not each time
        // signal tokio's driver.
        let mut keeper = timer::DriverKeeper::new();
        // When this shard last fired its ticks, and the time its alarm was set
        // for then (or the time itself, if it woke for another reason).
        let mut fired = Instant::now();
        let mut fired_for = fired;
        let cues = Arc::clone(&self.cues);
        let number = self.number;
        loop {
            // With nothing due, wait for the deadline (a reload may still add
            // endpoints before it) or, without one, for a reload.
            let wake = match (self.due.peek(), self.deadline) {
                (Some(&Reverse((next, _))), _) => Some(next),
                (None, Some(deadline)) if Instant::now() < deadline => Some(deadline),
                (None, Some(_)) => return,
                (None, None) if self.commands.is_none() => return,
                (None, None) => None,
            };
            // At most one wake-up per `WAKE_GAP`: the alarm is exact, and at 10,000
            // endpoints a second, ticks 100 µs apart each woke the thread (60 µs of
            // CPU per probe instead of 20). Sparse ticks fire on time. Counted from
            // what the last alarm was set for, not from when it woke the thread:
            // ticks packed a gap apart (`schedule::FIRST_TICK_STEP`) would otherwise
            // each add the wake-up's own delay to the lag of all after them.
            let alarm_at = wake.map(|wake| alarm_time(wake, fired_for));
            if let Some(at) = alarm_at {
                alarm.set(at);
            }
            // Only an alarm for a tick may be fired early, not a deadline's.
            let for_tick = alarm_at.filter(|_| self.due.peek().is_some());
            match for_tick {
                Some(at) => cues.set_alarm(number, at, self.early),
                None => cues.clear_alarm(number),
            }
            keeper.before_sleep(Instant::now(), alarm_at);
            let early = tokio::select! {
                biased;
                () = &mut stopped => return,
                command = reconfigure::recv(&mut self.commands) => {
                    cues.clear_alarm(number);
                    cues.forget(number);
                    match command {
                        Some(command) => self.apply(command),
                        // The engine is gone: no more changes.
                        None => self.commands = None,
                    }
                    continue;
                }
                () = alarm.wait(), if wake.is_some() => false,
                () = keeper.wait() => {
                    cues.clear_alarm(number);
                    cues.forget(number);
                    continue;
                }
                () = cues.cued(number), if for_tick.is_some() => true,
            };
            cues.clear_alarm(number);
            fired = Instant::now();
            // Fired early only while it still holds: nothing in flight, the alarm
            // within the allowance (a cue is given just before the thread sleeps, and
            // taken before anything else runs, so this is a check, not a race).
            let early_until =
                for_tick.filter(|&at| early && !cues.busy() && at <= fired + self.early);
            if !early {
                cues.forget(number);
            } else if early_until.is_none() {
                continue;
            }
            fired_for = match (early_until, alarm_at) {
                // As if the alarm had gone off: the next is a gap after it.
                (Some(at), _) => at,
                (None, Some(at)) => at.min(fired),
                (None, None) => fired,
            };
            let paused = *self.paused.borrow();
            // Every tick due by now, in due order: the ones of this millisecond and
            // any that are late; fired early, those the alarm would have fired.
            loop {
                let now = Instant::now();
                let until = early_until.map_or(now, |at| at.max(now));
                match self.due.peek() {
                    Some(&Reverse((due, position))) if due <= until => {
                        self.due.pop();
                        self.fire(position, due, now, paused);
                    }
                    _ => break,
                }
            }
            if self.shortest_timeout < Duration::MAX {
                keeper.after_fire(fired, self.shortest_timeout);
            }
        }
    }

    /// Fires slot `position`'s tick that was due at `due`, at `now`, and queues its next.
    fn fire(&mut self, position: usize, due: Instant, now: Instant, paused: bool) {
        let deadline = self.deadline;
        let Some(slot) = self.slots.get_mut(position).and_then(Option::as_mut) else {
            return;
        };
        if slot.schedule.next_due() != due {
            // Stale: the slot was rescheduled, and its new tick is queued already.
            return;
        }
        let lag = now.saturating_duration_since(due);
        slot.schedule.advance();
        if paused {
            slot.schedule.skip_past(now, deadline);
        } else {
            // Far behind (the process was stopped, the machine slept): count the
            // ticks missed meanwhile as skipped at once rather than replaying them
            // one by one, which could never catch up.
            if lag > CATCH_UP_LIMIT {
                let missed = slot.schedule.skip_past(now, deadline);
                if missed > 0 {
                    self.recorder.record(Sample {
                        endpoint: slot.index,
                        at: now,
                        lag,
                        kind: SampleKind::Skipped(missed),
                    });
                }
            }
            if slot.in_flight.load(Ordering::Relaxed) < slot.max_in_flight {
                slot.in_flight.fetch_add(1, Ordering::Relaxed);
                self.cues.probe_started();
                self.shortest_timeout = self.shortest_timeout.min(slot.prober.timeout());
                let probe = Probe {
                    endpoint: slot.index,
                    due,
                    give_up_at: deadline.map(|d| d + slot.prober.timeout() + DEADLINE_GRACE),
                    prober: Arc::clone(&slot.prober),
                    in_flight: Arc::clone(&slot.in_flight),
                    cues: Arc::clone(&self.cues),
                    recorder: self.recorder.clone(),
                };
                self.tasks.spawn(probe.run(slot.cancel.clone()));
            } else {
                self.recorder.record(Sample {
                    endpoint: slot.index,
                    at: now,
                    lag,
                    kind: SampleKind::Skipped(1),
                });
            }
        }
        let next = slot.schedule.next_due();
        self.queue(position, next);
    }
}

/// How long past a run's deadline (and a probe's own timeout) a probe may still be
/// waiting: under overload, probes due before the deadline can wait for a turn on
/// their host long after it, and the run must still end.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// One probe in flight, as a task of its own.
struct Probe {
    endpoint: usize,
    due: Instant,
    /// With a `--duration` deadline: when to give up on this probe (deadline, plus
    /// its timeout, plus [`DEADLINE_GRACE`]); it is then counted as skipped, since
    /// probetop could not probe it in time.
    give_up_at: Option<Instant>,
    prober: Arc<Prober>,
    /// The endpoint's count of probes in flight, decremented when this one ends
    /// (finished, cancelled or panicked).
    in_flight: Arc<AtomicUsize>,
    /// The thread's count of probes in flight, decremented with the endpoint's.
    cues: Arc<cue::Cues>,
    recorder: Recorder,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.cues.probe_ended();
    }
}

impl Probe {
    async fn run(self, abort: CancellationToken) {
        let endpoint = self.endpoint;
        // Each future is built where it is awaited: one bound to a name first and
        // moved into another keeps its room in this task as well, and this task is
        // copied whole when it is spawned (it was 15 KB, a sixth of the probing
        // thread's CPU at 10,000 endpoints, in memmove).
        // (Nor `run_until_cancelled`: an `async fn`, it keeps its argument twice.)
        let result = tokio::select! {
            biased;
            () = abort.cancelled() => None,
            result = async {
                match self.give_up_at {
                    Some(at) => tokio::time::timeout_at(
                        at.into(),
                        AssertUnwindSafe(self.probe()).catch_unwind(),
                    )
                    .await
                    .ok(),
                    None => Some(AssertUnwindSafe(self.probe()).catch_unwind().await),
                }
            } => Some(result),
        };
        // Cancelled probes are not recorded: nothing was measured.
        match result {
            Some(Some(Err(_))) => {
                // A bug: its tick goes unrecorded, so say so loudly.
                tracing::error!(endpoint, "a probe panicked; its tick is not recorded");
            }
            Some(None) => {
                // Still waiting (for a turn, most likely) long past the run's end:
                // probetop could not probe this tick, which is its own doing.
                let now = Instant::now();
                self.recorder.record(Sample {
                    endpoint,
                    at: now,
                    lag: now.saturating_duration_since(self.due),
                    kind: SampleKind::Skipped(1),
                });
            }
            _ => {}
        }
    }

    async fn probe(&self) {
        let started = Instant::now();
        let (waited, outcome) = self.prober.probe_after_turn().await;
        // How late the request went out: the tick's own lateness, the wait for this
        // task to start, and any wait for a turn on a host shared with other
        // endpoints. All of it is probetop's delay, not the target's, and none of it
        // is in the latency, which starts when the request is sent.
        let lag = started.saturating_duration_since(self.due) + waited;
        self.recorder.record(Sample {
            endpoint: self.endpoint,
            at: Instant::now(),
            lag,
            kind: SampleKind::Probed(outcome),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe task's size, for an endpoint at `url`.
    fn probe_task_size(url: &str) -> usize {
        let second = Duration::from_secs(1);
        let endpoint = Endpoint::new("e", url::Url::parse(url).expect("a URL"), second, second);
        let mut clients = ClientPool::default();
        let prober = Prober::new(&endpoint, &mut clients, Arc::new(|_| {})).expect("a prober");
        let rules = vec![crate::stats::EndpointRules {
            state: endpoint.state_rule,
            min_cert_days: None,
            canary: false,
        }];
        let (recorder, _stats, _thread) =
            crate::stats::spawn(rules, second, second, Clock::now()).expect("statistics");
        let probe = Probe {
            endpoint: 0,
            due: Instant::now(),
            give_up_at: Some(Instant::now()),
            prober: Arc::new(prober),
            in_flight: Arc::new(AtomicUsize::new(1)),
            cues: cue::Cues::new(1),
            recorder,
        };
        std::mem::size_of_val(&probe.run(CancellationToken::new()))
    }

    #[test]
    fn a_probe_task_stays_small() {
        // Every probe's task is copied whole when it is spawned and again when it
        // ends: at 15 KB that was a sixth of the probing thread's CPU at 10,000
        // endpoints. A future bound to a name before it is awaited, or passed to an
        // `async fn`, doubles what it holds; this catches that coming back.
        for url in [
            "http://127.0.0.1:1/",
            "tls://127.0.0.1:1",
            "tcp://127.0.0.1:1",
        ] {
            let size = probe_task_size(url);
            assert!(size <= 3 * 1024, "a probe task of {url} is {size} bytes");
        }
    }

    #[test]
    fn wake_ups_late_by_their_own_delay_do_not_push_packed_ticks_later() {
        // The shard's loop, with every wake-up 300 µs after its alarm: ticks due a
        // millisecond apart (packed) fire 300 µs late each, never later; ticks due
        // 100 µs apart share wake-ups, at most one a millisecond.
        let start = Instant::now();
        for (step_us, count) in [(1_000u64, 200u64), (100, 2_000)] {
            let dues: Vec<Instant> = (0..count)
                .map(|k| start + Duration::from_micros(k * step_us))
                .collect();
            let (mut next, mut fired_for, mut wake_ups) = (0, start - WAKE_GAP, 0);
            let mut max_lag = Duration::ZERO;
            while next < dues.len() {
                let alarm = alarm_time(dues[next], fired_for);
                let woke = alarm + Duration::from_micros(300);
                fired_for = alarm;
                wake_ups += 1;
                while next < dues.len() && dues[next] <= woke {
                    max_lag = max_lag.max(woke - dues[next]);
                    next += 1;
                }
            }
            let span = Duration::from_micros(count * step_us);
            assert!(
                wake_ups as u128 <= span.as_millis() + 1,
                "{wake_ups} wake-ups for ticks {step_us} µs apart"
            );
            // Packed: each tick exactly the wake-up's delay late (the old rule added
            // it up: 60 ms by the 200th). Dense: up to a gap more.
            let step = Duration::from_micros(step_us);
            let bound = Duration::from_micros(300)
                + if step < WAKE_GAP {
                    WAKE_GAP
                } else {
                    Duration::ZERO
                };
            assert!(
                max_lag <= bound,
                "ticks {step_us} µs apart: lag {max_lag:?}"
            );
        }
    }

    /// `count` endpoints named e0, e1, … at `url`, each every second with a 1 s timeout.
    fn endpoints_at(url: &url::Url, count: usize) -> Vec<Endpoint> {
        let second = Duration::from_secs(1);
        (0..count)
            .map(|i| Endpoint::new(&format!("e{i}"), url.clone(), second, second))
            .collect()
    }

    /// The statistics thread for `endpoints`, with a 1 s window.
    fn statistics_for(
        endpoints: &[Endpoint],
        clock: Clock,
    ) -> (
        Recorder,
        crate::stats::StatsHandle,
        std::thread::JoinHandle<()>,
    ) {
        let rules = endpoints
            .iter()
            .map(|e| crate::stats::EndpointRules {
                state: e.state_rule,
                min_cert_days: None,
                canary: false,
            })
            .collect();
        let second = Duration::from_secs(1);
        crate::stats::spawn(rules, second, second, clock).expect("statistics")
    }

    /// A loopback HTTP/1.1 server answering every request with an empty 200, which
    /// notes when each request arrived; it serves at most `connections` connections,
    /// each until the client closes it or 10 s pass.
    fn noting_server(connections: usize) -> (u16, Arc<Mutex<Vec<Instant>>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let noted = Arc::clone(&arrivals);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let Ok(mut stream) = stream else { return };
                let noted = Arc::clone(&noted);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let (mut buffer, mut held) = ([0u8; 4096], Vec::new());
                    while let Ok(read) = stream.read(&mut buffer) {
                        if read == 0 {
                            return;
                        }
                        let now = Instant::now();
                        held.extend_from_slice(&buffer[..read]);
                        while let Some(end) = held.windows(4).position(|w| w == b"\r\n\r\n") {
                            held.drain(..end + 4);
                            noted.lock().expect("not poisoned").push(now);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if stream.write_all(answer).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (port, arrivals)
    }

    #[tokio::test]
    async fn no_tick_is_sent_more_than_a_cue_early() {
        // Twenty endpoints on one server, their first ticks packed a millisecond
        // apart, for two seconds: the shard may fire a tick early while the thread is
        // awake with nothing in flight (`cue`), but never more than its allowance
        // (`cue::allowance` of its interval) before it is due. Each request is noted
        // when the server reads it, after it was sent: a loaded machine makes it
        // later, never earlier, so a request noted before its due time less the
        // allowance was sent too early.
        let (port, arrivals) = noting_server(64);
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).expect("a URL");
        let second = Duration::from_secs(1);
        let count = 20;
        let endpoints = endpoints_at(&url, count);
        let clock = Clock::now();
        let (recorder, stats, _thread) = statistics_for(&endpoints, clock);
        let run = 2 * second;
        let engine =
            Engine::start(&endpoints, &recorder, clock, Some(clock.start + run)).expect("started");
        let origin = engine.deadline().expect("a deadline") - run;
        tokio::time::timeout(Duration::from_secs(30), engine.wait())
            .await
            .expect("the run ends");
        let probes: u64 = stats
            .read(|s| s.endpoints().iter().map(|e| e.probes()).sum())
            .await
            .expect("the statistics");
        assert_eq!(probes, 2 * count as u64, "every tick probed");
        let ranks = schedule::start_order(
            endpoints
                .iter()
                .map(|e| (e.url.host_str(), e.url.port_or_known_default())),
        );
        let mut dues: Vec<Instant> = (0..2u32)
            .flat_map(|k| {
                ranks.iter().map(move |&rank| {
                    origin + schedule::first_offset(second, rank, count as u32) + second * k
                })
            })
            .collect();
        dues.sort();
        let mut arrived = arrivals.lock().expect("not poisoned").clone();
        arrived.sort();
        assert_eq!(arrived.len(), dues.len(), "one request per tick");
        // If each request came after its own tick's due time less the allowance, the
        // j-th to come did after the j-th due time less it.
        let allowance = cue::allowance(second);
        for (j, (&at, &due)) in arrived.iter().zip(&dues).enumerate() {
            assert!(
                at + allowance >= due,
                "request {j} arrived {:?} before its due time",
                due - at
            );
        }
    }

    #[tokio::test]
    async fn a_slow_start_up_is_no_ticks_lag_and_a_duration_is_probed_whole() {
        // Accepts connections: a tcp:// probe of it succeeds.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let url = url::Url::parse(&format!("tcp://127.0.0.1:{port}")).expect("a URL");
        let second = Duration::from_secs(1);
        let endpoints = endpoints_at(&url, 4);
        let clock = Clock::now();
        let (recorder, stats, _thread) = statistics_for(&endpoints, clock);
        // A start-up that took 700 ms after the clock started (a large fleet's
        // statistics and probers being built), and a run of 1 s.
        std::thread::sleep(Duration::from_millis(700));
        let deadline = clock.start + second;
        let engine = Engine::start(&endpoints, &recorder, clock, Some(deadline)).expect("started");
        let moved = engine.deadline().expect("a deadline");
        assert!(moved >= deadline + Duration::from_millis(700), "{moved:?}");
        tokio::time::timeout(Duration::from_secs(30), engine.wait())
            .await
            .expect("the run ends");
        let (probes, skipped, max_lag_ms) = stats
            .read(|s| {
                let probes: Vec<u64> = s.endpoints().iter().map(|e| e.probes()).collect();
                let skipped: u64 = s.endpoints().iter().map(|e| e.skipped()).sum();
                (probes, skipped, s.scheduler_lag().max() / 1000)
            })
            .await
            .expect("the statistics");
        // Every endpoint probed once in its second, none of it late by the start-up
        // (it was 700 ms late before; a loaded machine's lag is far below that).
        assert_eq!(probes, vec![1; 4]);
        assert_eq!(skipped, 0);
        assert!(
            max_lag_ms < 350,
            "the scheduler lag reached {max_lag_ms} ms"
        );
    }
}
