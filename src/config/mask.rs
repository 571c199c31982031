//! Secrets in URLs, masked for every output: a URL's password and the values of
//! query parameters whose names look secret become `***`.
//!
//! Masking works on the text, not on a parsed URL, so it applies to a URL as written
//! (`${VAR}` references kept, possibly not a valid URL yet) as well as to a
//! `Location` a server sent. A value made of `${VAR}` references only is kept as
//! written: it names the secret without holding it.

use std::ops::Range;

/// What a masked value reads as.
pub const MASK: &str = "***";

/// Endings of query parameter names whose values are masked (compared with the name
/// lowercased and percent-decoded): `token` covers `access_token` and `X-Amz-Security-Token`,
/// `key` covers `api_key`, `apikey` and `x-api-key`. Masking a harmless value
/// (`monkey=…`) costs little; showing a secret cannot be undone.
const SECRET_ENDINGS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "session",
    "sessionid",
    "jwt",
];

/// Whether a query parameter called `name` (as written, maybe percent-encoded) holds
/// a secret by the rule of [`SECRET_ENDINGS`].
pub fn is_secret_param(name: &str) -> bool {
    // `name=` parsed as a form: its name percent-decoded (and `+` as a space).
    let decoded = url::form_urlencoded::parse(name.as_bytes())
        .next()
        .map_or_else(String::new, |(name, _)| name.into_owned());
    let lower = decoded.to_ascii_lowercase();
    SECRET_ENDINGS.iter().any(|ending| lower.ends_with(ending))
}

/// Whether `value` consists of `${VAR}` references only (and is not empty).
fn only_references(value: &str) -> bool {
    let mut rest = value;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(tail) = rest.strip_prefix("${") else {
            return false;
        };
        let Some(end) = tail.find('}') else {
            return false;
        };
        rest = &tail[end + 1..];
    }
    true
}

/// `value` masked, unless it is empty or references only.
fn masked_value(value: &str) -> &str {
    if value.is_empty() || only_references(value) {
        value
    } else {
        MASK
    }
}

/// `text` (a URL, as written or received) with its password and secret query values
/// replaced by `***`; everything else is kept exactly, so the result still reads as
/// the URL it came from.
pub fn mask_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Scheme and authority: the password is between the first `:` of the user info
    // and the last `@` before the path.
    let (head, rest) = match text.find("://") {
        Some(at) => text.split_at(at + 3),
        None => ("", text),
    };
    out.push_str(head);
    let rest = if head.is_empty() {
        rest
    } else {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, password)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(masked_value(password));
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        after
    };
    let (before_fragment, fragment) = match rest.find('#') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&mask_query(query));
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    out
}

/// A query string with the values of secret parameters masked.
fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if is_secret_param(name) => {
                format!("{name}={}", masked_value(value))
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The byte ranges of `text` that [`mask_url`] replaces with [`MASK`], in order:
/// the same rule, for a caller that must know where the secrets were (a config
/// excerpt keeps its caret under the right column).
pub fn url_secret_ranges(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let maskable = |value: &str| !value.is_empty() && !only_references(value);
    let rest_at = match text.find("://") {
        Some(at) => {
            let authority_start = at + 3;
            let rest = &text[authority_start..];
            let authority_end = authority_start + rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &text[authority_start..authority_end];
            if let Some(at) = authority.rfind('@')
                && let Some(colon) = authority[..at].find(':')
            {
                let password = authority_start + colon + 1..authority_start + at;
                if maskable(&text[password.clone()]) {
                    ranges.push(password);
                }
            }
            authority_end
        }
        None => 0,
    };
    let before_fragment = rest_at + text[rest_at..].find('#').unwrap_or(text.len() - rest_at);
    if let Some(question) = text[rest_at..before_fragment].find('?') {
        let mut pair_start = rest_at + question + 1;
        for pair in text[pair_start..before_fragment].split('&') {
            if let Some((name, value)) = pair.split_once('=')
                && is_secret_param(name)
                && maskable(value)
            {
                let value_start = pair_start + name.len() + 1;
                ranges.push(value_start..value_start + value.len());
            }
            pair_start += pair.len() + 1;
        }
    }
    ranges
}

/// What a webhook's path and query read as where they are masked.
pub const WEBHOOK_MASK: &str = "…";

/// The byte range of a webhook URL's `text` that is masked, as
/// [`super::AlertTarget::label`] does: everything after the first `/` following the
/// authority (a Slack hook's path is its key), unless that is empty or `${VAR}`
/// references only.
pub fn webhook_secret_range(text: &str) -> Option<Range<usize>> {
    let authority_start = text.find("://").map_or(0, |at| at + 3);
    let rest = &text[authority_start..];
    let path_start = authority_start + rest.find(['/', '?', '#'])?;
    // The `/` itself stays: the label reads `https://host/…`.
    let secret_start = path_start + usize::from(text[path_start..].starts_with('/'));
    let secret = &text[secret_start..];
    (!secret.is_empty() && !only_references(secret)).then_some(secret_start..text.len())
}

/// Whether a config key's value is a secret by its name alone (`password`,
/// `bearer_token`, an `Authorization` or `X-Api-Key` header, a `Cookie`): the rule
/// of [`is_secret_param`], and cookies.
pub fn is_secret_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    is_secret_param(name) || lower == "cookie" || lower == "set-cookie"
}

/// One replacement in a config line masked by [`mask_config_line`]: the
/// characters `chars` of the line (counted in characters, not bytes) read `with`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The characters replaced, in the line as written.
    pub chars: Range<usize>,
    /// What they read as.
    pub with: &'static str,
}

/// The secrets of one line of a config file (TOML), for an error's excerpt: in
/// every string, a URL's password and secret query values ([`url_secret_ranges`]);
/// the value of a key that names a secret ([`is_secret_key`]), all but its `${VAR}`
/// references; a `webhook`'s
/// path ([`webhook_secret_range`]); and the same rule for URLs in a comment.
/// Returns the replacements, in order, not overlapping.
///
/// The line is read on its own (the excerpt has nothing else), so a line inside a
/// multi-line string is read as TOML too: its URLs are masked all the same.
pub fn mask_config_line(line: &str) -> Vec<Masked> {
    let mut bytes: Vec<(Range<usize>, &'static str)> = Vec::new();
    let mut key: Option<&str> = None;
    let mut at = 0;
    while let Some(c) = line[at..].chars().next() {
        match c {
            '#' => {
                let comment = &line[at..];
                if comment.contains("://") {
                    bytes.extend(
                        url_secret_ranges(comment)
                            .into_iter()
                            .map(|r| (at + r.start..at + r.end, MASK)),
                    );
                }
                break;
            }
            '"' | '\'' => {
                let (content, end) = toml_string(line, at, c);
                let after = line[end..].trim_start();
                if after.starts_with('=') || after.starts_with('.') {
                    // A quoted key.
                    key = Some(&line[content.clone()]);
                } else {
                    let value = &line[content.clone()];
                    let shift = |r: Range<usize>| content.start + r.start..content.start + r.end;
                    let name = key.unwrap_or("");
                    if name.eq_ignore_ascii_case("webhook") {
                        // A password before the path too, should one be written.
                        let path = webhook_secret_range(value);
                        let before = path.as_ref().map_or(value.len(), |p| p.start);
                        bytes.extend(
                            url_secret_ranges(value)
                                .into_iter()
                                .filter(|r| r.end <= before)
                                .map(|r| (shift(r), MASK)),
                        );
                        bytes.extend(path.map(|r| (shift(r), WEBHOOK_MASK)));
                    } else if is_secret_key(name) {
                        bytes.extend(literal_runs(value).into_iter().map(|r| (shift(r), MASK)));
                    } else {
                        bytes.extend(
                            url_secret_ranges(value)
                                .into_iter()
                                .map(|r| (shift(r), MASK)),
                        );
                    }
                }
                at = end;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                let len = line[at..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(line.len() - at);
                let after = line[at + len..].trim_start();
                if after.starts_with('=') || after.starts_with('.') {
                    key = Some(&line[at..at + len]);
                }
                at += len;
            }
            c => at += c.len_utf8(),
        }
    }
    char_ranges(line, bytes)
}

/// The byte ranges of `value` outside its `${VAR}` references (each non-empty):
/// the literal text of a secret's value, masked in an excerpt while a reference
/// stays readable (`"Bearer ${TOKEN}"` reads `"***${TOKEN}"`, so an error about the
/// variable still shows it).
fn literal_runs(value: &str) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut at = 0;
    while at < value.len() {
        let reference = value[at..]
            .find("${")
            .and_then(|open| Some((at + open, at + open + value[at + open..].find('}')? + 1)));
        let (literal_end, next) = reference.unwrap_or((value.len(), value.len()));
        if literal_end > at {
            runs.push(at..literal_end);
        }
        at = next;
    }
    runs
}

/// The string starting at byte `open` of `line` (its quote `quote`; `"""` and `'''`
/// too): the byte range of its content, and the byte after its closing quote (the
/// line's end when it does not close on this line).
fn toml_string(line: &str, open: usize, quote: char) -> (Range<usize>, usize) {
    let triple = if quote == '"' { "\"\"\"" } else { "'''" };
    let delimiter = if line[open..].starts_with(triple) {
        triple
    } else {
        &line[open..open + 1]
    };
    let start = open + delimiter.len();
    let mut at = start;
    while at < line.len() {
        let rest = &line[at..];
        if quote == '"' && rest.starts_with('\\') {
            // An escape: the next character is never the closing quote.
            at += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
        } else if rest.starts_with(delimiter) {
            return (start..at, at + delimiter.len());
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    (start..line.len(), line.len())
}

/// Byte ranges of `line` (in order, not overlapping) as character ranges, in one
/// pass over the line.
fn char_ranges(line: &str, bytes: Vec<(Range<usize>, &'static str)>) -> Vec<Masked> {
    let mut masked = Vec::with_capacity(bytes.len());
    let mut chars = 0;
    let mut counted = 0;
    let mut count_to = |byte: usize| {
        chars += line[counted..byte].chars().count();
        counted = byte;
        chars
    };
    for (range, with) in bytes {
        let start = count_to(range.start);
        let end = count_to(range.end);
        masked.push(Masked {
            chars: start..end,
            with,
        });
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_masked() {
        for (text, masked) in [
            ("https://user:pw@host/", "https://user:***@host/"),
            ("https://user@host/", "https://user@host/"),
            ("https://u:p@ss@host:8443/x", "https://u:***@host:8443/x"),
            (
                "https://host/p?token=abc&x=1",
                "https://host/p?token=***&x=1",
            ),
            (
                "https://host/?API_KEY=1&x-api-key=2&accessToken=3&X-Amz-Signature=4&sig=5",
                "https://host/?API_KEY=***&x-api-key=***&accessToken=***&X-Amz-Signature=***&sig=***",
            ),
            (
                "https://host/?pass%77ord=s#frag",
                "https://host/?pass%77ord=***#frag",
            ),
            ("https://host/?token=", "https://host/?token="),
            ("https://host/?token", "https://host/?token"),
            ("http://host/a@b?q=1", "http://host/a@b?q=1"),
            ("http://host/#?token=x", "http://host/#?token=x"),
        ] {
            assert_eq!(mask_url(text), masked, "{text}");
        }
    }

    #[test]
    fn references_stay_as_written() {
        assert_eq!(
            mask_url("https://u:${PW}@h/?token=${TOKEN}&key=a${K}"),
            "https://u:${PW}@h/?token=${TOKEN}&key=***"
        );
    }

    #[test]
    fn endpoints_show_their_url_masked_and_request_it_whole() {
        let text = "[[endpoint]]\nurl = \"https://ann:pw@h/?token=${T}&key=lit\"\n";
        let config =
            crate::config::validate::parse_str(std::path::Path::new("t.toml"), text, |_| {
                Some("expanded".into())
            })
            .unwrap();
        let endpoint = &config.endpoints[0];
        assert_eq!(
            endpoint.url_as_written,
            "https://ann:***@h/?token=${T}&key=***"
        );
        assert_eq!(endpoint.name, endpoint.url_as_written);
        assert_eq!(endpoint.url.password(), Some("pw"));
        assert_eq!(endpoint.url.query(), Some("token=expanded&key=lit"));
    }

    /// `text` with `ranges` (bytes, in order) replaced by [`MASK`].
    fn replaced(text: &str, ranges: &[Range<usize>]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for range in ranges {
            out.push_str(&text[at..range.start]);
            out.push_str(MASK);
            at = range.end;
        }
        out.push_str(&text[at..]);
        out
    }

    #[test]
    fn the_secret_ranges_are_where_mask_url_masks() {
        for text in [
            "https://user:pw@host/",
            "https://user@host/",
            "https://u:p@ss@host:8443/x",
            "https://host/p?token=abc&x=1",
            "https://host/?API_KEY=1&x-api-key=2&accessToken=3&X-Amz-Signature=4&sig=5",
            "https://host/?pass%77ord=s#frag",
            "https://host/?token=",
            "https://host/?token",
            "http://host/a@b?q=1",
            "http://host/#?token=x",
            "https://u:${PW}@h/?token=${TOKEN}&key=a${K}",
            "host/?secret=x",
            "",
            "https://",
            "https://ü:pw@hôst/?tökén=ä&token=ö",
        ] {
            let ranges = url_secret_ranges(text);
            assert_eq!(replaced(text, &ranges), mask_url(text), "{text}");
        }
    }

    /// `line` with what [`mask_config_line`] found replaced.
    fn masked_line(line: &str) -> String {
        let chars: Vec<char> = line.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        for masked in mask_config_line(line) {
            out.extend(&chars[at..masked.chars.start]);
            out.push_str(masked.with);
            at = masked.chars.end;
        }
        out.extend(&chars[at..]);
        out
    }

    #[test]
    fn config_lines_show_their_secrets_masked() {
        for (line, masked) in [
            (
                r#"url = "https://ann:hunter2@h/?token=abc&x=1" # was https://ann:old@h/"#,
                r#"url = "https://ann:***@h/?token=***&x=1" # was https://ann:***@h/"#,
            ),
            (
                r#"headers = { Authorization = "Bearer abc", "X-Api-Key" = 'k', Accept = "a?token=b", Cookie = "s=1" }"#,
                r#"headers = { Authorization = "***", "X-Api-Key" = '***', Accept = "a?token=***", Cookie = "***" }"#,
            ),
            (
                r#"basic_auth = { username = "ann", password = "pw" }"#,
                r#"basic_auth = { username = "ann", password = "***" }"#,
            ),
            (
                r#"bearer_token = "${TOKEN}"  password = """#,
                r#"bearer_token = "${TOKEN}"  password = """#,
            ),
            (
                r#"webhook = "https://u:pw@hooks.slack.com/services/T0/B0/XYZ""#,
                r#"webhook = "https://u:***@hooks.slack.com/…""#,
            ),
            (
                r#"webhook = "https://hooks.example.com/""#,
                r#"webhook = "https://hooks.example.com/""#,
            ),
            (r#"webhook = "${HOOK}""#, r#"webhook = "${HOOK}""#),
            (
                r#"webhook = "https://ntfy.sh/${TOPIC}""#,
                r#"webhook = "https://ntfy.sh/${TOPIC}""#,
            ),
            (
                r#"name = "a \"https://u:p@h/\" b", url = 'https://v:q@h/'"#,
                r#"name = "a \"https://u:***@h/\" b", url = 'https://v:***@h/'"#,
            ),
            (
                r#"urls = ["https://a:b@h/", """https://c:d@h/?key=e"""]"#,
                r#"urls = ["https://a:***@h/", """https://c:***@h/?key=***"""]"#,
            ),
            (
                r#"  "https://a:b@h/?sig=zz"#,
                r#"  "https://a:***@h/?sig=***"#,
            ),
            ("[[endpoint]]", "[[endpoint]]"),
            (
                r#"Authorization = "Bearer ${T}", Cookie = "a${X}b${Y", token = "${A}${B}""#,
                r#"Authorization = "***${T}", Cookie = "***${X}***", token = "${A}${B}""#,
            ),
            (
                r#"ñame = "ü https://ä:ö@h/""#,
                r#"ñame = "ü https://ä:***@h/""#,
            ),
        ] {
            assert_eq!(masked_line(line), masked, "{line}");
        }
    }

    #[test]
    fn text_that_is_not_a_url_is_masked_as_far_as_it_reads() {
        assert_eq!(mask_url("host/?secret=x"), "host/?secret=***");
        assert_eq!(mask_url(""), "");
        assert_eq!(mask_url("https://"), "https://");
    }
}
