//! The one direction of ARCHITECTURE.md, checked on the source: config → probe /
//! engine → stats → views. A module may name only the modules its layer may read, so
//! an import that turns an arrow around fails here rather than in a review.

use std::path::{Path, PathBuf};

/// Each layer, the source it covers (a folder or a file under `src/`), and the crate
/// modules it may name besides itself.
const LAYERS: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("probe", &["config"]),
    ("stats", &["config", "probe"]),
    ("engine", &["config", "probe", "stats"]),
    ("alert", &["config", "stats", "text"]),
];

/// Everything `src/` names a module by.
const MODULES: &[&str] = &[
    "alert", "app", "cli", "config", "demo", "engine", "fleet", "hlog", "logging", "metrics",
    "probe", "resume", "serve", "signals", "snapshot", "stats", "ui",
];

fn sources(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("src/ is readable") {
                pending.push(entry.expect("src/ is readable").path());
            }
        } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The crate modules `text` names through `crate::`.
fn named_modules(text: &str) -> Vec<&'static str> {
    MODULES
        .iter()
        .copied()
        .filter(|module| {
            text.match_indices("crate::").any(|(at, _)| {
                text[at + "crate::".len()..].starts_with(module) && {
                    let rest = &text[at + "crate::".len() + module.len()..];
                    !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                }
            })
        })
        .collect()
}

#[test]
fn lower_layers_name_no_layer_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (layer, allowed) in LAYERS {
        let mut files = sources(&src.join(layer));
        files.extend(sources(&src.join(format!("{layer}.rs"))));
        assert!(!files.is_empty(), "no source found for layer {layer}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file is readable");
            for module in named_modules(&text) {
                if module != *layer && !allowed.contains(&module) {
                    wrong.push(format!("{} names crate::{module}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows turned around:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_an_import() {
    assert_eq!(named_modules("use crate::ui::model::Span;"), ["ui"]);
    assert_eq!(
        named_modules("crate::stats::State, crate::configx"),
        ["stats"]
    );
    assert!(named_modules("use super::Thing;").is_empty());
}
