//! What the statistics thread tells the world as it happens. Two ways out, both
//! never making recording wait: an [`Observer`] that runs on the thread right after
//! each probe (the event log: quick, never blocking), and a bounded queue of
//! [`StatsEvent`]s (state changes and the canaries' verdict on probetop's own
//! network, for the alerting); and the results of alert deliveries coming back to be
//! kept.
//!
//! The types live here, below their listeners, so that the statistics know nothing
//! of them (`tests/it/architecture.rs`).

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::{EndpointId, EndpointSet, EndpointStats, State, Transition};
use crate::probe::ErrorClass;

/// What one recorded probe changed, beyond the counts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Recorded {
    /// The state change it caused, if any.
    pub transition: Option<Transition>,
    /// Its error's class, when it is the endpoint's first error of that class (since
    /// the start or the latest reset).
    pub first_of_class: Option<ErrorClass>,
}

impl Recorded {
    /// Whether there is anything to tell.
    pub fn is_notable(&self) -> bool {
        self.transition.is_some() || self.first_of_class.is_some()
    }
}

/// Hears of every probe the statistics record, right after it is recorded.
pub trait Observer: Send {
    /// Endpoint `endpoint` (its stable id) recorded a probe that finished at `at`;
    /// `recorded` says what changed, `stats` holds everything as of now.
    fn recorded(
        &mut self,
        endpoint: EndpointId,
        at: Instant,
        recorded: Recorded,
        stats: &EndpointStats,
    );

    /// The endpoints changed (a reload): `set` holds them, by id.
    fn reconfigure(&mut self, _set: &EndpointSet) {}

    /// The statistics are ending: tell what is still held back.
    fn finish(&mut self) {}
}

/// How many events wait for the listener before new ones are dropped (and counted).
pub const EVENT_QUEUE: usize = 1024;

/// How many alert deliveries the statistics keep, newest last.
pub const ALERTS_KEPT: usize = 50;

/// Something the statistics thread saw happen.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsEvent {
    /// An endpoint changed state.
    StateChanged(StateChange),
    /// The endpoints changed (a reload): state changes from now on name endpoints
    /// of `set`, by id.
    Reconfigured(std::sync::Arc<EndpointSet>),
    /// Every canary fails (`down`), or one of them succeeds again.
    LocalNetwork {
        /// Whether probetop's own network is down now.
        down: bool,
        /// When the probe that decided it finished.
        at: SystemTime,
    },
}

/// An endpoint's change of state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// The endpoint's stable id (its config index at start).
    pub endpoint: EndpointId,
    /// When the probe that caused it finished.
    pub at: SystemTime,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why: the latest error for `down`, what made it `degraded`, empty for `up`.
    pub reason: String,
}

/// The sending end of the event queue, held by the statistics thread: sending never
/// waits; when the listener falls [`EVENT_QUEUE`] behind, events are dropped and
/// counted ([`crate::stats::StatsStore::events_dropped`]).
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::Sender<StatsEvent>,
}

/// A bounded event queue: give the sender to [`crate::stats::StatsHandle::watch`].
pub fn event_queue() -> (EventSender, mpsc::Receiver<StatsEvent>) {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    (EventSender { tx }, rx)
}

impl EventSender {
    /// Sends `event` if there is room; `false` if it was dropped (full, or nobody
    /// listens any more).
    pub(super) fn send(&self, event: StatsEvent) -> bool {
        self.tx.try_send(event).is_ok()
    }
}

/// The result of delivering one alert, as the detail view, the snapshot and the log
/// report it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDelivery {
    /// When the delivery ended.
    pub at: SystemTime,
    /// The endpoint's stable id ([`crate::stats::EndpointId`]).
    /// Map it to a position with [`crate::stats::StatsStore::position`].
    pub endpoint: EndpointId,
    /// The state it was about.
    pub state: State,
    /// Whom it went to, masked (a command's program, a webhook's host).
    pub target: String,
    /// `ok`, or what went wrong (sanitised by whoever shows it).
    pub result: String,
    /// Attempts made (1 when the first one worked).
    pub attempts: u32,
}

/// The latest [`ALERTS_KEPT`] deliveries, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct AlertLog {
    pub deliveries: VecDeque<AlertDelivery>,
}

impl AlertLog {
    pub(super) fn push(&mut self, delivery: AlertDelivery) {
        if self.deliveries.len() == ALERTS_KEPT {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(delivery);
    }
}
