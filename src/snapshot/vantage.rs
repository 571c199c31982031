//! Where a snapshot was taken: its vantage point, from `--vantage NAME` or else the
//! host name.
//!
//! A process probes from one place, so the name is set once at start-up
//! ([`set`]) and every snapshot of the run reads it ([`current`]): the dashboard's
//! export, the headless snapshot and the one written on exit agree without each
//! caller passing it along.

use std::sync::OnceLock;

static VANTAGE: OnceLock<String> = OnceLock::new();

/// Longest vantage name kept.
pub const MAX_LEN: usize = 64;

/// The name used when neither `--vantage` nor a host name gives one.
pub const UNKNOWN: &str = "unknown";

/// Sets the run's vantage name; only the first call counts (later ones return
/// `false`). Give it a name [`validate`] accepted.
pub fn set(name: String) -> bool {
    VANTAGE.set(name).is_ok()
}

/// The run's vantage name: the one [`set`], else the host name (sanitised).
pub fn current() -> &'static str {
    VANTAGE.get_or_init(|| sanitise(&host_name().unwrap_or_default()))
}

/// `--vantage`'s check: 1 to [`MAX_LEN`] letters, digits, `.`, `_` or `-`, so that a
/// name is safe as a JSON key, a CSV cell and a file name, and `+` (which joins the
/// names of a merge) can never be part of one.
pub fn validate(name: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_LEN || !name.chars().all(valid) {
        return Err(format!(
            "a vantage name is 1 to {MAX_LEN} letters, digits, '.', '_' or '-' (e.g. eu-1)"
        ));
    }
    Ok(name.to_string())
}

/// `text` as a vantage name: other characters become `-`, cut to [`MAX_LEN`];
/// [`UNKNOWN`] when nothing is left.
pub fn sanitise(text: &str) -> String {
    let name: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_LEN)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        UNKNOWN.to_string()
    } else {
        name.to_string()
    }
}

/// The host name, as `gethostname` gives it: the kernel's on Linux, else the
/// configured one, else the shell's.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_host_names_sanitised() {
        assert_eq!(validate("eu-1").as_deref(), Ok("eu-1"));
        assert!(validate("").is_err());
        assert!(validate("eu 1").is_err());
        assert!(validate("a+b").is_err());
        assert!(validate(&"x".repeat(MAX_LEN + 1)).is_err());
        assert_eq!(
            sanitise("probe-eu-1.example.com\n"),
            "probe-eu-1.example.com"
        );
        assert_eq!(sanitise("héllo wörld"), "h-llo-w-rld");
        assert_eq!(sanitise("\u{1b}[31m"), "31m");
        assert_eq!(sanitise("  "), UNKNOWN);
        assert_eq!(sanitise(&"y".repeat(200)).len(), MAX_LEN);
        assert!(validate(current()).is_ok(), "{}", current());
    }
}
