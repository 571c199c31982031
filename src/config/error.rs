//! Config errors that point at the file, line, column and key at fault.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::mask::mask_config_line;

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

/// The most characters of a line an excerpt shows: a longer line (as shown, its
/// masks and escapes applied) is shown as a window of about this many around the
/// error's column, with `…` at each end it cuts, so the caret is never cut off with
/// the line. With the gutter (at most 20 digits and ` | `) and the two marks, a
/// report line stays well under the 400 characters the report's sanitising cuts
/// lines at (`text::MAX_TERMINAL_LINE`, which `config` cannot name).
pub const EXCERPT_CHARS: usize = 300;

/// Of an excerpt's characters, how many at most come before the caret: enough to
/// see which key the error is in, and the rest for the error's own text.
const EXCERPT_BEFORE: usize = 100;

/// The excerpt under an error: `loc`'s line with its secrets masked
/// ([`mask_config_line`]: an error report is an output like any other) and its
/// characters that a terminal would act on or not show written out ([`shown_as`]),
/// and the caret's column (0-based) and width in it, moved with the text: shifted by
/// what the changes before it shortened or lengthened, and, where it points into a
/// mask, at the start of the mask (its end covering the whole mask; a character
/// written out is covered whole). A long line is then cut to a window around the
/// caret ([`window`]). The column printed in `file:line:column` stays the file's
/// own.
///
/// The excerpt is terminal-safe as it is, so the sanitising of the report
/// (`text::terminal_safe`) leaves it alone and cannot move the text away from
/// its caret.
fn excerpt(loc: &Location) -> (String, usize, usize) {
    let start = loc.column - 1;
    let end = start + loc.width;
    let edits = edits(&loc.line_text);
    let mut text = String::with_capacity(loc.line_text.len());
    // Where each edit's text stands in `text`, in characters.
    let mut shown = Vec::with_capacity(edits.len());
    let mut chars = loc.line_text.chars();
    let (mut taken, mut written) = (0, 0);
    for edit in &edits {
        text.extend(chars.by_ref().take(edit.chars.start - taken));
        chars.by_ref().take(edit.chars.len()).for_each(drop);
        text.push_str(&edit.with);
        written += edit.chars.start - taken;
        let with = edit.with.chars().count();
        shown.push(written..written + with);
        written += with;
        taken = edit.chars.end;
    }
    text.extend(chars);
    let caret = moved(start, &edits, false);
    let caret_end = moved(end, &edits, true);
    window(text, &shown, caret, caret_end.saturating_sub(caret).max(1))
}

/// `text` (an excerpt's line as shown) with its caret at character `caret`, `width`
/// wide, cut to at most about [`EXCERPT_CHARS`] characters around the caret when it
/// is longer: up to [`EXCERPT_BEFORE`] of them before the caret (fewer near the
/// line's start, more near its end, so the window is always full), each cut end
/// marked `…`, the caret moved with the window and its width cut at the window's
/// end.
///
/// A cut never falls inside `shown` (the character ranges of `text` that stand for a
/// mask or an escape): half an escape (`u001B`) would read as text of the file. The
/// window shrinks to leave such an edit out, unless it is the one the caret points
/// at, which it keeps whole.
fn window(
    text: String,
    shown: &[Range<usize>],
    caret: usize,
    width: usize,
) -> (String, usize, usize) {
    let len = text.chars().count();
    if len <= EXCERPT_CHARS {
        return (text, caret, width);
    }
    let inside = |at: usize| shown.iter().find(|r| r.start < at && at < r.end);
    // The caret is never inside an edit's text (it points at an edit's start), so
    // the start moved past one stays at or before it.
    let mut from = caret
        .saturating_sub(EXCERPT_BEFORE)
        .min(len - EXCERPT_CHARS);
    if let Some(cut) = inside(from) {
        from = cut.end;
    }
    let mut to = from + EXCERPT_CHARS;
    if let Some(cut) = inside(to) {
        to = if cut.start > caret {
            cut.start
        } else {
            cut.end
        };
    }
    let byte = |at: usize| text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
    let lead = usize::from(from > 0);
    let mut cut = String::with_capacity(4 * (to - from) + 2 * '…'.len_utf8());
    if from > 0 {
        cut.push('…');
    }
    cut.push_str(&text[byte(from)..byte(to)]);
    if to < len {
        cut.push('…');
    }
    let caret_end = (caret + width).min(to);
    (
        cut,
        caret - from + lead,
        caret_end.saturating_sub(caret).max(1),
    )
}

/// One change the excerpt makes to its line: `chars` of the line as written (a
/// character range) read as `with`.
struct Edit {
    chars: Range<usize>,
    with: Cow<'static, str>,
}

/// The changes the excerpt makes to `line`, in order, not overlapping: its masks,
/// and each character outside them that [`shown_as`] writes out.
fn edits(line: &str) -> Vec<Edit> {
    let mut masks = mask_config_line(line).into_iter().peekable();
    let mut edits = Vec::new();
    let mut masked_until = 0;
    for (at, c) in line.chars().enumerate() {
        while let Some(mask) = masks.next_if(|m| m.chars.start <= at) {
            masked_until = mask.chars.end;
            edits.push(Edit {
                chars: mask.chars,
                with: Cow::Borrowed(mask.with),
            });
        }
        if at < masked_until {
            continue;
        }
        if let Some(with) = shown_as(c) {
            edits.push(Edit {
                chars: at..at + 1,
                with,
            });
        }
    }
    edits.extend(masks.map(|mask| Edit {
        chars: mask.chars,
        with: Cow::Borrowed(mask.with),
    }));
    edits
}

/// How the excerpt writes `c`, when not as itself: a TAB as one space (what the
/// report's sanitising makes of it anyway: the caret line is spaces, so the two
/// lines line up in any terminal), and every other control character (C0, DEL, C1)
/// and invisible direction or zero-width mark, which the sanitising would remove
/// (the same set as `text::clean`'s, which `config` cannot name), as TOML's escape
/// of it (`\u001B`): visible, and what the file should hold instead.
fn shown_as(c: char) -> Option<Cow<'static, str>> {
    let hidden = c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        );
    match c {
        '\t' => Some(Cow::Borrowed(" ")),
        c if hidden => Some(Cow::Owned(format!("\\u{:04X}", u32::from(c)))),
        _ => None,
    }
}

/// Where character `at` of a line (as written) is once `edits` are applied: a
/// caret's first column (`end == false`), or the column just after its last
/// (`end == true`).
fn moved(at: usize, edits: &[Edit], end: bool) -> usize {
    let (mut removed, mut added) = (0, 0);
    for edit in edits {
        let with = edit.with.chars().count();
        let inside = if end {
            edit.chars.start < at && at < edit.chars.end
        } else {
            edit.chars.contains(&at)
        };
        if inside {
            let edit_start = edit.chars.start - removed + added;
            return if end { edit_start + with } else { edit_start };
        }
        if at < edit.chars.end {
            break;
        }
        removed += edit.chars.len();
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

    /// The excerpt of `line` with its `"fast"` underlined, as it must be.
    fn fast_underlined(line: &str) -> String {
        let (marked, excerpt) = underlined(line, "\"fast\"", 6);
        assert_eq!(marked, "\"fast\"");
        excerpt
    }

    /// What the caret of an error at `needle` (`width` characters) of `line` is
    /// under, and the excerpt, which must be terminal-safe as it is.
    fn underlined(line: &str, needle: &str, width: usize) -> (String, String) {
        let (excerpt, caret) = shown(line, needle, width);
        assert!(
            !excerpt.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{excerpt:?}"
        );
        (under(&excerpt, &caret).to_string(), excerpt)
    }

    #[test]
    fn a_control_character_before_the_error_moves_the_caret_with_it() {
        let line = "name = \"a\u{7}b\u{1b}[2J\u{7f}\u{9b}c\" interval = \"fast\"";
        let excerpt = fast_underlined(line);
        assert_eq!(
            excerpt,
            "name = \"a\\u0007b\\u001B[2J\\u007F\\u009Bc\" interval = \"fast\""
        );
    }

    #[test]
    fn a_control_character_inside_the_error_is_covered_whole() {
        let line = "name = \"a\u{1b}[31mb\" # x";
        assert_eq!(underlined(line, "\"a", 9).0, "\"a\\u001B[31mb\"");
        // An error at the character itself points at all of its escape.
        assert_eq!(underlined(line, "\u{1b}", 1).0, "\\u001B");
        assert_eq!(underlined("x = \"\u{85}\"", "\u{85}", 1).0, "\\u0085");
    }

    #[test]
    fn a_control_character_after_the_error_leaves_the_caret_alone() {
        let line = "nmae = \"a\u{7}\u{7}\u{7}\"";
        let (excerpt, caret) = shown(line, "nmae", 4);
        assert_eq!(caret, "^^^^");
        assert_eq!(excerpt, "nmae = \"a\\u0007\\u0007\\u0007\"");
    }

    #[test]
    fn control_characters_and_masks_move_the_caret_together() {
        let line = "endpoint = [{ url = \"https://ann:hun\u{1b}ter2@h/?token=abc\u{7}123&x=\u{7}1\", \u{9b}interval = \"fa\u{7}st\" }]";
        let (marked, excerpt) = underlined(line, "\"fa", 7);
        assert_eq!(marked, "\"fa\\u0007st\"");
        // A control character inside a mask goes with the mask.
        assert_eq!(
            excerpt,
            "endpoint = [{ url = \"https://ann:***@h/?token=***&x=\\u00071\", \\u009Binterval = \"fa\\u0007st\" }]"
        );
        // Between the masks and the escapes.
        assert_eq!(underlined(line, "&x=", 5).0, "&x=\\u00071");
        // From inside a mask over an escape after it.
        assert_eq!(underlined(line, "ter2@", 21).0, "***@h/?token=***");
    }

    #[test]
    fn tabs_and_invisible_marks_keep_the_caret_under_the_text() {
        // A TAB is one space in the excerpt, as the caret line counts it.
        let excerpt = fast_underlined("\tinterval\t=\t\"fast\"");
        assert_eq!(excerpt, " interval = \"fast\"");
        // A right-to-left override is written out, not obeyed.
        let line = "name = \"\u{202E}kcatta\" interval = \"fast\"";
        let excerpt = fast_underlined(line);
        assert_eq!(excerpt, "name = \"\\u202Ekcatta\" interval = \"fast\"");
    }

    /// A line of `before` characters of padding, then `middle`, then `after` more.
    fn padded(before: usize, middle: &str, after: usize) -> String {
        format!(
            "x = \"{}\" {middle} # {}",
            "a".repeat(before),
            "b".repeat(after)
        )
    }

    /// The report of an error at the end of `line`, after its last character: its
    /// excerpt and caret lines.
    fn at_the_end(line: &str) -> (String, String) {
        let error = ConfigError {
            message: "m".into(),
            key: None,
            location: Some(Location {
                file: "t.toml".into(),
                line: 7,
                column: line.chars().count() + 1,
                line_text: line.into(),
                width: 1,
            }),
            file: None,
        };
        let report = error.to_string();
        let lines: Vec<&str> = report.lines().collect();
        (
            lines[3].trim_start_matches("7 | ").to_string(),
            lines[4].trim_start_matches("  | ").to_string(),
        )
    }

    #[test]
    fn a_long_line_shows_a_window_around_the_error() {
        let line = padded(990, "interval = \"fast\"", 2_000);
        let excerpt = fast_underlined(&line);
        // Cut at both ends, each marked, the caret `EXCERPT_BEFORE` characters (and
        // the mark) into it.
        assert!(
            excerpt.starts_with('…') && excerpt.ends_with('…'),
            "{excerpt}"
        );
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 2);
        let (_, caret) = shown(&line, "\"fast\"", 6);
        assert_eq!(caret.find('^'), Some(EXCERPT_BEFORE + 1));
        // What it shows is the line's own text around the error.
        let inner = excerpt.trim_matches('…');
        assert!(line.contains(inner) && inner.contains("a\" interval = \"fast\" # b"));
    }

    #[test]
    fn a_long_line_keeps_its_window_full_at_either_end() {
        // Near the start: nothing cut before the error.
        let line = padded(0, "interval = \"fast\"", 2_000);
        let excerpt = fast_underlined(&line);
        assert!(!excerpt.starts_with('…') && excerpt.ends_with('…'));
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        // Near the end: the window reaches back further than `EXCERPT_BEFORE`.
        let line = format!("x = \"{}\" interval = \"fast\"", "a".repeat(2_000));
        let excerpt = fast_underlined(&line);
        assert!(excerpt.starts_with('…') && excerpt.ends_with("\"fast\""));
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        // An error after the line's last character (a missing value, say): the
        // caret just after the text.
        let (excerpt, caret) = at_the_end(&line);
        assert_eq!(caret.find('^'), Some(excerpt.chars().count()));
        assert_eq!(caret.trim_start(), "^");
    }

    #[test]
    fn a_wide_error_on_a_long_line_is_underlined_to_the_window_s_end() {
        let value = format!("\"{}\"", "c".repeat(1_000));
        let line = padded(500, &format!("timeout = {value}"), 10);
        let (excerpt, caret) = shown(&line, &value, value.len());
        let marked = under(&excerpt, &caret);
        assert!(marked.starts_with("\"ccc"), "{marked}");
        assert!(excerpt.ends_with(&format!("{marked}…")), "{excerpt}");
        assert_eq!(caret.trim_start().len(), EXCERPT_CHARS - EXCERPT_BEFORE);
    }

    #[test]
    fn a_long_line_masks_its_secrets_in_the_window() {
        let url = "url = \"https://ann:hunter2@h/?token=abc123&x=1\", interval = \"fast\"";
        let excerpt = fast_underlined(&padded(950, url, 1_000));
        assert!(
            excerpt.contains("https://ann:***@h/?token=***&x=1"),
            "{excerpt}"
        );
        assert!(!excerpt.contains("nter2") && !excerpt.contains("c123"));
        // A window that would start on the password's mask's second character (the
        // caret `EXCERPT_BEFORE` back from "fast", which the mask, 4 shorter than
        // the password, moved 4 to the left) starts after the mask instead, rather
        // than with part of it.
        let after_mask = "hunter2@h/".len() + "\", interval = ".len();
        let gap = "d".repeat(EXCERPT_BEFORE + 1 + 4 - after_mask);
        let tail = format!("url = \"https://ann:hunter2@h/{gap}\", interval = \"fast\"");
        let excerpt = fast_underlined(&padded(950, &tail, 1_000));
        assert!(excerpt.starts_with("…@h/d"), "{excerpt}");
    }

    #[test]
    fn a_long_line_writes_out_its_control_characters_in_the_window() {
        let middle = "name = \"\u{1b}[2J\u{9b}\u{7}\" interval = \"fast\"";
        let excerpt = fast_underlined(&padded(990, middle, 1_000));
        assert!(
            excerpt.contains("name = \"\\u001B[2J\\u009B\\u0007\" interval"),
            "{excerpt}"
        );
        // However the escapes before the caret fall, the window starts with a whole
        // one, never with the rest of one.
        for pad in 0..6 {
            let line = format!(
                "name = \"{}{}\" interval = \"fast\" # {}",
                "\u{1b}".repeat(100),
                "e".repeat(pad),
                "b".repeat(1_000)
            );
            let excerpt = fast_underlined(&line);
            assert!(excerpt.starts_with("…\\u001B"), "{pad}: {excerpt}");
        }
        // Nor ends with the start of one.
        for pad in 0..6 {
            let line = format!(
                "interval = \"fast\" # {}{}",
                "e".repeat(pad),
                "\u{7}".repeat(100)
            );
            let excerpt = fast_underlined(&line);
            assert!(excerpt.ends_with("\\u0007…"), "{pad}: {excerpt}");
        }
    }
}
