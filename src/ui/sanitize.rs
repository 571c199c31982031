//! Making text from endpoints safe to put on screen.

/// `text` with every control character (C0, C1, DEL — so escape sequences cannot
/// start) and every invisible direction or zero-width mark removed; line breaks and
/// tabs become spaces. An endpoint's text can then neither steer the terminal nor
/// disguise itself.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escape_sequences_and_invisible_marks() {
        assert_eq!(clean("ok\x1b[2J\x1b]0;pwned\x07!"), "ok[2J]0;pwned!");
        assert_eq!(
            clean("a\u{202E}b\u{200B}c\u{9b}d\u{061C}\u{2063}e"),
            "abcde"
        );
        assert_eq!(clean("line\nbreak\ttab"), "line break tab");
        assert_eq!(clean("ünïcödé ✓"), "ünïcödé ✓");
    }
}
