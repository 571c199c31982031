//! probetop: a live terminal dashboard for HTTP(S) endpoint latency.
//!
//! Data flows one way: [`config`] → [`engine`] (which runs [`probe`]s) → [`stats`] →
//! views ([`snapshot`], the headless run in [`app`]). Nothing below the views knows
//! that a terminal exists.

pub mod cli;
pub mod config;
