//! The integration tests: one binary, a module per area, so a clean build links one
//! test executable instead of one per file.
//!
//! Kept apart, as binaries of their own, are only the tests that must not share their
//! time with others: `tests/timing.rs` (timing bounds, run one at a time) and
//! `tests/e2e_tmux.rs` (the dashboard in a real terminal, with latency bounds read off
//! the screen). Cargo runs test binaries one after another, so nothing in this binary
//! runs beside them.
//!
//! Servers, certificates, the tmux harness and the helpers that run the binary live in
//! `tests/support/`, shared with those two binaries and with the benches.

#[path = "../support/mod.rs"]
mod support;

mod alerts;
mod architecture;
mod config_errors;
mod expectations;
mod export;
mod failure_reasons;
mod formats;
mod headless;
mod hlog;
mod http_client;
mod leftovers;
mod metrics;
mod ops_seams;
mod overload;
mod phases;
mod probe_messages;
mod probe_outcomes;
mod redirect_class;
mod redirects_secrets;
mod reload;
mod reload_live;
mod resume_merge;
mod serve_limits;
mod small_fixes;
mod startup;
mod tcp_probes;
mod tls_trust;
mod ui_polish;
mod ui_views;
