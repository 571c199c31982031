//! What recording a probe changed that someone outside the statistics may want to
//! hear of at once (the log, alerts), and the hook that hears it.
//!
//! The hook runs on the statistics thread, between samples: it must be quick and
//! never wait (hand anything slow, such as writing a file, to another thread).

use std::time::Instant;

use super::{EndpointId, EndpointSet, EndpointStats, Transition};
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
