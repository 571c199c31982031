//! `probetop merge`: reads the snapshots of several vantage points, merges them
//! ([`crate::snapshot::merge`]) and prints the result.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::snapshot::Render as _;
use crate::snapshot::{decode, merge};

/// Runs `probetop merge`: exit 0 with the merge on stdout, 2 when an input cannot be
/// read or merged (nothing is printed then), 1 when stdout cannot be written.
pub fn run(args: &MergeArgs) -> ExitCode {
    let mut inputs = Vec::with_capacity(args.files.len());
    for path in &args.files {
        match decode::read(path) {
            Ok(snapshot) => inputs.push(merge::Input {
                label: path.display().to_string(),
                fallback_vantage: stem(path),
                snapshot,
            }),
            Err(e) => {
                return fail(&format!("cannot merge {}: {e}", path.display()));
            }
        }
    }
    for input in &inputs {
        for warning in &input.snapshot.warnings {
            warn(&format!("{}: {warning}", input.label));
        }
    }
    let (merged, warnings) = match merge::merge(&inputs) {
        Ok(merged) => merged,
        Err(e) => return fail(&format!("cannot merge: {e}")),
    };
    for warning in &warnings {
        warn(warning);
    }
    let text = args.export_format.render(&merged);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::text::say(&format!("error: cannot write to standard output: {e}"));
            ExitCode::from(crate::app::EXIT_FAILURE)
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Names and messages come from the files: cleaned before they reach the terminal.
fn fail(message: &str) -> ExitCode {
    crate::text::say(&format!("error: {message}"));
    ExitCode::from(crate::app::EXIT_USAGE)
}

fn warn(message: &str) {
    crate::text::say(&format!("warning: {message}"));
}
