//! When an alert fires: the state changes that count, the reminders while a state
//! lasts (and what becomes of them when a reload replaces the alerts), and the
//! quiet while probetop's own network is down. Plain decisions, no delivery: the
//! service asks and delivers.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Alert, AlertState};
use crate::stats::{EndpointId, State};

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
    /// The endpoint's stable id.
    pub endpoint: EndpointId,
    /// The state it is still in.
    pub state: AlertState,
}

/// The notices a reminder may follow: per (alert, endpoint), when the latest went
/// out and for which `down` or `degraded` state. A reminder is due a `repeat` (of
/// the alert as it is now) after it, so a reload that changes `repeat` moves the
/// next reminder, and one that adds `repeat` reminds of a notice sent before it. A
/// change of the endpoint's state forgets its notices.
#[derive(Debug, Default)]
pub struct Reminders {
    sent: HashMap<(usize, EndpointId), (Instant, AlertState)>,
}

impl Reminders {
    /// Forgets every notice about `endpoint` (its state changed).
    pub fn cancel(&mut self, endpoint: EndpointId) {
        self.sent.retain(|&(_, e), _| e != endpoint);
    }

    /// Forgets the notices about endpoints `keep` says no to (a reload removed them).
    pub fn retain_endpoints(&mut self, keep: impl Fn(EndpointId) -> bool) {
        self.sent.retain(|&(_, e), _| keep(e));
    }

    /// Alert `alert` fired for `endpoint` entering `state` at `now`: while a `down`
    /// or `degraded` state lasts it may be reminded of (a lasting `up` needs no
    /// reminding).
    pub fn fired(&mut self, alert: usize, endpoint: EndpointId, state: AlertState, now: Instant) {
        if state != AlertState::Up {
            self.sent.insert((alert, endpoint), (now, state));
        }
    }

    /// When the next reminder is due, if any; `repeat` gives each alert's.
    pub fn next_due(&self, repeat: impl Fn(usize) -> Option<Duration>) -> Option<Instant> {
        self.sent
            .iter()
            .filter_map(|(&(alert, _), &(at, _))| repeat(alert).map(|every| at + every))
            .min()
    }

    /// The reminders due at `now`, each counted as sent at `now` (the next one a
    /// `repeat` later).
    pub fn take_due(
        &mut self,
        now: Instant,
        repeat: impl Fn(usize) -> Option<Duration>,
    ) -> Vec<Reminder> {
        let mut due = Vec::new();
        for (&(alert, endpoint), (at, state)) in &mut self.sent {
            if repeat(alert).is_some_and(|every| *at + every <= now) {
                due.push(Reminder {
                    alert,
                    endpoint,
                    state: *state,
                });
                *at = now;
            }
        }
        due.sort_by_key(|r| (r.alert, r.endpoint));
        due
    }

    /// A reload replaced the alerts: `moved[i]` is the new index of old alert `i`
    /// (`None`: gone). A notice stays with its alert's successor while `keeps` (new
    /// index, endpoint, state) says that alert would still send it; the rest are
    /// forgotten, so a removed alert reminds of nothing.
    pub fn carry_over(
        &mut self,
        moved: &[Option<usize>],
        keeps: impl Fn(usize, EndpointId, AlertState) -> bool,
    ) {
        self.sent = std::mem::take(&mut self.sent)
            .into_iter()
            .filter_map(|((alert, endpoint), (at, state))| {
                let to = moved.get(alert).copied().flatten()?;
                keeps(to, endpoint, state).then_some(((to, endpoint), (at, state)))
            })
            .collect();
    }
}

/// Which running alert each of a reload's alerts continues (`None`: a new one), by
/// position. Equal alerts (`repeat` aside) pair first, in order; then alerts to the
/// same target in the same format. A continued alert keeps its target's queue (its
/// notices still go out in order) and its notices to remind of.
pub fn successors(old: &[Alert], new: &[Alert]) -> Vec<Option<usize>> {
    let same_rule =
        |a: &Alert, b: &Alert| a.on == b.on && a.endpoints == b.endpoints && same_target(a, b);
    let mut taken = vec![false; old.len()];
    let mut continues = vec![None; new.len()];
    for matches in [&same_rule as &dyn Fn(&Alert, &Alert) -> bool, &same_target] {
        for (j, alert) in new.iter().enumerate() {
            if continues[j].is_some() {
                continue;
            }
            if let Some(i) = (0..old.len()).find(|&i| !taken[i] && matches(&old[i], alert)) {
                taken[i] = true;
                continues[j] = Some(i);
            }
        }
    }
    continues
}

/// Whether two alerts deliver alike: the same target, the same payload.
fn same_target(a: &Alert, b: &Alert) -> bool {
    a.target == b.target && a.format == b.format
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

    fn alert(on: &[AlertState], program: &str, repeat: Option<u64>) -> Alert {
        Alert {
            on: on.to_vec(),
            endpoints: None,
            target: AlertTarget::Command(vec![program.into()]),
            format: AlertFormat::Json,
            repeat: repeat.map(Duration::from_secs),
        }
    }

    #[test]
    fn reminders_repeat_while_the_state_lasts_and_stop_when_it_changes() {
        let alerts = [alert(
            &[AlertState::Down, AlertState::Up],
            "/bin/true",
            Some(60),
        )];
        let repeat = |i: usize| alerts.get(i).and_then(|a| a.repeat);
        let start = Instant::now();
        let mut reminders = Reminders::default();
        reminders.fired(0, 3, AlertState::Up, start);
        assert_eq!(
            reminders.next_due(repeat),
            None,
            "a lasting up is not reminded"
        );
        reminders.fired(0, 3, AlertState::Down, start);
        let due_at = start + Duration::from_secs(60);
        assert_eq!(reminders.next_due(repeat), Some(due_at));
        assert!(
            reminders
                .take_due(due_at - Duration::from_secs(1), repeat)
                .is_empty()
        );
        let due = reminders.take_due(due_at, repeat);
        assert_eq!(
            due,
            [Reminder {
                alert: 0,
                endpoint: 3,
                state: AlertState::Down
            }]
        );
        assert_eq!(
            reminders.next_due(repeat),
            Some(due_at + Duration::from_secs(60))
        );
        reminders.cancel(3);
        assert_eq!(reminders.next_due(repeat), None);
    }

    #[test]
    fn a_reload_pairs_equal_alerts_first_then_alerts_to_the_same_target() {
        let down = [AlertState::Down];
        let old = [
            alert(&down, "/bin/a", None),
            alert(&down, "/bin/b", Some(60)),
            alert(&AlertState::ALL, "/bin/c", None),
        ];
        // b's repeat changed, a moved and now fires on up too, c is gone, d is new.
        let new = [
            alert(&down, "/bin/b", Some(5)),
            alert(&down, "/bin/d", None),
            alert(&AlertState::ALL, "/bin/a", None),
        ];
        assert_eq!(successors(&old, &new), [Some(1), None, Some(0)]);
        // Two equal alerts stay two, in order; a third is new.
        let twice = [alert(&down, "/bin/a", None), alert(&down, "/bin/a", None)];
        let thrice = [
            alert(&down, "/bin/a", None),
            alert(&down, "/bin/a", None),
            alert(&down, "/bin/a", None),
        ];
        assert_eq!(successors(&twice, &thrice), [Some(0), Some(1), None]);
        // Another payload is another delivery.
        let mut slack = alert(&down, "/bin/a", None);
        slack.format = AlertFormat::Slack;
        assert_eq!(successors(&twice[..1], &[slack]), [None]);
    }

    #[test]
    fn a_reload_keeps_the_reminders_of_continued_alerts_under_their_new_repeat() {
        let start = Instant::now();
        let mut reminders = Reminders::default();
        // Alert 0 told of endpoint 7 down, alert 1 of endpoints 7 and 8, alert 2 of 8.
        reminders.fired(0, 7, AlertState::Down, start);
        reminders.fired(1, 7, AlertState::Down, start);
        reminders.fired(1, 8, AlertState::Degraded, start);
        reminders.fired(2, 8, AlertState::Degraded, start);
        // Alert 0 is gone; 1 became 0 and no longer fires on degraded; 2 became 1.
        reminders.carry_over(&[None, Some(0), Some(1)], |alert, _, state| {
            alert == 1 || state == AlertState::Down
        });
        // The new alert 0 gained a 10 s repeat, alert 1 has none: only 0 reminds,
        // 10 s after its notice, not 10 s after the reload.
        let repeat = |i: usize| (i == 0).then_some(Duration::from_secs(10));
        assert_eq!(
            reminders.next_due(repeat),
            Some(start + Duration::from_secs(10))
        );
        let due = reminders.take_due(start + Duration::from_secs(10), repeat);
        assert_eq!(
            due,
            [Reminder {
                alert: 0,
                endpoint: 7,
                state: AlertState::Down
            }]
        );
        // Alert 1 still knows of its notice: a later reload that adds a repeat to it
        // reminds of it.
        let repeat = |_: usize| Some(Duration::from_secs(10));
        let due = reminders.take_due(start + Duration::from_secs(10), repeat);
        assert_eq!(
            due,
            [Reminder {
                alert: 1,
                endpoint: 8,
                state: AlertState::Degraded
            }]
        );
        // A removed endpoint takes its notices with it.
        reminders.retain_endpoints(|e| e != 7);
        assert_eq!(
            reminders.next_due(repeat),
            Some(start + Duration::from_secs(20))
        );
        reminders.cancel(8);
        assert_eq!(reminders.next_due(repeat), None);
    }
}
