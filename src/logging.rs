//! Diagnostics: to `--log-file` when given, to stderr (warnings only) in headless
//! mode, and nowhere else, since the dashboard owns the terminal.

use std::path::Path;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the default level.
pub fn init(log_file: Option<&Path>, headless: bool) -> anyhow::Result<()> {
    if let Some(path) = log_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open log file {}", path.display()))?;
        tracing_subscriber::fmt()
            .with_env_filter(filter("probetop=info"))
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    } else if headless {
        tracing_subscriber::fmt()
            .with_env_filter(filter("warn"))
            .with_writer(std::io::stderr)
            .init();
    }
    Ok(())
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}
