//! probetop: a live terminal dashboard for HTTP(S) endpoint latency.
//!
//! Data flows one way: [`config`] → [`engine`] (which runs [`probe`]s) → [`stats`] →
//! views ([`snapshot`], [`ui`], the headless run in [`app`]). Nothing below the views
//! knows that a terminal exists.

pub mod alert;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod fleet;
pub mod hlog;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod reason;
pub mod reload;
pub mod resume;
pub mod serve;
pub mod signals;
pub mod snapshot;
pub mod stats;
pub mod text;
pub mod ui;
