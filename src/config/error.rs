//! Config errors that point at the file, line, column and key at fault.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::mask::{Masked, mask_config_line};

/// Where in a config file an error sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the text came from.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The line's text, for the excerpt under the message.
    pub line_text: String,
    /// How many characters to underline from `column`.
    pub width: usize,
}

impl Location {
    /// Translates a byte span of `source` into a line and column.
    ///
    /// This counts the lines before the span from the start of `source`: right for
    /// one error, but locating many errors of one file this way would be quadratic,
    /// so the validator locates through the file's line starts, computed once
    /// (`Document::location`), and only the column is found here.
    pub fn from_span(file: &Path, source: &str, span: Range<usize>) -> Self {
        let start = span.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = source[..line_start].matches('\n').count() + 1;
        #[cfg(test)]
        scanned::add(start);
        Self::on_line(file, source, span, line_start, line)
    }

    /// Like [`Location::from_span`], with the span's line already known: it starts
    /// at byte `line_start` of `source` and is line number `line` (1-based). Costs
    /// the length of that line, not of the text before it.
    pub(super) fn on_line(
        file: &Path,
        source: &str,
        span: Range<usize>,
        line_start: usize,
        line: usize,
    ) -> Self {
        let start = span.start.min(source.len());
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        #[cfg(test)]
        scanned::add(line_end - line_start);
        let line_text = source[line_start..line_end].trim_end_matches('\r');
        let column = source[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = source[start..end].chars().count().max(1);
        Location {
            file: file.to_path_buf(),
            line,
            column,
            line_text: line_text.to_string(),
            width,
        }
    }
}

/// Bytes of config text read to locate errors, counted in tests: locating must stay
/// linear in the size of the file however many errors it has (counting the lines
/// from the start of the file for every error was quadratic), and a count says so
/// where a timing would flake.
#[cfg(test)]
pub(super) mod scanned {
    use std::cell::Cell;

    thread_local! {
        static BYTES: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts `n` more bytes read.
    pub fn add(n: usize) {
        BYTES.with(|bytes| bytes.set(bytes.get() + n));
    }

    /// The bytes read on this thread since the last call.
    pub fn take() -> usize {
        BYTES.with(|bytes| bytes.replace(0))
    }
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What is wrong, in one sentence.
    pub message: String,
    /// The key at fault, as a dotted path (`endpoint[1].timeout`), when there is one.
    pub key: Option<String>,
    /// Where it is, when it comes from a file.
    pub location: Option<Location>,
    /// File-level context when there is no span (a missing file, say).
    pub file: Option<PathBuf>,
}

impl ConfigError {
    /// An error about a file as a whole (unreadable, empty of endpoints).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            key: None,
            location: None,
            file: Some(file.to_path_buf()),
        }
    }

    /// An error about a command-line value.
    pub fn usage(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            key: None,
            location: None,
            file: None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(key) = &self.key {
            write!(f, " (key `{key}`)")?;
        }
        if let Some(loc) = &self.location {
            let gutter = " ".repeat(loc.line.to_string().len());
            let (text, caret, width) = excerpt(loc);
            write!(
                f,
                "\n{gutter}--> {}:{}:{}\n{gutter} |\n{} | {}\n{gutter} | {}{}",
                loc.file.display(),
                loc.line,
                loc.column,
                loc.line,
                text,
                " ".repeat(caret),
                "^".repeat(width)
            )?;
        } else if let Some(file) = &self.file {
            write!(f, "\n  --> {}", file.display())?;
        }
        Ok(())
    }
}

/// The excerpt under an error: `loc`'s line with its secrets masked
/// ([`mask_config_line`]: an error report is an output like any other), and the
/// caret's column (0-based) and width in it, moved with the text: shifted by what
/// the masks before it shortened or lengthened, and, where it points into a mask,
/// at the start of the mask (its end covering the whole mask). The column printed
/// in `file:line:column` stays the file's own.
fn excerpt(loc: &Location) -> (String, usize, usize) {
    let start = loc.column - 1;
    let end = start + loc.width;
    let masks = mask_config_line(&loc.line_text);
    if masks.is_empty() {
        return (loc.line_text.clone(), start, loc.width);
    }
    let mut text = String::with_capacity(loc.line_text.len());
    let mut chars = loc.line_text.chars();
    let mut taken = 0;
    for mask in &masks {
        text.extend(chars.by_ref().take(mask.chars.start - taken));
        chars.by_ref().take(mask.chars.len()).for_each(drop);
        text.push_str(mask.with);
        taken = mask.chars.end;
    }
    text.extend(chars);
    let caret = moved(start, &masks, false);
    let caret_end = moved(end, &masks, true);
    (text, caret, caret_end.saturating_sub(caret).max(1))
}

/// Where character `at` of a line (as written) is once `masks` are applied: a
/// caret's first column (`end == false`), or the column just after its last
/// (`end == true`).
fn moved(at: usize, masks: &[Masked], end: bool) -> usize {
    let (mut removed, mut added) = (0, 0);
    for mask in masks {
        let with = mask.with.chars().count();
        let inside = if end {
            mask.chars.start < at && at < mask.chars.end
        } else {
            mask.chars.contains(&at)
        };
        if inside {
            let mask_start = mask.chars.start - removed + added;
            return if end { mask_start + with } else { mask_start };
        }
        if at < mask.chars.end {
            break;
        }
        removed += mask.chars.len();
        added += with;
    }
    at - removed + added
}

/// Every error found in one load, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The excerpt and caret lines of an error at `needle` (its first occurrence,
    /// `width` characters) of `line`.
    fn shown(line: &str, needle: &str, width: usize) -> (String, String) {
        let at = line.find(needle).expect("the needle");
        let error = ConfigError {
            message: "m".into(),
            key: None,
            location: Some(Location {
                file: "t.toml".into(),
                line: 7,
                column: line[..at].chars().count() + 1,
                line_text: line.into(),
                width,
            }),
            file: None,
        };
        let text = error.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].ends_with(&format!(":7:{}", line[..at].chars().count() + 1)));
        (
            lines[3].trim_start_matches("7 | ").to_string(),
            lines[4].trim_start_matches("  | ").to_string(),
        )
    }

    /// The caret line's marks, as the text above them.
    fn under<'a>(excerpt: &'a str, caret: &str) -> &'a str {
        let start = caret.find('^').expect("a caret");
        let chars: Vec<(usize, char)> = excerpt.char_indices().collect();
        let from = chars[start].0;
        let to = chars
            .get(start + caret.trim_start().len())
            .map_or(excerpt.len(), |(i, _)| *i);
        &excerpt[from..to]
    }

    const LINE: &str =
        "endpoint = [{ url = \"https://ann:hunter2@h/?token=abc123&x=1\", interval = \"fast\" }]";

    #[test]
    fn a_caret_after_masked_text_moves_with_it() {
        let (excerpt, caret) = shown(LINE, "\"fast\"", 6);
        assert_eq!(
            excerpt,
            "endpoint = [{ url = \"https://ann:***@h/?token=***&x=1\", interval = \"fast\" }]"
        );
        assert_eq!(under(&excerpt, &caret), "\"fast\"");
    }

    #[test]
    fn a_caret_over_the_url_covers_it_masked() {
        let url = "\"https://ann:hunter2@h/?token=abc123&x=1\"";
        let (excerpt, caret) = shown(LINE, url, url.len());
        assert_eq!(
            under(&excerpt, &caret),
            "\"https://ann:***@h/?token=***&x=1\""
        );
        // Between the two masks: shifted by the first only.
        let (excerpt, caret) = shown(LINE, "@h/", 3);
        assert_eq!(under(&excerpt, &caret), "@h/");
    }

    #[test]
    fn a_caret_inside_a_mask_points_at_its_start() {
        let (excerpt, caret) = shown(LINE, "nter2", 2);
        assert_eq!(under(&excerpt, &caret), "***");
        assert_eq!(caret.find('^'), excerpt.find("***"));
        // From inside a mask to past it: from the mask's start to the same end.
        let (excerpt, caret) = shown(LINE, "c123&x", 6);
        assert_eq!(under(&excerpt, &caret), "***&x");
    }

    #[test]
    fn a_line_without_secrets_is_shown_as_written() {
        let line = "interval = \"fäst\" # ünïcode";
        let (excerpt, caret) = shown(line, "\"fäst\"", 6);
        assert_eq!(excerpt, line);
        assert_eq!(under(&excerpt, &caret), "\"fäst\"");
    }
}
