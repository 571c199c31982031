//! The live store: every endpoint's statistics and probetop's own scheduler lag, as
//! the statistics thread holds them. Views read it through [`super::StatsHandle::read`]
//! and its methods, never its fields.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::events::{AlertDelivery, AlertLog};
use super::health::{Overload, OverloadReason, QueueDepth};
use super::set::{EndpointId, EndpointSet, Positions};
use super::{EndpointStats, new_histogram, record_duration};
use crate::config::Endpoint;

/// Every statistic of a run, live: the statistics thread records into it and lends it
/// to readers between samples.
#[derive(Debug, Clone)]
pub struct StatsStore {
    /// When the statistics started (or were last reset).
    started_at: SystemTime,
    /// When it was last stamped for a read.
    taken_at: SystemTime,
    /// The same moment, in deciseconds since the clock's start (the window's unit).
    now_ds: u32,
    /// Span of the rolling window the snapshot reports.
    window: Duration,
    /// How late the scheduler fired ticks, in microseconds.
    scheduler_lag: Histogram<u64>,
    /// Per endpoint, in config order.
    endpoints: Vec<EndpointStats>,
    /// When and how badly probetop fell behind.
    overload: Overload,
    /// The statistics queue as of the latest stamp.
    stats_queue: QueueDepth,
    /// The endpoints as of the latest reload; `None` before any (the views' own
    /// list is current then, and ids are positions).
    set: Option<Arc<EndpointSet>>,
    /// Position of each id (ids are positions before any reload).
    positions: Positions,
    /// The canaries' positions in `endpoints` (found again after a reload).
    canaries: Vec<usize>,
    /// Whether every canary's latest probe failed (never without canaries).
    local_network_down: bool,
    /// The latest alert deliveries.
    alerts: AlertLog,
    /// Events dropped because their listener fell behind.
    events_dropped: u64,
}

impl StatsStore {
    /// A store of `endpoints` (config order) started at `started_at`, whose snapshot
    /// reports a rolling window of `window`. It reads as of its start until
    /// [`StatsStore::stamp`]ed.
    pub fn new(started_at: SystemTime, window: Duration, endpoints: Vec<EndpointStats>) -> Self {
        let canaries = (0..endpoints.len())
            .filter(|&i| endpoints[i].is_canary())
            .collect();
        StatsStore {
            canaries,
            local_network_down: false,
            alerts: AlertLog::default(),
            events_dropped: 0,
            started_at,
            taken_at: started_at,
            now_ds: 0,
            window,
            scheduler_lag: new_histogram(),
            endpoints,
            overload: Overload::default(),
            stats_queue: QueueDepth::default(),
            set: None,
            positions: Positions::default(),
        }
    }

    /// The endpoints as of the latest reload, position for position with
    /// [`StatsStore::endpoints`]; `None` if there was none.
    pub fn endpoint_set(&self) -> Option<&Arc<EndpointSet>> {
        self.set.as_ref()
    }

    /// The endpoints' settings, position for position with [`StatsStore::endpoints`]:
    /// those of the latest reload, or `started_with` (the run's own) before any.
    pub fn configured<'a>(&'a self, started_with: &'a [Endpoint]) -> &'a [Endpoint] {
        self.set.as_ref().map_or(started_with, |set| &set.endpoints)
    }

    /// Takes on `set`: kept endpoints (same id) move to their new position with every
    /// statistic and judge by their new rules, added ones start empty, removed ones
    /// are dropped (and so are their samples still under way). Returns the new
    /// verdict on probetop's own network when the change of canaries changed it.
    pub(super) fn reconfigure(&mut self, set: Arc<EndpointSet>) -> Option<bool> {
        let mut old: HashMap<EndpointId, EndpointStats> = std::mem::take(&mut self.endpoints)
            .into_iter()
            .enumerate()
            .map(|(position, stats)| (self.id_at(position), stats))
            .collect();
        let rules = set.rules();
        self.endpoints = set
            .ids
            .iter()
            .zip(rules)
            .map(|(id, rules)| match old.remove(id) {
                Some(mut stats) => {
                    if stats.rules() != rules {
                        stats.set_rules(rules);
                    }
                    stats
                }
                None => EndpointStats::with_rules(rules),
            })
            .collect();
        self.positions = Positions::of(&set);
        self.canaries = (0..self.endpoints.len())
            .filter(|&i| self.endpoints[i].is_canary())
            .collect();
        self.set = Some(set);
        // A removed endpoint leaves every output, its deliveries too: no view could
        // name it any more.
        let positions = &self.positions;
        self.alerts
            .deliveries
            .retain(|a| positions.get(a.endpoint).is_some());
        // Judged again now, not at the next canary probe: once the only canary is
        // removed there is none to come, and the verdict would excuse every failure
        // for good; an added canary has no failed probe yet.
        let down = self.every_canary_fails();
        (down != self.local_network_down).then(|| {
            self.local_network_down = down;
            down
        })
    }

    /// Whether there are canaries and the latest probe of every one of them failed.
    fn every_canary_fails(&self) -> bool {
        !self.canaries.is_empty()
            && self.canaries.iter().all(|&i| {
                self.endpoints[i]
                    .last()
                    .is_some_and(|last| last.error.is_some())
            })
    }

    /// The id of the endpoint at `position` (what alert deliveries and samples name
    /// it by).
    pub fn id_at(&self, position: usize) -> EndpointId {
        self.set
            .as_ref()
            .and_then(|set| set.ids.get(position).copied())
            .unwrap_or(position)
    }

    /// The position of endpoint `id`, if it is still configured.
    pub fn position(&self, id: EndpointId) -> Option<usize> {
        self.positions.get(id)
    }

    /// Sets the moment the views read it at: `taken_at` on the wall clock, `now_ds`
    /// in deciseconds since the clock's start (spans end there).
    ///
    /// The statistics thread stamps it before every read; tests and benchmarks pin it
    /// to a fixed moment instead.
    pub fn stamp(&mut self, taken_at: SystemTime, now_ds: u32) {
        self.taken_at = taken_at;
        self.now_ds = now_ds;
    }

    /// When the statistics started (or were last reset).
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// When it was read (its latest stamp).
    pub fn taken_at(&self) -> SystemTime {
        self.taken_at
    }

    /// Time from the start to the read (zero if the wall clock went back).
    pub fn elapsed(&self) -> Duration {
        self.taken_at
            .duration_since(self.started_at)
            .unwrap_or_default()
    }

    /// The moment of the read in deciseconds since the clock's start: the `now_ds`
    /// that [`EndpointStats`]' spans end at.
    pub fn now_ds(&self) -> u32 {
        self.now_ds
    }

    /// Span of the rolling window the snapshot reports.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How late probetop's scheduler fired its ticks, in microseconds (its own health).
    pub fn scheduler_lag(&self) -> &Histogram<u64> {
        &self.scheduler_lag
    }

    /// How often and how badly probetop fell behind its schedule (its own health).
    pub fn overload(&self) -> &Overload {
        &self.overload
    }

    /// Why probetop is overloaded as of the read, or `None` when it keeps up.
    pub fn overloaded_now(&self) -> Option<OverloadReason> {
        self.overload.now(self.now_ds / 10, self.stats_queue.depth)
    }

    /// The statistics queue's depth as of the read, and its deepest.
    pub fn stats_queue(&self) -> QueueDepth {
        self.stats_queue
    }

    /// Sets the statistics queue's depth (the statistics thread does at every read).
    pub fn set_stats_queue(&mut self, queue: QueueDepth) {
        self.stats_queue = queue;
    }

    /// Counts a tick that fired `lag` late in second `second` since the clock's
    /// start, with the statistics queue `queue_depth` deep, and says whether probetop
    /// is overloaded then. Tests feed it directly to make probetop fall behind.
    pub fn overload_tick(
        &mut self,
        second: u32,
        lag: Duration,
        queue_depth: u64,
    ) -> Option<OverloadReason> {
        self.overload.tick(second, lag, queue_depth);
        self.overload.now(second, queue_depth)
    }

    /// Every endpoint's statistics, in config order.
    pub fn endpoints(&self) -> &[EndpointStats] {
        &self.endpoints
    }

    /// The statistics of endpoint `index` (config order), if there is one.
    pub fn endpoint(&self, index: usize) -> Option<&EndpointStats> {
        self.endpoints.get(index)
    }

    /// Finished probes of every endpoint, all-time.
    pub fn total_probes(&self) -> u64 {
        self.endpoints.iter().map(EndpointStats::probes).sum()
    }

    /// Gives the endpoints' statistics back (to record more into them outside the
    /// statistics thread: tests and benches).
    pub fn into_endpoints(self) -> Vec<EndpointStats> {
        self.endpoints
    }

    /// Whether probetop's own network is down: there are canaries, and the latest
    /// probe of every one of them failed. Meanwhile the other endpoints' failures
    /// are excused.
    pub fn local_network_down(&self) -> bool {
        self.local_network_down
    }

    /// How many endpoints are canaries.
    pub fn canaries(&self) -> usize {
        self.canaries.len()
    }

    /// The latest alert deliveries ([`super::ALERTS_KEPT`] at most), oldest first.
    pub fn alerts(&self) -> impl DoubleEndedIterator<Item = &AlertDelivery> + ExactSizeIterator {
        self.alerts.deliveries.iter()
    }

    /// State changes (and canary verdicts) dropped because the alerting fell
    /// [`super::EVENT_QUEUE`] behind.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// Keeps the result of an alert delivery, unless a reload removed its endpoint
    /// while it was under way.
    pub(super) fn push_alert(&mut self, delivery: AlertDelivery) {
        if self.position(delivery.endpoint).is_some() {
            self.alerts.push(delivery);
        }
    }

    /// Counts an event its listener had no room for.
    pub(super) fn count_dropped_event(&mut self) {
        self.events_dropped += 1;
    }

    /// Whether a failure of endpoint `id` is excused: it is no canary, and every
    /// canary fails.
    pub(super) fn excuses(&self, id: EndpointId) -> bool {
        self.local_network_down
            && self
                .position(id)
                .and_then(|position| self.endpoints.get(position))
                .is_some_and(|e| !e.is_canary())
    }

    /// After a probe of endpoint `id` was recorded: the new verdict on probetop's
    /// own network when that probe (a canary's) changed it.
    pub(super) fn canary_recorded(&mut self, id: EndpointId) -> Option<bool> {
        let position = self.position(id)?;
        if !self.endpoints.get(position)?.is_canary() {
            return None;
        }
        let down = self.every_canary_fails();
        (down != self.local_network_down).then(|| {
            self.local_network_down = down;
            down
        })
    }

    /// Endpoint `id` (its position before any reload), to record into.
    pub(super) fn endpoint_mut(&mut self, id: EndpointId) -> Option<&mut EndpointStats> {
        let position = self.position(id)?;
        self.endpoints.get_mut(position)
    }

    /// Records that endpoint `id`'s tick (its position before any reload) fired `lag`
    /// late, and lends its statistics to record what the tick did; for an endpoint
    /// it does not have (or no longer has), records nothing.
    pub(super) fn tick(&mut self, id: EndpointId, lag: Duration) -> Option<&mut EndpointStats> {
        let position = self.position(id)?;
        let stats = self.endpoints.get_mut(position)?;
        record_duration(&mut self.scheduler_lag, lag);
        Some(stats)
    }

    /// Continues from an earlier run: its start becomes this store's, and each
    /// endpoint listed continues from its all-time statistics (an index it does not
    /// have is ignored). Call it before anything is recorded.
    pub(super) fn resume(&mut self, resume: super::Resume) {
        self.started_at = resume.started_at;
        for (index, all_time) in resume.endpoints {
            if let Some(stats) = self.endpoints.get_mut(index) {
                stats.resume_from(all_time);
            }
        }
    }

    /// Forgets every statistic (each endpoint keeps its rules) and starts again at
    /// `started_at`.
    pub(super) fn reset(&mut self, started_at: SystemTime) {
        self.started_at = started_at;
        for stats in &mut self.endpoints {
            stats.reset();
        }
        self.scheduler_lag.reset();
        self.overload = Overload::default();
        // No canary has a latest probe any more.
        self.local_network_down = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeOutcome;
    use crate::stats::{EndpointRules, State, StateRule};

    #[test]
    fn reads_as_stamped_and_resets_keeping_the_rules() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let rules = EndpointRules {
            state: StateRule {
                down_after: 3,
                up_after: 2,
            },
            min_cert_days: Some(9),
            canary: false,
        };
        let mut store = StatsStore::new(
            start,
            Duration::from_secs(60),
            vec![EndpointStats::with_rules(rules), EndpointStats::default()],
        );
        assert_eq!((store.taken_at(), store.now_ds()), (start, 0));
        let retention = Duration::from_secs(60);
        for (index, at_ds) in [(0, 10), (0, 20), (1, 30)] {
            let outcome = ProbeOutcome {
                latency: Some(Duration::from_millis(4)),
                ..ProbeOutcome::default()
            };
            let stats = store.tick(index, Duration::from_millis(2)).unwrap();
            stats.record(outcome, at_ds, start, retention);
        }
        assert!(store.tick(2, Duration::from_millis(2)).is_none());
        store.stamp(start + Duration::from_secs(5), 50);
        assert_eq!(store.elapsed(), Duration::from_secs(5));
        assert_eq!(store.now_ds(), 50);
        assert_eq!(store.total_probes(), 3);
        assert_eq!(
            store.scheduler_lag().len(),
            3,
            "the unknown endpoint's lag is not counted"
        );
        assert_eq!(store.endpoint(1).map(EndpointStats::state), Some(State::Up));
        assert!(store.endpoint(2).is_none());

        let later = start + Duration::from_secs(8);
        store.reset(later);
        assert_eq!(store.started_at(), later);
        assert_eq!(store.total_probes(), 0);
        assert!(store.scheduler_lag().is_empty());
        assert_eq!(store.endpoints()[0].rules(), rules);
        assert_eq!(store.endpoints()[0].state(), State::Unknown);
    }

    #[test]
    fn a_reconfigured_store_keeps_kept_endpoints_by_id_and_drops_the_removed() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let retention = Duration::from_secs(60);
        let mut store = StatsStore::new(
            start,
            retention,
            vec![EndpointStats::default(), EndpointStats::default()],
        );
        let record = |store: &mut StatsStore, id: EndpointId| {
            let Some(stats) = store.tick(id, Duration::ZERO) else {
                return false;
            };
            let outcome = ProbeOutcome {
                latency: Some(Duration::from_millis(4)),
                ..ProbeOutcome::default()
            };
            stats.record(outcome, 10, start, retention);
            true
        };
        assert!(record(&mut store, 0) && record(&mut store, 1) && record(&mut store, 1));
        let endpoint = |name: &str| {
            let url = url::Url::parse("tcp://127.0.0.1:9").unwrap();
            Endpoint::new(name, url, Duration::from_secs(1), Duration::from_secs(1))
        };
        let delivery = |endpoint: EndpointId| AlertDelivery {
            at: start,
            endpoint,
            state: crate::stats::State::Down,
            target: "/bin/true".into(),
            result: "ok".into(),
            attempts: 1,
        };
        store.push_alert(delivery(0));
        store.push_alert(delivery(1));
        // 0 removed, 1 kept (now first), 2 added.
        store.reconfigure(Arc::new(EndpointSet {
            endpoints: vec![endpoint("b"), endpoint("c")].into(),
            ids: vec![1, 2].into(),
            file_intervals: vec![Duration::from_secs(1); 2].into(),
            generation: 1,
        }));
        let probes: Vec<u64> = store
            .endpoints()
            .iter()
            .map(EndpointStats::probes)
            .collect();
        assert_eq!(probes, [2, 0]);
        assert!(
            !record(&mut store, 0),
            "a removed endpoint's late sample is dropped"
        );
        assert!(record(&mut store, 2));
        assert_eq!(store.endpoint(1).map(EndpointStats::probes), Some(1));
        let names: Vec<&str> = store
            .configured(&[])
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["b", "c"]);
        // The removed endpoint's deliveries went with it, and so does one that was
        // under way when it was removed.
        store.push_alert(delivery(0));
        store.push_alert(delivery(2));
        let kept: Vec<EndpointId> = store.alerts().map(|a| a.endpoint).collect();
        assert_eq!(kept, [1, 2]);
        assert_eq!(store.position(1), Some(0));
    }

    #[test]
    fn a_reload_judges_the_local_network_again_by_the_canaries_it_leaves() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let retention = Duration::from_secs(60);
        let canary = EndpointRules {
            canary: true,
            ..EndpointRules::default()
        };
        let mut store = StatsStore::new(
            start,
            retention,
            vec![EndpointStats::with_rules(canary), EndpointStats::default()],
        );
        let fail = |store: &mut StatsStore, id: EndpointId| {
            let outcome = ProbeOutcome::failed(crate::probe::ErrorClass::Connect, "refused");
            store
                .tick(id, Duration::ZERO)
                .unwrap()
                .record(outcome, 10, start, retention);
            store.canary_recorded(id)
        };
        assert_eq!(fail(&mut store, 0), Some(true));
        assert!(store.excuses(1));
        let endpoint = |name: &str, canary: bool| {
            let url = url::Url::parse("tcp://127.0.0.1:9").unwrap();
            let mut e = Endpoint::new(name, url, Duration::from_secs(1), Duration::from_secs(1));
            e.canary = canary;
            e
        };
        let set = |endpoints: Vec<Endpoint>, ids: Vec<EndpointId>, generation| {
            Arc::new(EndpointSet {
                file_intervals: vec![Duration::from_secs(1); ids.len()].into(),
                endpoints: endpoints.into(),
                ids: ids.into(),
                generation,
            })
        };
        // A second canary, not yet probed: not every canary fails any more.
        let changed = store.reconfigure(set(
            vec![
                endpoint("gw", true),
                endpoint("api", false),
                endpoint("gw2", true),
            ],
            vec![0, 1, 2],
            1,
        ));
        assert_eq!(changed, Some(false));
        assert!(!store.excuses(1));
        assert_eq!(fail(&mut store, 2), Some(true));
        // The failing canaries removed: no verdict is left to excuse anything.
        let changed = store.reconfigure(set(vec![endpoint("api", false)], vec![1], 2));
        assert_eq!(changed, Some(false));
        assert!(!store.local_network_down() && !store.excuses(1));
        assert_eq!(store.canaries(), 0);
        // Unchanged verdicts say nothing.
        assert_eq!(
            store.reconfigure(set(vec![endpoint("api", false)], vec![1], 3)),
            None
        );
    }
}
