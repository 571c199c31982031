//! One probe: build and send the request, time it, classify the outcome.

mod classify;
mod client;
mod outcome;
mod prober;

pub use classify::classify;
pub use client::ClientPool;
pub use outcome::{ErrorClass, ProbeError, ProbeOutcome};
pub use prober::Prober;
