//! When an alert fires: the state changes that count, the reminders while a state
//! lasts (and what becomes of them when a reload replaces the alerts), and the
//! quiet while probetop's own network is down. Plain decisions, no delivery: the
//! service asks and delivers.

use std::collections::{BTreeSet, HashMap};
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

/// The notices a reminder may follow: per endpoint and alert, when the latest went
/// out and for which `down` or `degraded` state, and, for an alert that repeats,
/// when its reminder is due. Kept by endpoint, the due ones in time order, so that
/// a state change or a turn of the worker costs the same whether ten endpoints are
/// down or ten thousand (a mass outage is when alerts matter most). A reload that
/// changes an alert's `repeat` (or adds one) makes its next reminder due a new
/// `repeat` after the reload, never at once: the reload itself fires nothing. A
/// change of the endpoint's state forgets its notices.
#[derive(Debug, Default)]
pub struct Reminders {
    /// Per endpoint: (alert, sent at, state, reminder due if the alert repeats).
    sent: HashMap<EndpointId, Vec<Sent>>,
    /// (due, alert, endpoint) of every reminder due, earliest first.
    due: BTreeSet<(Instant, usize, EndpointId)>,
}

/// One notice kept to remind of.
#[derive(Debug, Clone, Copy)]
struct Sent {
    alert: usize,
    at: Instant,
    state: AlertState,
    due: Option<Instant>,
}

impl Reminders {
    /// Forgets every notice about `endpoint` (its state changed).
    pub fn cancel(&mut self, endpoint: EndpointId) {
        for sent in self.sent.remove(&endpoint).unwrap_or_default() {
            if let Some(due) = sent.due {
                self.due.remove(&(due, sent.alert, endpoint));
            }
        }
    }

    /// Forgets the notices about endpoints `keep` says no to (a reload removed them).
    pub fn retain_endpoints(&mut self, keep: impl Fn(EndpointId) -> bool) {
        let gone: Vec<EndpointId> = self.sent.keys().copied().filter(|&e| !keep(e)).collect();
        for endpoint in gone {
            self.cancel(endpoint);
        }
    }

    /// Alert `alert`, whose `repeat` is `repeat`, fired for `endpoint` entering
    /// `state` at `now`: while a `down` or `degraded` state lasts it may be reminded
    /// of (a lasting `up` needs no reminding).
    pub fn fired(
        &mut self,
        alert: usize,
        endpoint: EndpointId,
        state: AlertState,
        now: Instant,
        repeat: Option<Duration>,
    ) {
        if state == AlertState::Up {
            return;
        }
        let due = repeat.map(|every| now + every);
        let notices = self.sent.entry(endpoint).or_default();
        let sent = Sent {
            alert,
            at: now,
            state,
            due,
        };
        match notices.iter_mut().find(|s| s.alert == alert) {
            Some(old) => {
                if let Some(old_due) = old.due {
                    self.due.remove(&(old_due, alert, endpoint));
                }
                *old = sent;
            }
            None => notices.push(sent),
        }
        if let Some(due) = due {
            self.due.insert((due, alert, endpoint));
        }
    }

    /// When the next reminder is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|&(due, _, _)| due)
    }

    /// The reminders due at `now`, each counted as sent at `now` (the next one a
    /// `repeat` later; `repeat` gives each alert's).
    pub fn take_due(
        &mut self,
        now: Instant,
        repeat: impl Fn(usize) -> Option<Duration>,
    ) -> Vec<Reminder> {
        let mut due = Vec::new();
        while let Some(&(at, alert, endpoint)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            let Some(sent) = self
                .sent
                .get_mut(&endpoint)
                .and_then(|n| n.iter_mut().find(|s| s.alert == alert))
            else {
                continue;
            };
            due.push(Reminder {
                alert,
                endpoint,
                state: sent.state,
            });
            sent.at = now;
            sent.due = repeat(alert).map(|every| now + every);
            if let Some(next) = sent.due {
                self.due.insert((next, alert, endpoint));
            }
        }
        due.sort_by_key(|r| (r.alert, r.endpoint));
        due
    }

    /// A reload replaced the alerts at `now`: `moved[i]` is the new index of old
    /// alert `i` (`None`: gone). A notice stays with its alert's successor while
    /// `keeps` (new index, endpoint, state) says that alert would still send it; the
    /// rest are forgotten, so a removed alert reminds of nothing. `repeat` gives each
    /// new alert's: a reminder whose `repeat` is unchanged stays due when it was, one
    /// whose `repeat` changed comes a new `repeat` after `now`.
    pub fn carry_over(
        &mut self,
        moved: &[Option<usize>],
        keeps: impl Fn(usize, EndpointId, AlertState) -> bool,
        now: Instant,
        repeat: impl Fn(usize) -> Option<Duration>,
    ) {
        self.due.clear();
        let mut sent = std::mem::take(&mut self.sent);
        for (&endpoint, notices) in &mut sent {
            notices.retain_mut(|s| {
                let Some(to) = moved.get(s.alert).copied().flatten() else {
                    return false;
                };
                if !keeps(to, endpoint, s.state) {
                    return false;
                }
                let every = repeat(to);
                let unchanged = s.due.zip(every).is_some_and(|(due, e)| due == s.at + e);
                s.alert = to;
                s.due = if unchanged {
                    s.due
                } else {
                    every.map(|e| now + e)
                };
                true
            });
        }
        sent.retain(|_, notices| !notices.is_empty());
        for (&endpoint, notices) in &sent {
            for s in notices {
                if let Some(due) = s.due {
                    self.due.insert((due, s.alert, endpoint));
                }
            }
        }
        self.sent = sent;
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
        let minute = Some(Duration::from_secs(60));
        let repeat = |_: usize| minute;
        let start = Instant::now();
        let mut reminders = Reminders::default();
        reminders.fired(0, 3, AlertState::Up, start, minute);
        assert_eq!(reminders.next_due(), None, "a lasting up is not reminded");
        reminders.fired(0, 3, AlertState::Down, start, minute);
        // Another endpoint, whose alert does not repeat: never due.
        reminders.fired(0, 4, AlertState::Down, start, None);
        let due_at = start + Duration::from_secs(60);
        assert_eq!(reminders.next_due(), Some(due_at));
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
        assert_eq!(reminders.next_due(), Some(due_at + Duration::from_secs(60)));
        // A second notice of the same alert replaces the first, not beside it.
        reminders.fired(0, 3, AlertState::Degraded, due_at, minute);
        assert_eq!(reminders.next_due(), Some(due_at + Duration::from_secs(60)));
        let due = reminders.take_due(due_at + Duration::from_secs(60), repeat);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].state, AlertState::Degraded);
        reminders.cancel(3);
        assert_eq!(reminders.next_due(), None);
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
        let at = |s: u64| start + Duration::from_secs(s);
        let mut reminders = Reminders::default();
        // Alert 0 told of endpoint 7 down, alert 1 of endpoints 7 and 8, alert 2 of
        // 8; none repeats.
        reminders.fired(0, 7, AlertState::Down, start, None);
        reminders.fired(1, 7, AlertState::Down, start, None);
        reminders.fired(1, 8, AlertState::Degraded, start, None);
        reminders.fired(2, 8, AlertState::Degraded, start, None);
        assert_eq!(reminders.next_due(), None);
        // At 3 s, alert 0 is gone; 1 became 0 and no longer fires on degraded, and
        // gained a 10 s repeat; 2 became 1, still without one.
        let ten = Some(Duration::from_secs(10));
        let repeat = |i: usize| (i == 0).then_some(Duration::from_secs(10));
        reminders.carry_over(
            &[None, Some(0), Some(1)],
            |alert, _, state| alert == 1 || state == AlertState::Down,
            at(3),
            repeat,
        );
        // Only the new alert 0 reminds, a repeat after the reload (not at once, for
        // a notice already older than the new repeat).
        assert_eq!(reminders.next_due(), Some(at(13)));
        let due = reminders.take_due(at(13), repeat);
        assert_eq!(
            due,
            [Reminder {
                alert: 0,
                endpoint: 7,
                state: AlertState::Down
            }]
        );
        // At 20 s a reload adds the repeat to alert 1 too: its notice is reminded of
        // 10 s later; alert 0's, whose repeat did not change, stays due at 23 s.
        let repeat = |_: usize| ten;
        reminders.carry_over(&[Some(0), Some(1)], |_, _, _| true, at(20), repeat);
        assert_eq!(reminders.next_due(), Some(at(23)));
        let due = reminders.take_due(at(30), repeat);
        assert_eq!(
            due,
            [
                Reminder {
                    alert: 0,
                    endpoint: 7,
                    state: AlertState::Down
                },
                Reminder {
                    alert: 1,
                    endpoint: 8,
                    state: AlertState::Degraded
                }
            ]
        );
        // A removed endpoint takes its notices with it.
        reminders.retain_endpoints(|e| e != 7);
        assert_eq!(reminders.next_due(), Some(at(40)));
        reminders.cancel(8);
        assert_eq!(reminders.next_due(), None);
    }
}
