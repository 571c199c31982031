//! A plain-text table of the statistics, printed once a second when probetop runs in
//! a terminal (the interactive dashboard is not built yet).

use std::fmt::Write;

use crate::config::Endpoint;
use crate::stats::{LatencySummary, StatsSnapshot};

/// The table for one refresh, ending with a blank line.
pub fn table(endpoints: &[Endpoint], stats: &StatsSnapshot) -> String {
    let width = endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:>7}  {:>9}  {:>9}  {:>9}  {:>7}  LAST",
        "NAME", "STATE", "PROBES", "P50 ms", "P99 ms", "MAX ms", "OK %"
    );
    for (index, (endpoint, s)) in endpoints.iter().zip(&stats.endpoints).enumerate() {
        let window = stats.window_summary(index);
        let ms = |f: fn(&LatencySummary) -> f64| {
            window
                .latency
                .as_ref()
                .map_or_else(|| "-".to_string(), |l| format!("{:.1}", f(l)))
        };
        let ok_pct = if window.probes == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", 100.0 * window.ok as f64 / window.probes as f64)
        };
        let last = match &s.last {
            None => String::new(),
            Some(last) => match (&last.error, last.status) {
                (Some(error), _) => format!("{}: {}", error.class, printable(&error.message)),
                (None, Some(status)) => status.to_string(),
                (None, None) => String::new(),
            },
        };
        let name: String = endpoint.name.chars().take(width).collect();
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:>7}  {:>9}  {:>9}  {:>9}  {:>7}  {}",
            printable(&name),
            s.state.as_str(),
            s.probes,
            ms(|l| l.p50),
            ms(|l| l.p99),
            ms(|l| l.max),
            ok_pct,
            last
        );
    }
    out.push('\n');
    out
}

/// `text` without control characters, so nothing an endpoint sends can steer the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
