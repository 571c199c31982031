//! When an alert fires: the state changes that count, the reminders while a state
//! lasts, and the quiet while probetop's own network is down. Plain decisions, no
//! delivery: the service asks and delivers.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Alert, AlertState};
use crate::stats::State;

/// The alert state a change into `to` from `from` fires as, or `None`: the first
/// state after the start fires only when it is not `up` (no storm of "up" at the
/// start), and `up` fires only after `down` or `degraded`.
pub fn fired_state(from: State, to: State) -> Option<AlertState> {
    match (from, to) {
        (_, State::Down) => Some(AlertState::Down),
        (_, State::Degraded) => Some(AlertState::Degraded),
        (State::Down | State::Degraded, State::Up) => Some(AlertState::Up),
        _ => None,
    }
}

/// A reminder due: alert `alert` about endpoint `endpoint`, still in `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    /// Index of the alert, in file order.
    pub alert: usize,
    /// Index of the endpoint, in config order.
    pub endpoint: usize,
    /// The state it is still in.
    pub state: AlertState,
}

/// The reminders pending: per (alert, endpoint), when the next one is due and for
/// which state. A change of the endpoint's state cancels its reminders.
#[derive(Debug, Default)]
pub struct Reminders {
    due: HashMap<(usize, usize), (Instant, AlertState)>,
}

impl Reminders {
    /// Forgets every reminder about `endpoint` (its state changed).
    pub fn cancel(&mut self, endpoint: usize) {
        self.due.retain(|&(_, e), _| e != endpoint);
    }

    /// After alert `alert` (of `repeat`) fired for `endpoint` entering `state` at
    /// `now`: a reminder after `repeat`, while a `down` or `degraded` state lasts (a
    /// lasting `up` needs no reminding).
    pub fn fired(
        &mut self,
        alert: usize,
        repeat: Option<Duration>,
        endpoint: usize,
        state: AlertState,
        now: Instant,
    ) {
        if let Some(repeat) = repeat
            && state != AlertState::Up
        {
            self.due.insert((alert, endpoint), (now + repeat, state));
        }
    }

    /// When the next reminder is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.values().map(|(at, _)| *at).min()
    }

    /// The reminders due at `now`, each rescheduled `repeat` (of its alert, from
    /// `alerts`) later.
    pub fn take_due(&mut self, now: Instant, alerts: &[Alert]) -> Vec<Reminder> {
        let mut due = Vec::new();
        for (&(alert, endpoint), (at, state)) in &mut self.due {
            if *at <= now {
                due.push(Reminder {
                    alert,
                    endpoint,
                    state: *state,
                });
                let repeat = alerts
                    .get(alert)
                    .and_then(|a| a.repeat)
                    .unwrap_or(Duration::from_secs(3600));
                *at = now + repeat;
            }
        }
        due.sort_by_key(|r| (r.alert, r.endpoint));
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AlertFormat, AlertTarget};

    #[test]
    fn the_first_up_is_quiet_and_recoveries_fire() {
        assert_eq!(fired_state(State::Unknown, State::Up), None);
        assert_eq!(
            fired_state(State::Unknown, State::Down),
            Some(AlertState::Down)
        );
        assert_eq!(
            fired_state(State::Unknown, State::Degraded),
            Some(AlertState::Degraded)
        );
        assert_eq!(fired_state(State::Down, State::Up), Some(AlertState::Up));
        assert_eq!(
            fired_state(State::Degraded, State::Up),
            Some(AlertState::Up)
        );
        assert_eq!(fired_state(State::Up, State::Unknown), None);
    }

    #[test]
    fn reminders_repeat_while_the_state_lasts_and_stop_when_it_changes() {
        let alert = Alert {
            on: vec![AlertState::Down, AlertState::Up],
            endpoints: None,
            target: AlertTarget::Command(vec!["/bin/true".into()]),
            format: AlertFormat::Json,
            repeat: Some(Duration::from_secs(60)),
        };
        let alerts = [alert];
        let start = Instant::now();
        let mut reminders = Reminders::default();
        reminders.fired(0, alerts[0].repeat, 3, AlertState::Up, start);
        assert_eq!(reminders.next_due(), None, "a lasting up is not reminded");
        reminders.fired(0, alerts[0].repeat, 3, AlertState::Down, start);
        let due_at = start + Duration::from_secs(60);
        assert_eq!(reminders.next_due(), Some(due_at));
        assert!(
            reminders
                .take_due(due_at - Duration::from_secs(1), &alerts)
                .is_empty()
        );
        let due = reminders.take_due(due_at, &alerts);
        assert_eq!(
            due,
            [Reminder {
                alert: 0,
                endpoint: 3,
                state: AlertState::Down
            }]
        );
        assert_eq!(reminders.next_due(), Some(due_at + Duration::from_secs(60)));
        reminders.cancel(3);
        assert_eq!(reminders.next_due(), None);
    }
}
