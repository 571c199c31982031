//! Which endpoints the statistics count after a reload, by stable id.
//!
//! An endpoint keeps its id for as long as it is configured (a reload matches
//! endpoints by name), so a sample tagged with the id of an endpoint that was
//! removed meanwhile is dropped instead of landing on whichever endpoint took its
//! place in config order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::EndpointRules;
use crate::config::Endpoint;

/// A stable endpoint id: the engine tags samples with it. The endpoints a run
/// starts with have ids `0..n` in config order.
pub type EndpointId = usize;

/// The endpoints as of the latest reload (or interval change), in the order the
/// store keeps them: the views zip these with [`super::StatsStore::endpoints`].
#[derive(Debug, Clone)]
pub struct EndpointSet {
    /// Their settings as probed now (an interval changed from the dashboard included).
    pub endpoints: Arc<[Endpoint]>,
    /// Their ids, position for position.
    pub ids: Arc<[EndpointId]>,
    /// Their intervals as the config file has them, position for position.
    pub file_intervals: Arc<[Duration]>,
    /// Counts up with every change, so a view can tell its copy is stale.
    pub generation: u64,
}

impl PartialEq for EndpointSet {
    /// Two sets are the same when they are the same change (their generation).
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.ids == other.ids
    }
}

impl EndpointSet {
    /// The rules each endpoint's statistics judge by, position for position.
    pub fn rules(&self) -> Vec<EndpointRules> {
        self.endpoints
            .iter()
            .map(|e| EndpointRules {
                state: e.state_rule,
                min_cert_days: e.expect.min_cert_days,
                canary: e.canary,
            })
            .collect()
    }

    /// The position of the endpoint named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.endpoints.iter().position(|e| e.name == name)
    }
}

/// Where each endpoint id stands in a run's endpoint list: before any reload the
/// ids are the positions; after one, they are looked up among the latest set's ids.
#[derive(Debug, Default, Clone)]
pub struct Positions(Option<HashMap<EndpointId, usize>>);

impl Positions {
    /// The positions of `set`'s ids.
    pub fn of(set: &EndpointSet) -> Self {
        Positions(Some(
            set.ids
                .iter()
                .enumerate()
                .map(|(position, &id)| (id, position))
                .collect(),
        ))
    }

    /// The position of endpoint `id`, if it is configured.
    pub fn get(&self, id: EndpointId) -> Option<usize> {
        match &self.0 {
            None => Some(id),
            Some(positions) => positions.get(&id).copied(),
        }
    }
}
