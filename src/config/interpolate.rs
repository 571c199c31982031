//! `${VAR}` interpolation from the environment.

/// Replaces every `${NAME}` in `text` by the value of the environment variable `NAME`
/// (looked up through `lookup`). `$$` stands for a literal `$`.
///
/// On failure, returns the byte offset in `text` of the bad reference and a message.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            offset += pos + 2;
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(end) = tail.find('}') else {
                return Err((
                    offset + pos,
                    "unterminated `${` (expected `${NAME}`)".into(),
                ));
            };
            let name = &tail[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err((offset + pos, format!("invalid variable name `{name}`")));
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err((
                        offset + pos,
                        format!("environment variable `{name}` is not set"),
                    ));
                }
            }
            offset += pos + 2 + end + 1;
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            offset += pos + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn replaces_set_variables() {
        assert_eq!(
            interpolate("Bearer ${TOKEN}!", env).unwrap(),
            "Bearer s3cret!"
        );
        assert_eq!(interpolate("a$b $$ ${TOKEN}", env).unwrap(), "a$b $ s3cret");
    }

    #[test]
    fn reports_unset_and_malformed_references() {
        let (at, msg) = interpolate("x ${MISSING}", env).unwrap_err();
        assert_eq!(at, 2);
        assert!(msg.contains("`MISSING` is not set"), "{msg}");
        assert!(
            interpolate("${", env)
                .unwrap_err()
                .1
                .contains("unterminated")
        );
        assert!(interpolate("${1X}", env).unwrap_err().1.contains("invalid"));
    }
}
