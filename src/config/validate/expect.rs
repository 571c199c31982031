//! `[endpoint.expect]`: the success conditions of an endpoint.

use toml::Spanned;

use super::Validator;
use crate::config::raw::{RawDays, RawExpect, RawStatus};
use crate::config::{Expect, StatusMatch};

/// The largest `expect.min_cert_days`: ten years.
const MAX_CERT_DAYS: u32 = 3650;

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// The expectations under `key` (`endpoint[0].expect`).
    pub(super) fn expect(&mut self, key: &str, raw: &RawExpect) -> Expect {
        let status = raw
            .status
            .as_ref()
            .map(|list| self.statuses(&format!("{key}.status"), list));
        let body_regex = raw
            .body_regex
            .as_ref()
            .and_then(|r| self.regex(&format!("{key}.body_regex"), r));
        let json = self.json(key, raw);
        let headers = self.response_headers(key, raw);
        Expect {
            status,
            body_contains: raw.body_contains.as_ref().map(|b| b.get_ref().clone()),
            body_regex,
            json,
            headers,
            max_latency: self.duration(format_args!("{key}.max_latency"), raw.max_latency.as_ref()),
            min_cert_days: raw
                .min_cert_days
                .as_ref()
                .and_then(|days| self.cert_days(&format!("{key}.min_cert_days"), days)),
        }
    }

    /// `status`: a non-empty list of codes and classes.
    fn statuses(&mut self, key: &str, list: &Spanned<Vec<Spanned<RawStatus>>>) -> Vec<StatusMatch> {
        if list.get_ref().is_empty() {
            self.error(
                key.to_string(),
                list.span(),
                "status list is empty: give at least one code, or remove the key".into(),
            );
        }
        list.get_ref()
            .iter()
            .filter_map(|entry| self.status_match(key, entry))
            .collect()
    }

    fn status_match(&mut self, key: &str, entry: &Spanned<RawStatus>) -> Option<StatusMatch> {
        match entry.get_ref() {
            RawStatus::Code(code) if (100..=599).contains(code) => Some(StatusMatch::Code(*code)),
            RawStatus::Code(code) => {
                self.error(
                    key.to_string(),
                    entry.span(),
                    format!("invalid status code {code}: expected 100 to 599"),
                );
                None
            }
            RawStatus::Class(text) => {
                let class = text
                    .strip_suffix("xx")
                    .and_then(|d| d.parse::<u16>().ok())
                    .filter(|d| (1..=5).contains(d));
                if class.is_none() {
                    self.error(
                        key.to_string(),
                        entry.span(),
                        format!(
                            "invalid status {text:?}: expected a code (200) or a class (\"2xx\")"
                        ),
                    );
                }
                class.map(StatusMatch::Class)
            }
        }
    }

    /// `json`: JSON Pointers and the values expected there.
    fn json(&mut self, key: &str, raw: &RawExpect) -> Vec<(String, serde_json::Value)> {
        let mut json = Vec::new();
        for (pointer, value) in raw.json.iter().flatten() {
            let json_key = format!("{key}.json.\"{}\"", pointer.get_ref());
            if !(pointer.get_ref().is_empty() || pointer.get_ref().starts_with('/')) {
                self.error(
                    json_key,
                    pointer.span(),
                    format!(
                        "{:?} is not a JSON Pointer: it starts with / (e.g. \"/status\", \"/items/0/id\"), or is empty for the whole document",
                        pointer.get_ref()
                    ),
                );
                continue;
            }
            if let Some(escape) = invalid_escape(pointer.get_ref()) {
                self.error(
                    json_key,
                    pointer.span(),
                    format!(
                        "{:?} is not a JSON Pointer: `{escape}` is no escape; a `~` is written `~0` and a `/` inside a name `~1`",
                        pointer.get_ref()
                    ),
                );
                continue;
            }
            match serde_json::to_value(value.get_ref()) {
                Ok(expected) => json.push((pointer.get_ref().clone(), expected)),
                Err(e) => self.error(json_key, value.span(), format!("unusable value: {e}")),
            }
        }
        json
    }

    /// `headers`: response headers (names lowercased) and the patterns they must match.
    fn response_headers(&mut self, key: &str, raw: &RawExpect) -> Vec<(String, regex::Regex)> {
        let mut headers = Vec::new();
        for (name, pattern) in raw.headers.iter().flatten() {
            let header_key = format!("{key}.headers.{}", name.get_ref());
            if reqwest::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
                self.error(
                    header_key,
                    name.span(),
                    format!("invalid header name {:?}", name.get_ref()),
                );
                continue;
            }
            if let Some(regex) = self.regex(&header_key, pattern) {
                headers.push((name.get_ref().to_ascii_lowercase(), regex));
            }
        }
        headers
    }

    /// `min_cert_days`: a whole number of days, 0 to [`MAX_CERT_DAYS`].
    fn cert_days(&mut self, key: &str, days: &Spanned<RawDays>) -> Option<u32> {
        let RawDays(value) = *days.get_ref();
        let message = if value < 0 {
            format!(
                "min_cert_days cannot be negative (found {value}): give a number of days from 0 to {MAX_CERT_DAYS}"
            )
        } else if value > i64::from(MAX_CERT_DAYS) {
            format!("min_cert_days is at most {MAX_CERT_DAYS} (ten years), found {value}")
        } else {
            return u32::try_from(value).ok();
        };
        self.error(key.to_string(), days.span(), message);
        None
    }

    fn regex(&mut self, key: &str, pattern: &Spanned<String>) -> Option<regex::Regex> {
        match regex::Regex::new(pattern.get_ref()) {
            Ok(regex) => Some(regex),
            Err(e) => {
                // The regex crate's message spans several lines; keep its last one.
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim().to_string();
                self.error(
                    key.to_string(),
                    pattern.span(),
                    format!("invalid regular expression {:?}: {why}", pattern.get_ref()),
                );
                None
            }
        }
    }
}

/// The first `~` in `pointer` not followed by `0` or `1` (RFC 6901's only escapes),
/// with what follows it (`~2`, or `~` at the end).
fn invalid_escape(pointer: &str) -> Option<String> {
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0' | '1') => {}
                Some(next) => return Some(format!("~{next}")),
                None => return Some("~".into()),
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::invalid_escape;

    #[test]
    fn only_tilde_zero_and_one_are_escapes() {
        for valid in ["", "/", "/a~0b", "/a~1b/~0~1", "/items/0"] {
            assert_eq!(invalid_escape(valid), None, "{valid}");
        }
        assert_eq!(invalid_escape("/a~2").as_deref(), Some("~2"));
        assert_eq!(invalid_escape("/a~").as_deref(), Some("~"));
        assert_eq!(invalid_escape("/~0/~x").as_deref(), Some("~x"));
    }
}
