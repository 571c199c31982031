//! Finding keys in a config file: the key path at a byte offset (for serde's errors)
//! and the span of a key (for the validator's), looked up in one tree of the file.
//!
//! The tree the raw structs are deserialized from is consumed by that; the lookups'
//! tree is parsed again, once, when the first error needs locating. A valid file so
//! costs one parse and one tree (a copy of the tree up front cost about 1 KiB per
//! endpoint at the peak of loading), and a file with many errors still one more
//! parse, never one per error.
//!
//! Errors are located the same way: the byte offset of every line start is found
//! once, when the first error needs it, and each error's line is then a binary
//! search in it, so a file with an error in every endpoint is located in
//! O(n log n) rather than by counting lines from the start of the file each time.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Location;

/// A config file: its text, and (once a lookup asks) its tree of keys and values
/// with their spans, which every lookup reads.
pub(super) struct Document<'a> {
    /// The file's text.
    pub text: &'a str,
    /// The parsed document, for lookups; `None` inside if the text does not parse
    /// (it did once, so that would not happen).
    tree: OnceCell<Option<Spanned<DeTable<'a>>>>,
    /// The byte offset of every line's start, ascending, found on first use.
    line_starts: OnceCell<Vec<usize>>,
}

impl<'a> Document<'a> {
    /// Parses `text`, returning the document and the tree to deserialize from; a
    /// syntax error is returned as TOML reports it.
    pub(super) fn parse(text: &'a str) -> Result<(Self, Spanned<DeTable<'a>>), toml::de::Error> {
        let tree = DeTable::parse(text)?;
        let doc = Document {
            text,
            tree: OnceCell::new(),
            line_starts: OnceCell::new(),
        };
        Ok((doc, tree))
    }

    /// Where the byte span `span` of the text is, as [`Location::from_span`] says,
    /// at the cost of a binary search in the line starts and the length of the line.
    pub(super) fn location(&self, file: &Path, span: Range<usize>) -> Location {
        let starts = self.line_starts.get_or_init(|| line_starts(self.text));
        let at = span.start.min(self.text.len());
        // The last line starting at or before `at`; the first line starts at 0, so
        // there always is one.
        let line = starts.partition_point(|&start| start <= at).max(1);
        Location::on_line(file, self.text, span, starts[line - 1], line)
    }

    /// The lookups' tree, parsed on first use.
    fn tree(&self) -> Option<&Spanned<DeTable<'a>>> {
        self.tree
            .get_or_init(|| DeTable::parse(self.text).ok())
            .as_ref()
    }

    /// The dotted path (`endpoint[1].expect.status`) of the deepest key whose key or value
    /// contains byte offset `at`.
    pub(super) fn key_at(&self, at: usize) -> Option<String> {
        let mut path = String::new();
        let mut table = self.tree()?.get_ref();
        'descend: loop {
            for (key, value) in table.iter() {
                let in_key = key.span().contains(&at);
                let in_value = value.span().contains(&at) || value.span().start == at;
                if !in_key && !in_value {
                    // Tables from `[header]` sections: the value span may not cover the body,
                    // so look inside them anyway.
                    if !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
                        continue;
                    }
                }
                let mut candidate = path.clone();
                if !candidate.is_empty() {
                    candidate.push('.');
                }
                candidate.push_str(key.get_ref());
                if in_key {
                    return Some(candidate);
                }
                match value.get_ref() {
                    DeValue::Table(inner) if contains(inner, at) || in_value => {
                        path = candidate;
                        table = inner;
                        continue 'descend;
                    }
                    DeValue::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let inside = item.span().contains(&at)
                                || matches!(item.get_ref(), DeValue::Table(t) if contains(t, at));
                            if inside {
                                let candidate = format!("{candidate}[{i}]");
                                match item.get_ref() {
                                    DeValue::Table(inner) if contains(inner, at) => {
                                        path = candidate;
                                        table = inner;
                                        continue 'descend;
                                    }
                                    _ => return Some(candidate),
                                }
                            }
                        }
                        if in_value {
                            return Some(candidate);
                        }
                    }
                    _ if in_value => return Some(candidate),
                    _ => {}
                }
            }
            return (!path.is_empty()).then_some(path);
        }
    }

    /// The span of the key at `path` (`["expect", "status"]`) in the `index`-th
    /// `[[endpoint]]` table: the key itself, not its value.
    pub(super) fn endpoint_key_span(&self, index: usize, path: &[&str]) -> Option<Range<usize>> {
        let (_, endpoints) = self
            .tree()?
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == "endpoint")?;
        let DeValue::Array(items) = endpoints.get_ref() else {
            return None;
        };
        let DeValue::Table(table) = items.get(index)?.get_ref() else {
            return None;
        };
        let mut table = table;
        let (last, parents) = path.split_last()?;
        for name in parents {
            let (_, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
            let DeValue::Table(inner) = value.get_ref() else {
                return None;
            };
            table = inner;
        }
        table
            .iter()
            .find(|(k, _)| k.get_ref() == last)
            .map(|(k, _)| k.span())
    }
}

/// The byte offset of the start of every line of `text`: 0, then each byte after a
/// `\n` (also the end of the text when it ends with one, as `from_span` counts it).
fn line_starts(text: &str) -> Vec<usize> {
    #[cfg(test)]
    super::error::scanned::add(text.len());
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// For syntax errors, when the document cannot be parsed: the key path guessed from
/// the last `[table]` header before byte offset `at` and the `key =` on its line.
pub(super) fn key_by_lines(text: &str, at: usize) -> Option<String> {
    let before = &text[..at.min(text.len())];
    let mut table = String::new();
    let mut arrays: HashMap<String, usize> = HashMap::new();
    for line in before.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let index = arrays
                .entry(name.clone())
                .and_modify(|i| *i += 1)
                .or_insert(0);
            table = format!("{name}[{index}]");
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            let name = name.trim();
            // `[endpoint.expect]` belongs to the latest `[[endpoint]]`.
            table = match name.split_once('.') {
                Some((parent, rest)) if arrays.contains_key(parent) => {
                    format!("{parent}[{}].{rest}", arrays[parent])
                }
                _ => name.to_string(),
            };
        }
    }
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (table.is_empty(), key) {
        (true, Some(key)) => Some(key.to_string()),
        (false, Some(key)) => Some(format!("{table}.{key}")),
        (false, None) => Some(table),
        (true, None) => None,
    }
}

/// Whether any key or value of `table` (recursively) covers byte offset `at`.
fn contains(table: &DeTable<'_>, at: usize) -> bool {
    table.iter().any(|(key, value)| {
        key.span().contains(&at)
            || value.span().contains(&at)
            || match value.get_ref() {
                DeValue::Table(inner) => contains(inner, at),
                DeValue::Array(items) => items.iter().any(|item| {
                    item.span().contains(&at)
                        || matches!(item.get_ref(), DeValue::Table(t) if contains(t, at))
                }),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use std::cell::OnceCell;
    use std::path::Path;

    use super::{Document, Location};

    #[test]
    fn locations_from_the_line_starts_match_counting_lines() {
        // Every offset of a text with empty lines, CRLF, a multi-byte character and no
        // final newline: the line index gives what counting from the start gives.
        let text = "a = 1\n\n[x]\r\nkey = \"é\"\nlast";
        let doc = Document {
            text,
            tree: OnceCell::new(),
            line_starts: OnceCell::new(),
        };
        let file = Path::new("t.toml");
        for start in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            for span in [start..text.len(), start..start] {
                assert_eq!(
                    doc.location(file, span.clone()),
                    Location::from_span(file, text, span),
                    "at {start}"
                );
            }
        }
    }
}
