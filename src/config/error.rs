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
    pub fn from_span(file: &Path, source: &str, span: Range<usize>) -> Self {
        let start = span.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_text = source[line_start..line_end].trim_end_matches('\r');
        let column = source[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = source[start..end].chars().count().max(1);
        Location {
            file: file.to_path_buf(),
            line: source[..line_start].matches('\n').count() + 1,
            column,
            line_text: line_text.to_string(),
            width,
        }
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
