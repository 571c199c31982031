//! Changing the probed endpoints while the engine runs (a reload, an interval
//! changed from the dashboard).
//!
//! The shards own their slots, so a change is a command sent to the shard that
//! holds the endpoint (endpoint `id` lives in shard `id % shards`), applied between
//! two wake-ups: nothing is shared with the probing thread. What can fail (building
//! a prober: a CA file that cannot be read) happens first, in [`Engine::prepare`],
//! so a change is applied whole or not at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use super::{Engine, Schedule, Shard, Slot};
use crate::config::Endpoint;
use crate::probe::{ClientPool, Prober};
use crate::stats::{EndpointId, Recorder};

/// One change to the probed endpoints.
#[derive(Debug, Clone)]
pub enum Change {
    /// Start probing a new endpoint under a new id.
    Add(EndpointId, Endpoint),
    /// Stop probing endpoint `id`; its probes in flight are cancelled.
    Remove(EndpointId),
    /// Probe endpoint `id` with these settings from its next tick on; an interval
    /// change keeps the endpoint's phase within its interval.
    Update(EndpointId, Endpoint),
}

/// Changes ready to apply: every prober is built.
pub struct Prepared {
    commands: Vec<(EndpointId, ShardCommand)>,
    settings: Vec<(EndpointId, Option<Endpoint>)>,
}

/// What a shard is asked to do.
pub(super) enum ShardCommand {
    Add(Slot),
    Remove(EndpointId),
    Update {
        id: EndpointId,
        /// A new prober, when more than the interval changed.
        prober: Option<(Arc<Prober>, usize)>,
        interval: Duration,
    },
}

/// The engine's side of a change: the clients probers share, the settings each
/// endpoint is probed with now (to tell what a change changes), and the recorder
/// new probers report connections to.
pub(super) struct Control {
    clients: ClientPool,
    /// The endpoints the engine started with, ids `0..n`: the run's own list, shared
    /// rather than copied (a copy of 50,000 cost 40 ms of start-up).
    started: Arc<[Endpoint]>,
    /// What changes made of the ids since: new settings, or `None` once removed.
    changed: HashMap<EndpointId, Option<Endpoint>>,
    recorder: Recorder,
}

impl Control {
    pub(super) fn new(recorder: Recorder) -> Self {
        Control {
            clients: ClientPool::default(),
            started: Arc::default(),
            changed: HashMap::new(),
            recorder,
        }
    }

    /// The clients and the endpoints the engine started with (ids `0..n`).
    pub(super) fn started(&mut self, clients: ClientPool, endpoints: Arc<[Endpoint]>) {
        self.clients = clients;
        self.started = endpoints;
        self.changed.clear();
    }

    /// The settings endpoint `id` is probed with now, if it is probed.
    fn settings(&self, id: EndpointId) -> Option<&Endpoint> {
        match self.changed.get(&id) {
            Some(changed) => changed.as_ref(),
            None => self.started.get(id),
        }
    }

    fn prober(&mut self, id: EndpointId, endpoint: &Endpoint) -> anyhow::Result<Arc<Prober>> {
        let recorder = self.recorder.clone();
        let connections = Arc::new(move |record| recorder.record_connection(id, record));
        Ok(Arc::new(Prober::new(
            endpoint,
            &mut self.clients,
            connections,
        )?))
    }
}

/// Whether `a` and `b` probe alike but for their interval. `Endpoint` holds regexes
/// and a method, which do not compare; their written forms do.
fn same_but_interval(a: &Endpoint, b: &Endpoint) -> bool {
    let mut b = b.clone();
    b.interval = a.interval;
    format!("{a:?}") == format!("{b:?}")
}

impl Engine {
    /// Builds what `changes` need (probers for new and changed endpoints); fails,
    /// changing nothing, if any cannot be built.
    pub fn prepare(&self, changes: Vec<Change>) -> anyhow::Result<Prepared> {
        let mut control = self
            .control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut prepared = Prepared {
            commands: Vec::new(),
            settings: Vec::new(),
        };
        for change in changes {
            match change {
                Change::Add(id, endpoint) => {
                    let prober = control
                        .prober(id, &endpoint)
                        .map_err(|e| e.context(format!("endpoint {:?}", endpoint.name)))?;
                    // Its first probe within a second (an hour's interval must not
                    // leave it empty for an hour), spread by id so that endpoints
                    // added together do not fire at once.
                    let first =
                        Instant::now() + spread(id, endpoint.interval.min(Duration::from_secs(1)));
                    let schedule = Schedule::new(first, endpoint.interval);
                    let slot = Slot {
                        index: id,
                        schedule,
                        max_in_flight: endpoint.max_in_flight as usize,
                        in_flight: Arc::new(AtomicUsize::new(0)),
                        prober,
                        cancel: self.abort.child_token(),
                    };
                    prepared.commands.push((id, ShardCommand::Add(slot)));
                    prepared.settings.push((id, Some(endpoint)));
                }
                Change::Remove(id) => {
                    prepared.commands.push((id, ShardCommand::Remove(id)));
                    prepared.settings.push((id, None));
                }
                Change::Update(id, endpoint) => {
                    let unchanged = control.settings(id);
                    let prober = match unchanged {
                        Some(old) if same_but_interval(old, &endpoint) => None,
                        _ => Some((
                            control
                                .prober(id, &endpoint)
                                .map_err(|e| e.context(format!("endpoint {:?}", endpoint.name)))?,
                            endpoint.max_in_flight as usize,
                        )),
                    };
                    let interval = endpoint.interval;
                    prepared.commands.push((
                        id,
                        ShardCommand::Update {
                            id,
                            prober,
                            interval,
                        },
                    ));
                    prepared.settings.push((id, Some(endpoint)));
                }
            }
        }
        Ok(prepared)
    }

    /// Applies prepared changes: each shard takes its own at its next wake-up.
    pub fn commit(&self, prepared: Prepared) {
        let mut control = self
            .control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, settings) in prepared.settings {
            if settings.is_none() && id >= control.started.len() {
                // Never among the started: forgetting it is removing it.
                control.changed.remove(&id);
            } else {
                control.changed.insert(id, settings);
            }
        }
        drop(control);
        for (id, command) in prepared.commands {
            let shard = &self.shards[id % self.shards.len()];
            // Fails only once the shard has ended (the run is stopping): nothing
            // is left to change.
            let _ = shard.send(command);
        }
    }
}

/// How far into `span` a new endpoint's first tick falls: spread by id, so
/// endpoints added together do not all fire at once.
fn spread(id: EndpointId, span: Duration) -> Duration {
    // The golden ratio's fraction spreads any run of ids evenly over the span.
    let fraction = (id as f64 * 0.618_033_988_749_895).fract();
    span.mul_f64(fraction)
}

/// The next command, or never once there are none to wait for.
pub(super) async fn recv(
    commands: &mut Option<tokio::sync::mpsc::UnboundedReceiver<ShardCommand>>,
) -> Option<ShardCommand> {
    match commands {
        Some(commands) => commands.recv().await,
        None => std::future::pending().await,
    }
}

impl Shard {
    /// Applies one change to this shard's slots.
    pub(super) fn apply(&mut self, command: ShardCommand) {
        match command {
            ShardCommand::Add(slot) => self.add(slot),
            ShardCommand::Remove(id) => {
                if let Some(position) = self.positions.remove(&id)
                    && let Some(slot) = self.slots[position].take()
                {
                    // Its samples would be dropped by the statistics anyway; nothing
                    // is left to wait for them.
                    slot.cancel.cancel();
                }
            }
            ShardCommand::Update {
                id,
                prober,
                interval,
            } => {
                let Some(&position) = self.positions.get(&id) else {
                    return;
                };
                let start = self.start;
                let Some(slot) = self.slots[position].as_mut() else {
                    return;
                };
                if let Some((prober, max_in_flight)) = prober {
                    slot.prober = prober;
                    slot.max_in_flight = max_in_flight;
                }
                if interval != slot.schedule.interval() {
                    slot.schedule = slot.schedule.rephased(start, interval, Instant::now());
                    let due = slot.schedule.next_due();
                    self.allow_for(interval);
                    self.queue(position, due);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{self, EndpointRules, EndpointSet, StatsStore};

    fn tcp_endpoint(name: &str, port: u16, interval: Duration) -> Endpoint {
        let url = url::Url::parse(&format!("tcp://127.0.0.1:{port}")).expect("a URL");
        Endpoint::new(name, url, interval, Duration::from_secs(2))
    }

    /// Polls the store until `check` holds, for at most 10 s.
    async fn until(stats: &stats::StatsHandle, check: fn(&StatsStore) -> bool) -> bool {
        for _ in 0..100 {
            if stats.read(check).await == Some(true) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    #[tokio::test]
    async fn added_endpoints_probe_within_a_second_and_removed_ones_stop() {
        // Accepts and holds connections: a tcp:// probe of it succeeds.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let clock = stats::Clock::now();
        let window = Duration::from_secs(60);
        let a = tcp_endpoint("a", port, Duration::from_millis(100));
        let rules = vec![EndpointRules {
            state: a.state_rule,
            min_cert_days: None,
            canary: false,
        }];
        let (recorder, stats, _thread) = stats::spawn(rules, window, window, clock).unwrap();
        let engine = Engine::start(std::slice::from_ref(&a), &recorder, clock, None).unwrap();
        assert!(until(&stats, |s| s.endpoints()[0].probes() >= 2).await);

        // An hour's interval, yet its first probe comes within a second.
        let b = tcp_endpoint("b", port, Duration::from_secs(3600));
        let prepared = engine
            .prepare(vec![Change::Add(1, b.clone()), Change::Remove(0)])
            .expect("probers for b");
        stats.reconfigure(Arc::new(EndpointSet {
            endpoints: vec![b].into(),
            ids: vec![1].into(),
            file_intervals: vec![Duration::from_secs(3600)].into(),
            generation: 1,
        }));
        let committed = Instant::now();
        engine.commit(prepared);
        assert!(until(&stats, |s| s.endpoints()[0].probes() == 1).await);
        assert!(
            committed.elapsed() < Duration::from_secs(5),
            "b's first probe took {:?}",
            committed.elapsed()
        );
        // One probe an hour, and nothing of a's is recorded any more.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let probes = stats
            .read(|s| s.endpoints().iter().map(|e| e.probes()).collect::<Vec<_>>())
            .await;
        assert_eq!(probes, Some(vec![1]));
        engine.abort();
        engine.wait().await;
    }
}
