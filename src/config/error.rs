//! Config errors that point at the file, line, column and key at fault.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

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
            write!(
                f,
                "\n{gutter}--> {}:{}:{}\n{gutter} |\n{} | {}\n{gutter} | {}{}",
                loc.file.display(),
                loc.line,
                loc.column,
                loc.line,
                loc.line_text,
                " ".repeat(loc.column - 1),
                "^".repeat(loc.width)
            )?;
        } else if let Some(file) = &self.file {
            write!(f, "\n  --> {}", file.display())?;
        }
        Ok(())
    }
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
