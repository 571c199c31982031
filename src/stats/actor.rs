//! The thread that owns the statistics, and the handles that talk to it.
//!
//! It runs on a thread of its own rather than on the async runtime, so that views can
//! have it compute summaries of thousands of endpoints ([`StatsHandle::read`]) without
//! ever stalling a probe: probes only enqueue samples, which it records in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::events::{AlertDelivery, EventSender, StateChange, StatsEvent};
use super::health::{LATE_TICK, QueueCounter, QueueDepth};
use super::{Clock, EndpointRules, EndpointStats, Observer, StatsStore};
use crate::probe::{ConnectionPhases, ErrorClass, ProbeOutcome};

/// What happened at one tick of one endpoint.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The endpoint's id: its index in config order, unless reloads moved it
    /// ([`super::EndpointSet`]).
    pub endpoint: usize,
    /// When the probe finished (or the tick was skipped).
    pub at: Instant,
    /// How late the tick fired.
    pub lag: Duration,
    /// The probe's outcome, or that it was skipped.
    pub kind: SampleKind,
}

/// A probed or a skipped tick.
#[derive(Debug, Clone)]
pub enum SampleKind {
    /// The probe finished with this outcome.
    Probed(ProbeOutcome),
    /// No probe was sent for this many ticks: the overlap cap was reached, or the
    /// scheduler fell far behind (the process was stopped, the machine slept).
    Skipped(u64),
}

/// The longest a sample waits in the queue while few come (see `Actor::run`).
const SAMPLE_DELAY: Duration = Duration::from_millis(500);
/// A queue this deep wakes the statistics thread before [`SAMPLE_DELAY`] is over.
const WAKE_DEPTH: u64 = 256;

type Reader = Box<dyn FnOnce(&StatsStore) + Send>;

enum Command {
    Record(Box<Sample>),
    Connection {
        endpoint: usize,
        at: Instant,
        phases: ConnectionPhases,
    },
    Read(Reader),
    Finish(oneshot::Sender<StatsStore>),
    Reset,
    Observe(Box<dyn Observer>),
    Resume(Box<super::Resume>),
    Reconfigure(Arc<super::EndpointSet>),
    Watch(EventSender),
    Alert(Box<AlertDelivery>),
}

/// The sending end of the statistics queue, counting what it sends: the queue stays
/// unbounded (recording must never wait), and its depth is measured instead, so it
/// cannot grow unnoticed ([`StatsStore::stats_queue`], the overload notice).
///
/// Samples do not wake the statistics thread (see `Actor::run`): at a few probes a
/// second that would be a wake-up, a futex call and two context switches per probe,
/// for statistics that are read once a second. Every other message does.
#[derive(Clone)]
struct Queue {
    tx: mpsc::UnboundedSender<Command>,
    counter: Arc<QueueCounter>,
    /// Declared after `tx`, so that the last queue dropped closes the channel
    /// before it wakes the thread to notice.
    thread: Arc<Wake>,
}

/// Wakes the statistics thread; the last one dropped wakes it to end.
struct Wake(std::thread::Thread);

impl Drop for Wake {
    fn drop(&mut self) {
        self.0.unpark();
    }
}

impl Queue {
    /// Sends `command`; `false` once the statistics thread has ended.
    fn send(&self, command: Command) -> bool {
        let sample = matches!(command, Command::Record(_) | Command::Connection { .. });
        // Counted before sending, so the thread can never have taken more than was
        // counted; a failed send leaves one phantom message in a queue nobody reads.
        let depth = self.counter.sent();
        let sent = self.tx.send(command).is_ok();
        // After the send, so that the thread finds it. An unpark of a thread that is
        // not parked is one atomic swap.
        if !sample || depth >= WAKE_DEPTH {
            self.thread.0.unpark();
        }
        sent
    }
}

/// Sends samples to the statistics; never waits. Cheap to clone, one per task.
#[derive(Clone)]
pub struct Recorder {
    queue: Queue,
}

impl Recorder {
    /// Records a sample. After the statistics thread has ended, this does nothing.
    pub fn record(&self, sample: Sample) {
        // Sending fails only once the statistics thread has ended (the run is
        // finishing): nobody is left to read the sample, so dropping it is right.
        self.queue.send(Command::Record(Box::new(sample)));
    }

    /// Records a connection a probe of `endpoint` opened (or tried to).
    pub fn record_connection(&self, endpoint: usize, phases: ConnectionPhases) {
        // As in `record`: a failed send means the statistics have ended.
        self.queue.send(Command::Connection {
            endpoint,
            at: Instant::now(),
            phases,
        });
    }
}

/// Asks the statistics thread for summaries or copies, or to reset.
#[derive(Clone)]
pub struct StatsHandle {
    queue: Queue,
}

impl StatsHandle {
    /// Runs `read` on the statistics thread, after every sample sent before this call
    /// is recorded, and returns its result. Samples sent meanwhile wait in the queue
    /// (the probes that sent them do not), so `read` may take its time, but not forever.
    /// `None` once the statistics thread has ended.
    pub async fn read<R, F>(&self, read: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&StatsStore) -> R + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let reader: Reader = Box::new(move |stats| {
            // The caller stopped waiting (its task was cancelled): nobody wants the answer.
            let _ = reply.send(read(stats));
        });
        self.queue.send(Command::Read(reader)).then_some(())?;
        answer.await.ok()
    }

    /// The final statistics, moved out rather than copied (a copy would double the
    /// memory at the end of a large run); the statistics thread ends after answering.
    /// `None` if it had ended already.
    pub async fn finish(&self) -> Option<StatsStore> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Command::Finish(reply)).then_some(())?;
        answer.await.ok()
    }

    /// Has `observer` hear of every probe recorded from now on (after every sample
    /// sent before this call): call it before the engine starts to miss none. One
    /// observer at a time; a second replaces the first.
    pub fn observe(&self, observer: Box<dyn Observer>) {
        // After the statistics thread has ended there is nothing left to observe.
        self.queue.send(Command::Observe(observer));
    }

    /// Continues from an earlier run's statistics (`--resume`). Send it before the
    /// engine starts: the queue is in order, so every sample lands on top of it.
    pub fn resume(&self, resume: super::Resume) {
        // After the statistics thread has ended there is nothing left to seed.
        self.queue.send(Command::Resume(Box::new(resume)));
    }

    /// Takes on a new set of endpoints (a reload): kept ones keep every statistic,
    /// removed ones go, added ones start. Samples sent after this call count by it.
    pub fn reconfigure(&self, set: Arc<super::EndpointSet>) {
        // After the statistics thread has ended there is nothing left to change.
        self.queue.send(Command::Reconfigure(set));
    }

    /// Forgets every statistic and starts counting again.
    pub fn reset(&self) {
        // After the statistics thread has ended there is nothing left to reset.
        self.queue.send(Command::Reset);
    }

    /// Sends every state change and canary verdict recorded from now on to `events`
    /// (replacing an earlier listener). The queue is bounded: when its listener falls
    /// behind, events are dropped and counted, never waited for.
    pub fn watch(&self, events: EventSender) {
        // After the statistics thread has ended there is nothing left to watch.
        self.queue.send(Command::Watch(events));
    }

    /// Keeps the result of an alert delivery (the snapshot's `alerts`, the detail view).
    pub fn record_alert(&self, delivery: AlertDelivery) {
        // After the statistics thread has ended nobody reads the result any more.
        self.queue.send(Command::Alert(Box::new(delivery)));
    }
}

/// Starts the statistics thread for one endpoint per entry in `rules`, whose rolling window spans
/// `window` and whose raw entries are kept for `retention` (at least `window`: the
/// views can summarise any span up to it). The thread ends when every [`Recorder`]
/// and [`StatsHandle`] is dropped, or after answering [`StatsHandle::finish`].
pub fn spawn(
    rules: Vec<EndpointRules>,
    window: Duration,
    retention: Duration,
    clock: Clock,
) -> std::io::Result<(Recorder, StatsHandle, std::thread::JoinHandle<()>)> {
    // Unbounded: recording must never wait, and this thread does nothing but drain it.
    let (tx, rx) = mpsc::unbounded_channel();
    let counter = QueueCounter::shared();
    let actor = Actor {
        clock,
        counter: counter.clone(),
        events: None,
        unsent_set: None,
        taken: 0,
        queue: QueueDepth::default(),
        retention: retention.max(window),
        observer: None,
        store: StatsStore::new(
            clock.start_wall,
            window,
            rules.into_iter().map(EndpointStats::with_rules).collect(),
        ),
    };
    let thread = std::thread::Builder::new()
        .name("probetop-stats".into())
        .spawn(move || actor.run(rx))?;
    let queue = Queue {
        tx,
        counter,
        thread: Arc::new(Wake(thread.thread().clone())),
    };
    Ok((
        Recorder {
            queue: queue.clone(),
        },
        StatsHandle { queue },
        thread,
    ))
}

/// The statistics thread's state: the store, and how to turn a sample's instants
/// into the store's times.
struct Actor {
    clock: Clock,
    /// The queue's counts, shared with its senders.
    counter: Arc<QueueCounter>,
    /// Where state changes go, once someone watches.
    events: Option<EventSender>,
    /// The latest endpoint set the listener had no room for, sent again before the
    /// next event: without it, every later state change would name ids it does not
    /// know, for the rest of the run.
    unsent_set: Option<Arc<super::EndpointSet>>,
    /// Messages taken out of the queue so far.
    taken: u64,
    /// The depth behind the latest message taken, and the deepest since the start.
    queue: QueueDepth,
    /// How long raw window entries are kept.
    retention: Duration,
    /// Hears of every recorded probe (the log of state changes and first errors).
    observer: Option<Box<dyn Observer>>,
    store: StatsStore,
}

impl Actor {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        // The thread is woken by every message but samples (a read, a reset, the
        // end), by a queue [`WAKE_DEPTH`] deep, or after [`SAMPLE_DELAY`]; then it
        // takes everything queued. A read is answered after every sample sent
        // before it, so views see no difference; what waits is only what the
        // observer and the alerting hear of, by at most `SAMPLE_DELAY`. At
        // thousands of samples a second it wakes every `WAKE_DEPTH` samples rather
        // than at every one; at ten, twice a second rather than ten times.
        loop {
            loop {
                match rx.try_recv() {
                    Ok(command) => {
                        if let Some(reply) = self.handle(command) {
                            return self.finish(reply);
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    // Every recorder and handle is gone.
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            std::thread::park_timeout(SAMPLE_DELAY);
        }
    }

    /// Handles one command; returns the reply channel of a [`Command::Finish`], after
    /// which the thread ends.
    fn handle(&mut self, command: Command) -> Option<oneshot::Sender<StatsStore>> {
        self.taken += 1;
        let depth = self.counter.taken(self.taken);
        self.queue.depth = depth;
        self.queue.max_depth = self.queue.max_depth.max(depth);
        match command {
            Command::Record(sample) => self.record(*sample),
            Command::Connection {
                endpoint,
                at,
                phases,
            } => {
                if let Some(stats) = self.store.endpoint_mut(endpoint) {
                    let at_ds = self.clock.ds_since_start(at);
                    stats.record_connection(&phases, at_ds, self.retention);
                }
            }
            Command::Read(reader) => {
                self.stamp();
                reader(&self.store);
            }
            Command::Finish(reply) => return Some(reply),
            Command::Reset => self.reset(),
            Command::Observe(observer) => self.observer = Some(observer),
            Command::Resume(resume) => self.store.resume(*resume),
            Command::Reconfigure(set) => {
                if let Some(observer) = &mut self.observer {
                    observer.reconfigure(&set);
                }
                self.emit(StatsEvent::Reconfigured(set.clone()));
                if let Some(down) = self.store.reconfigure(set) {
                    self.local_network_changed(down, self.clock.wall(Instant::now()));
                }
            }
            Command::Watch(events) => self.events = Some(events),
            Command::Alert(delivery) => self.store.push_alert(*delivery),
        }
        None
    }

    /// Answers [`StatsHandle::finish`]: the store moves out, and the thread ends.
    fn finish(mut self, reply: oneshot::Sender<StatsStore>) {
        if let Some(observer) = &mut self.observer {
            observer.finish();
        }
        self.stamp();
        // The caller stopped waiting: the statistics end unread either way.
        let _ = reply.send(self.store);
    }

    /// Sets the time the statistics are read at.
    fn stamp(&mut self) {
        let now = Instant::now();
        self.store
            .stamp(self.clock.wall(now), self.clock.ds_since_start(now));
        // The depth as of now, not as of the read's own message: what waits behind it.
        let depth = self.counter.depth();
        self.store.set_stats_queue(QueueDepth {
            depth,
            max_depth: self.queue.max_depth.max(depth),
        });
    }

    fn record(&mut self, sample: Sample) {
        let second = self.clock.ds_since_start(sample.at) / 10;
        let overloaded = self
            .store
            .overload_tick(second, sample.lag, self.queue.depth);
        // Decided before this probe counts: a canary's own failure is never excused.
        let excused = matches!(&sample.kind, SampleKind::Probed(o) if o.error.is_some())
            && self.store.excuses(sample.endpoint);
        let Some(stats) = self.store.tick(sample.endpoint, sample.lag) else {
            return;
        };
        match sample.kind {
            SampleKind::Probed(mut outcome) => {
                excuse_timeout(&mut outcome, sample.lag, overloaded);
                let at = self.clock.wall(sample.at);
                let mut change = None;
                if excused {
                    stats.record_excused(outcome, at);
                } else {
                    let recorded = stats.record(
                        outcome,
                        self.clock.ds_since_start(sample.at),
                        at,
                        self.retention,
                    );
                    if let Some(observer) = &mut self.observer {
                        observer.recorded(sample.endpoint, sample.at, recorded, stats);
                    }
                    if let Some(t) = recorded.transition {
                        change = Some(StateChange {
                            endpoint: sample.endpoint,
                            at: t.at,
                            from: t.from,
                            to: t.to,
                            reason: stats.state_reason(),
                        });
                    }
                }
                // The hook for state changes: the one place they leave the thread.
                if let Some(change) = change {
                    self.emit(StatsEvent::StateChanged(change));
                }
                if let Some(down) = self.store.canary_recorded(sample.endpoint) {
                    self.local_network_changed(down, at);
                }
            }
            SampleKind::Skipped(ticks) => stats.record_skipped(ticks),
        }
    }

    /// Logs the canaries' new verdict on probetop's own network (decided at `at`)
    /// and tells whoever watches.
    fn local_network_changed(&mut self, down: bool, at: std::time::SystemTime) {
        if down {
            tracing::warn!(
                "every canary fails: local network down; other endpoints' failures are excused"
            );
        } else if self.store.canaries() == 0 {
            tracing::info!("no canary left after the reload: local network up");
        } else {
            tracing::info!("a canary succeeds again: local network up");
        }
        self.emit(StatsEvent::LocalNetwork { down, at });
    }

    /// Hands `event` to whoever watches, without waiting: dropped and counted when
    /// its queue is full.
    fn emit(&mut self, event: StatsEvent) {
        if self.events.is_none() {
            return;
        }
        let event = match event {
            // The newest set replaces one still unsent; it goes out below.
            StatsEvent::Reconfigured(set) => {
                self.unsent_set = Some(set);
                None
            }
            other => Some(other),
        };
        // A set the listener had no room for goes before anything else, so that no
        // event names an id it has not heard of. It is never lost, so not counted.
        if let Some(set) = self.unsent_set.take()
            && !self.send(StatsEvent::Reconfigured(set.clone()))
        {
            self.unsent_set = Some(set);
            if event.is_some() {
                self.store.count_dropped_event();
            }
            return;
        }
        if let Some(event) = event
            && !self.send(event)
        {
            self.store.count_dropped_event();
        }
    }

    /// Sends `event` if the listener has room; `false` if not.
    fn send(&self, event: StatsEvent) -> bool {
        self.events
            .as_ref()
            .is_some_and(|events| events.send(event))
    }

    fn reset(&mut self) {
        let was_down = self.store.local_network_down();
        let now = self.clock.wall(Instant::now());
        self.store.reset(now);
        // The deepest queue is counted from the reset on, as the lag is.
        self.queue.max_depth = self.queue.depth;
        // No canary has a verdict any more: whoever watches must not keep the old one.
        if was_down {
            self.emit(StatsEvent::LocalNetwork {
                down: false,
                at: now,
            });
        }
    }
}

/// A timeout is not blamed on the target alone when probetop itself was behind: the
/// probe started more than [`LATE_TICK`] late, or probetop was overloaded then (its
/// runtime may not have read an answer that came in time). The class stays `timeout`
/// (the probe did not get its answer within the timeout, whoever is to blame: counts
/// and `--fail-on` keep their meaning); the message says what probetop knows.
fn excuse_timeout(
    outcome: &mut ProbeOutcome,
    lag: Duration,
    overloaded: Option<super::OverloadReason>,
) {
    let Some(error) = outcome.error.as_mut() else {
        return;
    };
    if error.class != ErrorClass::Timeout {
        return;
    }
    if lag > LATE_TICK {
        error.message.push_str(&format!(
            " (probetop was overloaded: this probe started {} ms late)",
            lag.as_millis()
        ));
    } else if let Some(reason) = overloaded {
        error
            .message
            .push_str(&format!(" — probetop was overloaded: {reason}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ErrorClass, ProbeOutcome};
    use crate::stats::{EVENT_QUEUE, State, StateRule, event_queue};

    fn sample(endpoint: usize, ok: bool) -> Sample {
        let outcome = if ok {
            ProbeOutcome {
                status: Some(200),
                ..ProbeOutcome::default()
            }
        } else {
            ProbeOutcome::failed(ErrorClass::Connect, "refused")
        };
        Sample {
            endpoint,
            at: Instant::now(),
            lag: Duration::ZERO,
            kind: SampleKind::Probed(outcome),
        }
    }

    fn rules(canary: bool) -> EndpointRules {
        EndpointRules {
            state: StateRule {
                down_after: 1,
                up_after: 1,
            },
            min_cert_days: None,
            canary,
        }
    }

    #[tokio::test]
    async fn state_changes_and_the_canarys_verdict_leave_through_the_queue() {
        let span = Duration::from_secs(60);
        let (recorder, handle, thread) =
            spawn(vec![rules(true), rules(false)], span, span, Clock::now()).unwrap();
        let (events, mut rx) = event_queue();
        handle.watch(events);
        recorder.record(sample(1, true));
        recorder.record(sample(1, false));
        recorder.record(sample(0, false));
        recorder.record(sample(1, true));
        recorder.record(sample(1, false));
        recorder.record(sample(0, true));
        let store = handle.finish().await.unwrap();
        thread.join().unwrap();
        let mut seen = Vec::new();
        while let Ok(event) = rx.try_recv() {
            seen.push(match event {
                StatsEvent::StateChanged(c) => {
                    format!("{} {:?}→{:?} {}", c.endpoint, c.from, c.to, c.reason)
                }
                StatsEvent::LocalNetwork { down, .. } => format!("network down {down}"),
                StatsEvent::Reconfigured(set) => format!("reconfigured {}", set.generation),
            });
        }
        assert_eq!(
            seen,
            [
                "1 Unknown→Up ",
                "1 Up→Down connect: refused",
                "0 Unknown→Down connect: refused",
                "network down true",
                "1 Down→Up ",
                // The failure while the canary failed: excused, no change.
                "0 Down→Up ",
                "network down false",
            ]
        );
        let api = &store.endpoints()[1];
        assert_eq!(
            (api.probes(), api.ok(), api.failed(), api.excused()),
            (4, 2, 1, 1)
        );
        assert_eq!(api.state(), State::Up);
        assert!(!store.local_network_down());
        assert_eq!(store.events_dropped(), 0);
    }

    #[tokio::test]
    async fn a_listener_that_falls_behind_loses_events_counted_never_waited_for() {
        let span = Duration::from_secs(60);
        let (recorder, handle, thread) =
            spawn(vec![rules(false)], span, span, Clock::now()).unwrap();
        let (events, _rx) = event_queue();
        handle.watch(events);
        // Every sample flips the state: one event each, nobody reading.
        let n = EVENT_QUEUE + 100;
        for i in 0..n {
            recorder.record(sample(0, i % 2 == 0));
        }
        let store = handle.finish().await.unwrap();
        thread.join().unwrap();
        assert_eq!(store.endpoints()[0].probes(), n as u64);
        assert_eq!(store.events_dropped(), 100);
    }

    #[tokio::test]
    async fn a_set_the_listener_had_no_room_for_goes_before_the_next_event() {
        let span = Duration::from_secs(60);
        let (recorder, handle, thread) =
            spawn(vec![rules(false)], span, span, Clock::now()).unwrap();
        let (events, mut rx) = event_queue();
        handle.watch(events);
        for i in 0..EVENT_QUEUE {
            recorder.record(sample(0, i % 2 == 0));
        }
        let endpoint = |name: &str| {
            let url = url::Url::parse("tcp://127.0.0.1:9").unwrap();
            crate::config::Endpoint::new(name, url, span, span)
        };
        handle.reconfigure(Arc::new(crate::stats::EndpointSet {
            endpoints: vec![endpoint("a"), endpoint("added")].into(),
            ids: vec![0, 1].into(),
            file_intervals: vec![span; 2].into(),
            generation: 1,
        }));
        // The queue was full: the set waits. Once there is room, it comes first.
        handle.read(|_| ()).await.unwrap();
        let mut full = 0;
        while rx.try_recv().is_ok() {
            full += 1;
        }
        assert_eq!(full, EVENT_QUEUE);
        recorder.record(sample(1, false));
        handle.read(|_| ()).await.unwrap();
        match rx.try_recv() {
            Ok(StatsEvent::Reconfigured(set)) => assert_eq!(set.generation, 1),
            other => panic!("expected the set first, got {other:?}"),
        }
        match rx.try_recv() {
            Ok(StatsEvent::StateChanged(change)) => assert_eq!(change.endpoint, 1),
            other => panic!("expected the added endpoint's change, got {other:?}"),
        }
        let store = handle.finish().await.unwrap();
        thread.join().unwrap();
        assert_eq!(store.events_dropped(), 0, "the set was late, not lost");
    }

    #[tokio::test]
    async fn samples_are_read_at_once_and_heard_of_without_a_read() {
        let span = Duration::from_secs(60);
        let (recorder, handle, _thread) =
            spawn(vec![rules(false)], span, span, Clock::now()).unwrap();
        let (events, mut rx) = event_queue();
        handle.watch(events);
        recorder.record(sample(0, true));
        // Samples wake nobody, but a read comes after every one sent before it.
        let probes = handle.read(|s| s.endpoints()[0].probes()).await;
        assert_eq!(probes, Some(1));
        rx.recv().await.expect("the first state change");
        // With no read at all, the change still leaves, within the sample delay.
        recorder.record(sample(0, false));
        let event = tokio::time::timeout(SAMPLE_DELAY * 10, rx.recv())
            .await
            .expect("a state change without a read is heard of");
        assert!(
            matches!(&event, Some(StatsEvent::StateChanged(c)) if c.to == State::Down),
            "{event:?}"
        );
    }

    #[test]
    fn the_thread_ends_once_every_handle_is_gone() {
        let span = Duration::from_secs(60);
        let (recorder, handle, thread) =
            spawn(vec![rules(false)], span, span, Clock::now()).unwrap();
        recorder.record(sample(0, true));
        drop(recorder);
        drop(handle);
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(thread.join().is_ok());
        });
        assert_eq!(ended.recv_timeout(Duration::from_secs(10)), Ok(true));
    }
}
