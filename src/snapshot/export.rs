//! Writing a snapshot to a directory: `probetop-<time>.json` and `.csv`, side by side.
//!
//! Each file is written to a temporary file in the target directory, synced, then
//! renamed onto its final name, so a reader (or a crash) never sees half a file. The
//! final names are claimed without overwriting anything: a second export within the
//! same second gets the stem `probetop-<time>-2`, then `-3`, and the JSON and CSV of
//! one export always share their stem.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{Render, Snapshot};
use crate::config::{Config, ExportFormat};

/// `[export]` as the exports of a run read it (`hlog` is the interval log's, and
/// read at start only): the reloader sends a new one to the dashboard and to the
/// exit snapshot on every reload that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where snapshots are written (created when missing, at each export).
    pub dir: PathBuf,
    /// The formats the export key writes.
    pub formats: Vec<ExportFormat>,
    /// Whether every exit writes a snapshot into `dir` (`on_exit`).
    pub on_exit: bool,
}

impl Settings {
    /// What `config` sets.
    pub fn of(config: &Config) -> Self {
        Settings {
            dir: config.export_dir.clone(),
            formats: config.export_formats.clone(),
            on_exit: config.export_on_exit,
        }
    }
}

/// Most stems tried for one export; beyond it something else is filling the directory.
const MAX_ATTEMPTS: u32 = 1000;

/// The files one export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFiles {
    /// The snapshot JSON.
    pub json: PathBuf,
    /// The snapshot CSV, same stem as the JSON.
    pub csv: PathBuf,
}

/// Why an export failed: what was being done, to which path, and the OS's reason.
///
/// Its `Display` is one line, e.g. `cannot write /x/probetop-20261121T224500Z.json:
/// Permission denied (os error 13)`, short enough for a status bar.
#[derive(Debug)]
pub struct ExportError {
    action: &'static str,
    path: PathBuf,
    source: io::Error,
}

impl ExportError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        ExportError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The path that could not be written (a file, or the directory).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `snapshot` into `dir` (created if missing) as
/// `probetop-<taken_at as YYYYMMDDTHHMMSSZ>.json` (pretty) and `.csv` with the same stem.
///
/// All or nothing: on error, neither file is left behind, nor any temporary file.
///
/// This blocks on file system calls (including `fsync`): from async code, run it in
/// `tokio::task::spawn_blocking`.
pub fn export(dir: &Path, snapshot: &Snapshot) -> Result<ExportedFiles, ExportError> {
    let paths = export_as(dir, snapshot, &[ExportFormat::Json, ExportFormat::Csv])?;
    Ok(ExportedFiles {
        json: paths[0].clone(),
        csv: paths[1].clone(),
    })
}

/// Writes `snapshot` into `dir` (created if missing) once per format in `formats`,
/// all with the same stem `probetop-<taken_at as YYYYMMDDTHHMMSSZ>`; returns the paths
/// in the order of `formats`.
///
/// All or nothing: on error, none of the files is left behind, nor any temporary file.
/// Blocking, like [`export`].
pub fn export_as(
    dir: &Path,
    snapshot: &Snapshot,
    formats: &[ExportFormat],
) -> Result<Vec<PathBuf>, ExportError> {
    fs::create_dir_all(dir).map_err(|e| ExportError::new("create directory", dir, e))?;

    let base = file_stem(&snapshot.taken_at);
    let name =
        |stem: &str, format: &ExportFormat| dir.join(format!("{stem}.{}", format.extension()));
    let texts: Vec<String> = formats.iter().map(|f| f.render(snapshot)).collect();
    // Errors before a name is claimed name the file the user would have got.
    let mut temps: Vec<Option<NamedTempFile>> = Vec::with_capacity(formats.len());
    for (format, text) in formats.iter().zip(&texts) {
        temps.push(Some(write_temp(
            dir,
            &name(&base, format),
            text.as_bytes(),
        )?));
    }

    'stems: for attempt in 1..=MAX_ATTEMPTS {
        let stem = numbered_stem(&base, attempt);
        let paths: Vec<PathBuf> = formats.iter().map(|f| name(&stem, f)).collect();
        // Skip a stem when any name is taken, so the files stay together. This check
        // alone would race with a concurrent export; the no-clobber renames settle that.
        if paths.iter().any(|p| taken(p)) {
            continue;
        }
        let mut placed: Vec<&PathBuf> = Vec::with_capacity(paths.len());
        for (i, path) in paths.iter().enumerate() {
            let tmp = match temps[i].take() {
                Some(tmp) => tmp,
                None => write_temp(dir, path, texts[i].as_bytes())?,
            };
            match tmp.persist_noclobber(path) {
                Ok(_) => placed.push(path),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    // Someone took this name after our check: give back the names
                    // placed so far (their text is rewritten on the next attempt) so
                    // that the stems stay together.
                    temps[i] = Some(e.file);
                    for done in placed {
                        fs::remove_file(done).map_err(|e| ExportError::new("remove", done, e))?;
                    }
                    continue 'stems;
                }
                Err(e) => {
                    // All or nothing. Best effort: the error worth reporting is this one.
                    for done in placed {
                        let _ = fs::remove_file(done);
                    }
                    return Err(ExportError::new("write", path, e.error));
                }
            }
        }
        sync_dir(dir);
        return Ok(paths);
    }
    Err(ExportError::new(
        "write",
        &name(&base, formats.first().unwrap_or(&ExportFormat::Json)),
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{MAX_ATTEMPTS} exports with this time exist already"),
        ),
    ))
}

/// `probetop-20261121T224500Z` for `taken_at` = `2026-11-21T22:45:00Z`.
///
/// Fractional seconds are dropped (the suffix of [`export`] separates exports within a
/// second). A `taken_at` that is not RFC 3339 UTC, which [`super::build`] never
/// produces, keeps only its ASCII letters and digits, so it can never form a path.
pub fn file_stem(taken_at: &str) -> String {
    let compact: String = match humantime::parse_rfc3339(taken_at) {
        Ok(at) => crate::text::timestamp(at).replace(['-', ':'], ""),
        Err(_) => taken_at
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect(),
    };
    format!("probetop-{compact}")
}

/// The stem of the `attempt`-th try: `base`, then `base-2`, `base-3`…
fn numbered_stem(base: &str, attempt: u32) -> String {
    if attempt == 1 {
        base.to_string()
    } else {
        format!("{base}-{attempt}")
    }
}

/// Whether anything, even a dangling symlink, has this name.
fn taken(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// A temporary file in `dir` holding `contents`, flushed and synced, ready to rename.
///
/// `target` is the final name, for the error message: the temporary name means
/// nothing to the user.
fn write_temp(dir: &Path, target: &Path, contents: &[u8]) -> Result<NamedTempFile, ExportError> {
    let mut builder = tempfile::Builder::new();
    // Recognisable if a crash ever leaves one, and hidden from `ls`.
    builder.prefix(".probetop-").suffix(".tmp");
    // The temporary file becomes the export: give it the mode `File::create` would
    // (0o666 less the umask) rather than tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut file = builder
        .tempfile_in(dir)
        .map_err(|e| ExportError::new("create a temporary file in", dir, e))?;
    file.write_all(contents)
        .and_then(|()| file.flush())
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| ExportError::new("write", target, e))?;
    Ok(file)
}

/// Makes the renames durable by syncing the directory.
///
/// Failure is ignored: some file systems refuse to sync a directory, and the files
/// are complete and in place either way.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem_is_the_compact_utc_time() {
        assert_eq!(
            file_stem("2026-11-21T22:45:00Z"),
            "probetop-20261121T224500Z"
        );
        assert_eq!(
            file_stem("2026-01-02T03:04:05Z"),
            "probetop-20260102T030405Z"
        );
    }

    #[test]
    fn stem_drops_fractional_seconds() {
        assert_eq!(
            file_stem("2026-11-21T22:45:00.987Z"),
            "probetop-20261121T224500Z"
        );
    }

    #[test]
    fn stem_of_what_build_writes() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_301_100);
        assert_eq!(
            file_stem(&crate::text::timestamp(at)),
            "probetop-20261121T224500Z"
        );
    }

    #[test]
    fn stem_of_an_odd_time_cannot_form_a_path() {
        assert_eq!(
            file_stem("../2026-11-21 22:45:00+01:00"),
            "probetop-202611212245000100"
        );
        assert_eq!(file_stem("a/b\\c"), "probetop-abc");
    }

    #[test]
    fn later_stems_are_numbered_from_two() {
        assert_eq!(numbered_stem("probetop-x", 1), "probetop-x");
        assert_eq!(numbered_stem("probetop-x", 2), "probetop-x-2");
        assert_eq!(numbered_stem("probetop-x", 3), "probetop-x-3");
    }

    #[test]
    fn error_is_one_line_naming_the_path() {
        let e = ExportError::new(
            "write",
            Path::new("/x/y.json"),
            io::Error::from_raw_os_error(13),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("cannot write /x/y.json: Permission denied"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert_eq!(e.path(), Path::new("/x/y.json"));
    }
}
