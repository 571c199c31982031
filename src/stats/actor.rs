//! The task that owns the statistics, and the handles that talk to it.

use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Clock, EndpointStats, StatsSnapshot, new_histogram, record_duration};
use crate::probe::ProbeOutcome;

/// What happened at one tick of one endpoint.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Index of the endpoint, in config order.
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
    /// The overlap cap was reached, so no probe was sent.
    Skipped,
}

enum Command {
    Record(Sample),
    Snapshot(oneshot::Sender<StatsSnapshot>),
    Finish(oneshot::Sender<StatsSnapshot>),
    Reset,
}

/// Sends samples to the statistics; never waits. Cheap to clone, one per task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Command>,
}

impl Recorder {
    /// Records a sample. After the statistics task has ended, this does nothing.
    pub fn record(&self, sample: Sample) {
        let _ = self.tx.send(Command::Record(sample));
    }
}

/// Asks the statistics task for copies, or to reset.
#[derive(Clone)]
pub struct StatsHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl StatsHandle {
    /// A copy of every statistic, taken after every sample sent before this call.
    pub async fn snapshot(&self) -> Option<StatsSnapshot> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Command::Snapshot(reply)).ok()?;
        answer.await.ok()
    }

    /// The final statistics, moved out rather than copied (a copy would double the
    /// memory at the end of a large run); the statistics task ends after answering.
    pub async fn finish(&self) -> Option<StatsSnapshot> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Command::Finish(reply)).ok()?;
        answer.await.ok()
    }

    /// Forgets every statistic and starts counting again.
    pub fn reset(&self) {
        let _ = self.tx.send(Command::Reset);
    }
}

/// Starts the statistics task for `endpoints` endpoints. The task ends when every
/// [`Recorder`] and [`StatsHandle`] is dropped, after recording what was queued.
pub fn spawn(
    endpoints: usize,
    window: Duration,
    clock: Clock,
) -> (Recorder, StatsHandle, JoinHandle<()>) {
    // Unbounded: recording must never wait, and this task does nothing but drain it.
    let (tx, rx) = mpsc::unbounded_channel();
    let store = Store {
        clock,
        window,
        started_at: clock.start_wall,
        endpoints: vec![EndpointStats::default(); endpoints],
        scheduler_lag: new_histogram(),
    };
    let task = tokio::spawn(store.run(rx));
    (Recorder { tx: tx.clone() }, StatsHandle { tx }, task)
}

struct Store {
    clock: Clock,
    window: Duration,
    started_at: SystemTime,
    endpoints: Vec<EndpointStats>,
    scheduler_lag: Histogram<u64>,
}

impl Store {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Record(sample) => self.record(sample),
                Command::Snapshot(reply) => {
                    let _ = reply.send(self.snapshot());
                }
                Command::Finish(reply) => {
                    let _ = reply.send(self.into_snapshot());
                    return;
                }
                Command::Reset => self.reset(),
            }
        }
    }

    fn record(&mut self, sample: Sample) {
        let Some(stats) = self.endpoints.get_mut(sample.endpoint) else {
            return;
        };
        record_duration(&mut self.scheduler_lag, sample.lag);
        match sample.kind {
            SampleKind::Probed(outcome) => stats.record(
                outcome,
                self.clock.ds_since_start(sample.at),
                self.clock.wall(sample.at),
                self.window,
            ),
            SampleKind::Skipped => stats.record_skipped(),
        }
    }

    fn snapshot(&self) -> StatsSnapshot {
        self.snapshot_of(self.scheduler_lag.clone(), self.endpoints.clone())
    }

    fn into_snapshot(mut self) -> StatsSnapshot {
        let endpoints = std::mem::take(&mut self.endpoints);
        let lag = std::mem::replace(&mut self.scheduler_lag, new_histogram());
        self.snapshot_of(lag, endpoints)
    }

    fn snapshot_of(
        &self,
        scheduler_lag: Histogram<u64>,
        endpoints: Vec<EndpointStats>,
    ) -> StatsSnapshot {
        let now = Instant::now();
        StatsSnapshot {
            started_at: self.started_at,
            taken_at: self.clock.wall(now),
            window: self.window,
            scheduler_lag,
            endpoints,
            now_ds: self.clock.ds_since_start(now),
        }
    }

    fn reset(&mut self) {
        self.started_at = self.clock.wall(Instant::now());
        for stats in &mut self.endpoints {
            *stats = EndpointStats::default();
        }
        self.scheduler_lag.reset();
    }
}
