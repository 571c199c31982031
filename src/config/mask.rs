//! Secrets in URLs, masked for every output: a URL's password and the values of
//! query parameters whose names look secret become `***`.
//!
//! Masking works on the text, not on a parsed URL, so it applies to a URL as written
//! (`${VAR}` references kept, possibly not a valid URL yet) as well as to a
//! `Location` a server sent. A value made of `${VAR}` references only is kept as
//! written: it names the secret without holding it.

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

    #[test]
    fn text_that_is_not_a_url_is_masked_as_far_as_it_reads() {
        assert_eq!(mask_url("host/?secret=x"), "host/?secret=***");
        assert_eq!(mask_url(""), "");
        assert_eq!(mask_url("https://"), "https://");
    }
}
