//! Statistics that continue from an earlier run: the plain data a snapshot carried
//! (decoded above this module, in `snapshot`), and how the store takes it in.
//!
//! Only the all-time part continues: histograms, counters, status codes, error
//! classes, the state and its transitions. The rolling window starts empty, since a
//! snapshot holds no raw entries and the time between the runs was not watched.

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::new_histogram;
use super::state::{State, Transition};
use crate::probe::{ErrorClass, Phase};

/// One endpoint's all-time statistics, as plain data: what a snapshot of it holds,
/// and what [`super::EndpointStats::resume_from`] continues from.
#[derive(Debug, Clone)]
pub struct AllTime {
    /// Finished probes.
    pub probes: u64,
    /// Successful probes.
    pub ok: u64,
    /// Failed probes.
    pub failed: u64,
    /// Ticks not probed.
    pub skipped: u64,
    /// Failed probes excused while probetop's own network was down.
    pub excused: u64,
    /// Failed probes by class, indexed by [`ErrorClass::index`].
    pub errors: [u64; ErrorClass::ALL.len()],
    /// Responses by status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Latency of complete responses, in microseconds.
    pub latency: Histogram<u64>,
    /// Each phase in microseconds, indexed by [`Phase::index`].
    pub phases: [Histogram<u64>; Phase::ALL.len()],
    /// The state when the snapshot was taken.
    pub state: State,
    /// The latest state changes, oldest first.
    pub transitions: Vec<Transition>,
    /// When the certificate of the latest TLS connection expires.
    pub cert_not_after: Option<SystemTime>,
}

impl Default for AllTime {
    fn default() -> Self {
        AllTime {
            probes: 0,
            ok: 0,
            failed: 0,
            skipped: 0,
            excused: 0,
            errors: [0; ErrorClass::ALL.len()],
            status_codes: BTreeMap::new(),
            latency: new_histogram(),
            phases: std::array::from_fn(|_| new_histogram()),
            state: State::Unknown,
            transitions: Vec::new(),
            cert_not_after: None,
        }
    }
}

/// What the store continues from: the first run's start, and the all-time
/// statistics of the endpoints found in the snapshot, by index in config order.
#[derive(Debug, Clone)]
pub struct Resume {
    /// When the first run's statistics started: the resumed run reports it as its
    /// `started_at`.
    pub started_at: SystemTime,
    /// `(index in config order, statistics)`; endpoints not listed start fresh.
    pub endpoints: Vec<(usize, AllTime)>,
}
