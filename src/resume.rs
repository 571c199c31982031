//! Statistics that survive a restart: `--resume SNAPSHOT` turns a snapshot into the
//! plain data the statistics continue from, and `[export] on_exit` writes the
//! snapshot that the next run resumes.
//!
//! The snapshot is decoded and checked whole ([`crate::snapshot::decode`]) before
//! anything is seeded, so a bad file changes nothing; the statistics only ever see
//! [`Resume`] (histograms and counts), never the snapshot.

use std::path::{Path, PathBuf};

use crate::config::{Config, ExportFormat};
use crate::snapshot::{self, Snapshot, decode};
use crate::stats::Resume;

/// What `--resume` continues from, and what the user should know about it (endpoints
/// of the snapshot that the config no longer has, older fields missing…).
#[derive(Debug)]
pub struct Loaded {
    /// The statistics to seed, by endpoint index in `config` order.
    pub resume: Resume,
    /// One line each.
    pub warnings: Vec<String>,
}

/// Reads `path` (a snapshot, or a directory: its newest `probetop-*.json`) and
/// matches its endpoints to `config`'s by name. Endpoints only in
/// the snapshot are left out (with a warning); endpoints only in the config start
/// fresh. The error is one line for `error: cannot resume from PATH: …`.
pub fn load(path: &Path, config: &Config) -> Result<Loaded, String> {
    let decoded = if path.is_dir() {
        // The caller names the directory; the message names the file chosen in it.
        let newest = newest_snapshot(path)?;
        decode::read(&newest).map_err(|e| format!("{}: {e}", newest.display()))?
    } else {
        decode::read(path)?
    };
    if decoded.merged {
        return Err(
            "it is a merge of several vantage points: resume from one probetop's own snapshot"
                .into(),
        );
    }
    let mut warnings = decoded.warnings;
    if let Some(vantage) = &decoded.vantage
        && vantage != snapshot::vantage::current()
    {
        warnings.push(format!(
            "it was taken at vantage point {vantage:?}, this run is {:?}",
            snapshot::vantage::current()
        ));
    }
    let mut endpoints = Vec::with_capacity(decoded.endpoints.len());
    let mut ignored = Vec::new();
    for endpoint in decoded.endpoints {
        match config
            .endpoints
            .iter()
            .position(|e| e.name == endpoint.name)
        {
            Some(index) => {
                let now = &config.endpoints[index].url_as_written;
                if *now != endpoint.url {
                    warnings.push(format!(
                        "endpoint {:?} was {}, is now {now}: its statistics continue",
                        endpoint.name, endpoint.url
                    ));
                }
                endpoints.push((index, endpoint.all_time));
            }
            None => ignored.push(format!("{:?}", endpoint.name)),
        }
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "{} endpoint(s) of the snapshot are not in the config and were ignored: {}",
            ignored.len(),
            ignored.join(", ")
        ));
    }
    Ok(Loaded {
        resume: Resume {
            started_at: decoded.started_at,
            endpoints,
        },
        warnings,
    })
}

/// The newest `probetop-*.json` in `dir` (by modification time, then name): what
/// `[export] on_exit` wrote last when `dir` is its export directory.
fn newest_snapshot(dir: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list it: {e}"))?;
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("probetop-") && name.ends_with(".json")
        })
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, entry.path()))
        })
        .max()
        .map(|(_, path)| path)
        .ok_or_else(|| "the directory holds no probetop-*.json snapshot".into())
}

/// `[export] on_exit`: where and how the snapshot written on exit goes.
#[derive(Debug, Clone)]
pub struct OnExit {
    dir: PathBuf,
    formats: Vec<ExportFormat>,
}

impl OnExit {
    /// The exit snapshot `[export]` asks for (as of the latest reload), if any: in
    /// its formats, always with JSON (the format `--resume` reads).
    pub fn of(export: &snapshot::export::Settings) -> Option<OnExit> {
        if !export.on_exit {
            return None;
        }
        let mut formats = export.formats.clone();
        if !formats.contains(&ExportFormat::Json) {
            formats.insert(0, ExportFormat::Json);
        }
        Some(OnExit {
            dir: export.dir.clone(),
            formats,
        })
    }

    /// Writes `snapshot` (blocking: file system calls and `fsync`) and reports on
    /// stderr and in the log what it wrote or why it could not; `false` when it could not.
    pub fn write(&self, snapshot: &Snapshot) -> bool {
        match snapshot::export::export_as(&self.dir, snapshot, &self.formats) {
            Ok(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                tracing::info!(files = %names.join(", "), "exit snapshot written");
                crate::text::say(&format!(
                    "probetop: exit snapshot written: {}",
                    names.join(", ")
                ));
                true
            }
            Err(e) => {
                tracing::error!("the exit snapshot could not be written: {e}");
                crate::text::say(&format!(
                    "error: the exit snapshot could not be written: {e}"
                ));
                false
            }
        }
    }
}
