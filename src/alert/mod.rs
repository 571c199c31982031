//! Alerts: from the statistics' state changes to deliveries (`[[alert]]`).
//!
//! The statistics thread hands every state change to a bounded queue
//! ([`crate::stats::StatsHandle::watch`]: dropped and counted when full, never
//! waited for). This module drains it on a thread of its own, with a small runtime
//! of its own, so that no delivery (a hanging webhook, a slow command) can delay a
//! probe or the dashboard. It decides what fires (`rules`), says it (`payload`) and
//! delivers it under a timeout with a few retries (`deliver`), each alert's notices
//! in order on a task of their own (one hanging target holds up no other); every delivery's
//! result goes back to the statistics (the snapshot's `alerts`, the detail view)
//! and to the log.
//!
//! A reload replaces the alerts through a `watch` channel whose one sender is the
//! reloader, which sends them before the statistics hear of the reload's endpoints:
//! the worker takes them before any event that follows. An alert that continues
//! (`rules::successors`: the same target and payload) keeps its deliverer, so its
//! notices still go out in order, and its notices to remind of; a removed one's
//! queue closes, and what it holds is delivered (each attempt under its timeout)
//! as it was asked. Nothing fires at a reload: a new alert tells of the next change
//! of state, not of the states endpoints are already in. A run with a config file
//! starts its alerting even without `[[alert]]`, idle and not listening (the
//! statistics send no events nobody needs); the first alerts a reload brings make it
//! listen, and ask the statistics for the endpoint set and the canaries' verdict of
//! that moment.

mod deliver;
mod payload;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use deliver::{ATTEMPT_TIMEOUT, ATTEMPTS};
pub use payload::Notice;
pub use rules::fired_state;

use crate::config::{Alert, AlertState, Config, Endpoint};
use crate::stats::{
    AlertDelivery, EndpointId, EndpointSet, EventSender, State, StateChange, StatsEvent,
    StatsHandle,
};

/// How long the end of a run waits for deliveries still under way.
pub const EXIT_GRACE: Duration = Duration::from_secs(3);
/// Notices waiting for one alert's target; beyond it a notice is dropped, and its
/// result says so.
pub const TARGET_QUEUE: usize = 64;

/// The URL an alert shows for `endpoint`: the URL as written, which keeps `${VAR}`
/// references unresolved and has its secrets masked (`config::mask`).
fn display_url(endpoint: &Endpoint) -> String {
    endpoint.url_as_written.clone()
}

/// The alerts of a run as of the latest reload.
pub type Rules = Arc<[Alert]>;

/// The running alerting: its thread, and how to stop it.
pub struct AlertService {
    stop: oneshot::Sender<Duration>,
    thread: std::thread::JoinHandle<()>,
}

impl AlertService {
    /// Starts delivering the alerts `rules` holds (`config`'s, then each reload's)
    /// about the statistics of `stats`, or `None` when the run can have none: no
    /// `[[alert]]` and no config file to reload.
    pub fn start(
        config: &Config,
        rules: watch::Receiver<Rules>,
        stats: &StatsHandle,
    ) -> std::io::Result<Option<Self>> {
        if config.alerts.is_empty() && config.source.is_none() {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            // A redirect could carry the notice somewhere else; a hook answers itself.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("probetop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(std::io::Error::other)?;
        let (events, rx) = crate::stats::event_queue();
        let (stop, stopped) = oneshot::channel();
        // Without alerts, the worker listens once a reload brings some.
        let (listen, events) = if config.alerts.is_empty() {
            (Some(events), None)
        } else {
            (None, Some(events))
        };
        let worker = Worker {
            listen,
            rules: Vec::new(),
            updates: rules,
            roster: Roster {
                endpoints: config.endpoints.clone(),
                positions: None,
            },
            stats: stats.clone(),
            client,
            reminders: rules::Reminders::default(),
            local_network_down: false,
            tasks: JoinSet::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("probetop-alerts".into())
            .spawn(move || runtime.block_on(worker.run(rx, stopped)))?;
        // Watched only once the thread runs (no event can wait for a listener that
        // failed to start), and before the engine starts: no state change goes
        // unheard.
        if let Some(events) = events {
            stats.watch(events);
        }
        Ok(Some(AlertService { stop, thread }))
    }

    /// Delivers what is queued, waits up to `grace` for deliveries under way (the
    /// rest are cancelled, and logged), and ends the thread. Call it after the last
    /// sample was recorded and read, before the statistics finish, so that the
    /// results reach the final snapshot.
    pub async fn finish(self, grace: Duration) {
        // The thread ended already (its queue closed): nothing left to stop.
        let _ = self.stop.send(grace);
        match tokio::task::spawn_blocking(move || self.thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(_panic)) => tracing::error!("the alert thread panicked"),
            Err(error) => tracing::error!(%error, "joining the alert thread failed"),
        }
    }
}

/// The alert thread's state.
struct Worker {
    /// The statistics' events come here once it is handed to them: at the first
    /// alerts (`None` once handed).
    listen: Option<EventSender>,
    /// The alerts in file order, each with its deliverer's queue.
    rules: Vec<Rule>,
    /// The alerts of the next reload.
    updates: watch::Receiver<Rules>,
    /// The endpoints by stable id, as of the latest reload.
    roster: Roster,
    stats: StatsHandle,
    client: reqwest::Client,
    reminders: rules::Reminders,
    /// Reminders wait while every canary fails: the endpoints' states are frozen.
    local_network_down: bool,
    /// The deliverers, one per alert (and those of removed alerts until they are
    /// done), owned here and cancelled at the end.
    tasks: JoinSet<()>,
}

/// One alert and the queue of its target's deliverer: one target's notices go out
/// one after another, in the order of the changes (a "down" still being retried is
/// never overtaken by its "up").
struct Rule {
    alert: Alert,
    queue: mpsc::Sender<Job>,
}

/// The endpoints by stable id, without a copy of any: the run's own list (ids
/// `0..n`) until the first reload, then each reload's set.
struct Roster {
    endpoints: Arc<[Endpoint]>,
    /// Each id's position in `endpoints`; `None` while ids are positions.
    positions: Option<HashMap<EndpointId, usize>>,
}

impl Roster {
    fn get(&self, id: EndpointId) -> Option<&Endpoint> {
        let position = match &self.positions {
            Some(positions) => *positions.get(&id)?,
            None => id,
        };
        self.endpoints.get(position)
    }
}

/// One notice to deliver through an alert.
struct Job {
    endpoint: usize,
    state: State,
    notice: Notice,
}

impl Worker {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<StatsEvent>,
        mut stop: oneshot::Receiver<Duration>,
    ) {
        let first = self.updates.borrow_and_update().clone();
        self.replace_rules(&first);
        // Alerts a reload sent before this thread got here are marked seen already:
        // `changed` will not tell of them.
        if !first.is_empty() {
            self.start_listening().await;
        }
        let grace = loop {
            let next = self.reminders.next_due();
            tokio::select! {
                // In this order: a reload sends its alerts before the statistics hear
                // of its endpoints, so every event after those finds the alerts.
                biased;
                grace = &mut stop => break grace.unwrap_or(Duration::ZERO),
                // An error: the reloader is gone (the run is ending), the alerts stay.
                Ok(()) = self.updates.changed() => {
                    let rules = self.updates.borrow_and_update().clone();
                    self.replace_rules(&rules);
                    if !rules.is_empty() {
                        self.start_listening().await;
                    }
                }
                event = events.recv() => match event {
                    Some(event) => self.on_event(event),
                    // The statistics ended: deliver what is under way, then stop.
                    None => break EXIT_GRACE,
                },
                () = sleep_until(next) => self.remind(),
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => log_join(done),
            }
        };
        // Everything recorded before the stop is in the queue already.
        while let Ok(event) = events.try_recv() {
            self.on_event(event);
        }
        // Closed, each deliverer ends once its queue is empty.
        self.rules.clear();
        let deadline = Instant::now() + grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(done)) => log_join(done),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        targets = self.tasks.len(),
                        "alert deliveries still under way at exit were cancelled"
                    );
                    self.tasks.abort_all();
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: StatsEvent) {
        match event {
            StatsEvent::StateChanged(change) => self.on_change(change),
            StatsEvent::LocalNetwork { down, .. } => self.local_network_down = down,
            StatsEvent::Reconfigured(set) => self.reconfigure(&set),
        }
    }

    /// A reload: the endpoints by id from now on; a removed one's reminders end.
    fn reconfigure(&mut self, set: &EndpointSet) {
        let positions: HashMap<EndpointId, usize> = set
            .ids
            .iter()
            .enumerate()
            .map(|(position, &id)| (id, position))
            .collect();
        self.reminders
            .retain_endpoints(|id| positions.contains_key(&id));
        self.roster = Roster {
            endpoints: set.endpoints.clone(),
            positions: Some(positions),
        };
    }

    /// A reload's alerts (or the first ones): each continues the running alert it
    /// pairs with (its deliverer, its notices to remind of) or starts a deliverer;
    /// the deliverers of the alerts left over end once they delivered what they hold.
    fn replace_rules(&mut self, new: &[Alert]) {
        let old: Vec<Alert> = self.rules.iter().map(|r| r.alert.clone()).collect();
        let continues = rules::successors(&old, new);
        let mut running: Vec<Option<Rule>> = self.rules.drain(..).map(Some).collect();
        let mut moved = vec![None; running.len()];
        for (index, (alert, from)) in new.iter().zip(continues).enumerate() {
            let queue = match from.and_then(|i| running[i].take().map(|rule| (i, rule))) {
                Some((i, rule)) => {
                    moved[i] = Some(index);
                    rule.queue
                }
                None => self.deliverer(alert),
            };
            self.rules.push(Rule {
                alert: alert.clone(),
                queue,
            });
        }
        // Dropped: their queues close.
        drop(running);
        let (rules, roster) = (&self.rules, &self.roster);
        self.reminders.carry_over(
            &moved,
            |index, endpoint, state| {
                roster
                    .get(endpoint)
                    .is_some_and(|e| rules[index].alert.fires(&e.name, state))
            },
            Instant::now(),
            |index| rules.get(index).and_then(|r| r.alert.repeat),
        );
    }

    /// Has the statistics send their events here from now on, if they do not yet,
    /// and takes the endpoint set and the canaries' verdict as of then: the events
    /// queued meanwhile are older and end in the same. The alerts came before the
    /// reload's set (see [`Worker::run`]), so that set is among them or in the
    /// answer.
    async fn start_listening(&mut self) {
        let Some(events) = self.listen.take() else {
            return;
        };
        self.stats.watch(events);
        let now = self
            .stats
            .read(|s| (s.endpoint_set().cloned(), s.local_network_down()))
            .await;
        // `None`: the statistics ended, the run with them.
        if let Some((set, down)) = now {
            if let Some(set) = set {
                self.reconfigure(&set);
            }
            self.local_network_down = down;
        }
    }

    /// Starts the deliverer of `alert`; its queue.
    fn deliverer(&mut self, alert: &Alert) -> mpsc::Sender<Job> {
        let (queue, jobs) = mpsc::channel(TARGET_QUEUE);
        let (alert, client, stats) = (alert.clone(), self.client.clone(), self.stats.clone());
        self.tasks
            .spawn(deliver_in_order(alert, client, stats, jobs));
        queue
    }

    /// The `repeat` of alert `index`.
    fn repeat_of(&self, index: usize) -> Option<Duration> {
        self.rules.get(index).and_then(|r| r.alert.repeat)
    }

    fn on_change(&mut self, change: StateChange) {
        self.reminders.cancel(change.endpoint);
        let Some(state) = fired_state(change.from, change.to) else {
            return;
        };
        let Some(endpoint) = self.roster.get(change.endpoint) else {
            return;
        };
        let notice = Notice {
            endpoint: endpoint.name.clone(),
            url: display_url(endpoint),
            state: change.to.as_str().into(),
            previous: change.from.as_str().into(),
            reason: change.reason.clone(),
            at: crate::text::timestamp(change.at),
        };
        let now = Instant::now();
        let firing: Vec<usize> = (self.rules.iter().enumerate())
            .filter(|(_, rule)| rule.alert.fires(&endpoint.name, state))
            .map(|(index, _)| index)
            .collect();
        for index in firing {
            let repeat = self.repeat_of(index);
            self.reminders
                .fired(index, change.endpoint, state, now, repeat);
            self.dispatch(index, change.endpoint, change.to, notice.clone());
        }
    }

    /// Fires the reminders due, unless probetop's own network is down (then they
    /// come again a `repeat` later).
    fn remind(&mut self) {
        let rules = &self.rules;
        let due = self.reminders.take_due(Instant::now(), |i| {
            rules.get(i).and_then(|r| r.alert.repeat)
        });
        if self.local_network_down {
            return;
        }
        for reminder in due {
            let Some(endpoint) = self.roster.get(reminder.endpoint) else {
                continue;
            };
            let state = match reminder.state {
                AlertState::Down => State::Down,
                AlertState::Degraded => State::Degraded,
                AlertState::Up => State::Up,
            };
            let notice = Notice {
                endpoint: endpoint.name.clone(),
                url: display_url(endpoint),
                state: state.as_str().into(),
                // A reminder: the state is unchanged since it fired.
                previous: state.as_str().into(),
                reason: "still ".to_string() + state.as_str(),
                at: crate::text::timestamp(SystemTime::now()),
            };
            self.dispatch(reminder.alert, reminder.endpoint, state, notice);
        }
    }

    /// Queues `notice` for alert `index`'s target; the result is recorded when it
    /// was delivered (or dropped, when the target's queue is full).
    fn dispatch(&mut self, index: usize, endpoint: usize, state: State, notice: Notice) {
        let Some(rule) = self.rules.get(index) else {
            return;
        };
        let job = Job {
            endpoint,
            state,
            notice,
        };
        if let Err(mpsc::error::TrySendError::Full(job)) = rule.queue.try_send(job) {
            record(
                &self.stats,
                &job.notice,
                AlertDelivery {
                    at: SystemTime::now(),
                    endpoint,
                    state,
                    target: rule.alert.target.label(),
                    result: format!("dropped: {TARGET_QUEUE} notices already wait for this target"),
                    attempts: 0,
                },
            );
        }
        // A closed queue is the end of the run: nothing is delivered any more.
    }
}

/// Delivers alert `alert`'s notices one after another, recording each result.
async fn deliver_in_order(
    alert: Alert,
    client: reqwest::Client,
    stats: StatsHandle,
    mut jobs: mpsc::Receiver<Job>,
) {
    let target = alert.target.label();
    while let Some(job) = jobs.recv().await {
        let outcome = deliver::deliver(&client, &alert.target, alert.format, &job.notice).await;
        record(
            &stats,
            &job.notice,
            AlertDelivery {
                at: SystemTime::now(),
                endpoint: job.endpoint,
                state: job.state,
                target: target.clone(),
                result: outcome.result,
                attempts: outcome.attempts,
            },
        );
    }
}

/// Keeps a delivery's result in the statistics and the log. The log may be a
/// terminal (headless warnings go to stderr): names and results, which come from the
/// config and from commands, are cleaned for it.
fn record(stats: &StatsHandle, notice: &Notice, delivery: AlertDelivery) {
    use crate::text::clean;
    let endpoint = clean(&notice.endpoint);
    let target = clean(&delivery.target);
    if delivery.result == "ok" {
        tracing::info!(
            endpoint = %endpoint,
            state = %notice.state,
            target = %target,
            attempts = delivery.attempts,
            "alert delivered"
        );
    } else {
        tracing::warn!(
            endpoint = %endpoint,
            state = %notice.state,
            target = %target,
            attempts = delivery.attempts,
            result = %clean(&delivery.result),
            "alert not delivered"
        );
    }
    stats.record_alert(delivery);
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    // A cancelled delivery was cancelled on purpose (the end of the run).
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "an alert delivery panicked");
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
