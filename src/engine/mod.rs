//! The per-endpoint tasks: fixed-rate ticks, timeouts, overlap cap, cancellation.
//!
//! Probe k of an endpoint is due at `start + offset + k × interval` whatever happened
//! to earlier probes (an open-loop schedule, so slow periods are not under-sampled).
//! Probes of one endpoint may overlap up to its `max_in_flight`; a tick beyond that is
//! recorded as skipped, never silently dropped.

mod schedule;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use schedule::Schedule;

use crate::config::Endpoint;
use crate::probe::{ClientPool, Prober};
use crate::stats::{Clock, Recorder, Sample, SampleKind};

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
    tasks: TaskTracker,
}

impl Engine {
    /// Starts one task per endpoint, spreading their first ticks across their interval.
    ///
    /// With a `deadline`, only ticks due before it are probed; each task then lets its
    /// probes in flight finish and ends by itself (a run of `--duration`).
    pub fn start(
        endpoints: &[Endpoint],
        recorder: &Recorder,
        clock: Clock,
        deadline: Option<Instant>,
    ) -> anyhow::Result<Self> {
        let mut clients = ClientPool::default();
        let engine = Engine {
            paused: tokio::sync::watch::Sender::new(false),
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        let count = endpoints.len().max(1) as u32;
        for (index, endpoint) in endpoints.iter().enumerate() {
            let connections = {
                let recorder = recorder.clone();
                Arc::new(move |record| recorder.record_connection(index, record))
            };
            let prober = Arc::new(Prober::new(endpoint, &mut clients, connections)?);
            let offset = endpoint.interval / count * index as u32;
            let task = EndpointTask {
                index,
                schedule: Schedule::new(clock.start + offset, endpoint.interval),
                max_in_flight: endpoint.max_in_flight as usize,
                deadline,
                paused: engine.paused.subscribe(),
                prober,
                recorder: recorder.clone(),
                stop: engine.stop.clone(),
                abort: engine.abort.clone(),
            };
            engine.tasks.spawn(task.run());
        }
        engine.tasks.close();
        Ok(engine)
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

    /// Waits until every endpoint task has ended.
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.abort();
    }
}

struct EndpointTask {
    index: usize,
    schedule: Schedule,
    max_in_flight: usize,
    deadline: Option<Instant>,
    paused: tokio::sync::watch::Receiver<bool>,
    prober: Arc<Prober>,
    recorder: Recorder,
    stop: CancellationToken,
    abort: CancellationToken,
}

impl EndpointTask {
    async fn run(mut self) {
        let mut in_flight = JoinSet::new();
        loop {
            let due = self.schedule.next_due();
            if self.deadline.is_some_and(|deadline| due >= deadline) {
                break;
            }
            tokio::select! {
                biased;
                () = self.stop.cancelled() => break,
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    log_failed_probe(self.index, joined);
                }
                () = tokio::time::sleep_until(due.into()) => {
                    let now = Instant::now();
                    let lag = now.saturating_duration_since(due);
                    self.schedule.advance();
                    if *self.paused.borrow() {
                        self.schedule.skip_past(now, self.deadline);
                        continue;
                    }
                    // Far behind (the process was stopped, the machine slept): count
                    // the ticks missed meanwhile as skipped at once rather than
                    // replaying them one by one, which could never catch up.
                    if lag > CATCH_UP_LIMIT {
                        let missed = self.schedule.skip_past(now, self.deadline);
                        if missed > 0 {
                            self.recorder.record(Sample {
                                endpoint: self.index,
                                at: now,
                                lag,
                                kind: SampleKind::Skipped(missed),
                            });
                        }
                    }
                    if in_flight.len() < self.max_in_flight {
                        in_flight.spawn(probe(self.index, lag, self.prober.clone(), self.recorder.clone()));
                    } else {
                        self.recorder.record(Sample {
                            endpoint: self.index,
                            at: Instant::now(),
                            lag,
                            kind: SampleKind::Skipped(1),
                        });
                    }
                }
            }
        }
        tokio::select! {
            // Cancelled probes are not recorded (nothing was measured), so their
            // `JoinError::Cancelled` results are dropped with the set.
            () = self.abort.cancelled() => in_flight.shutdown().await,
            () = drain(self.index, &mut in_flight) => {}
        }
    }
}

async fn drain(endpoint: usize, set: &mut JoinSet<()>) {
    while let Some(joined) = set.join_next().await {
        log_failed_probe(endpoint, joined);
    }
}

/// A probe task ends with `()`, or with a panic (a bug: its tick goes unrecorded, so
/// say so loudly) or a cancellation (shutdown: nothing to say).
fn log_failed_probe(endpoint: usize, joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(endpoint, %error, "a probe panicked; its tick is not recorded");
    }
}

async fn probe(endpoint: usize, lag: Duration, prober: Arc<Prober>, recorder: Recorder) {
    let outcome = prober.probe().await;
    recorder.record(Sample {
        endpoint,
        at: Instant::now(),
        lag,
        kind: SampleKind::Probed(outcome),
    });
}
