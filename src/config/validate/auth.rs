//! Credentials and the user agent: `basic_auth`, `bearer_token` and `user_agent`
//! become request headers, each set in one place only.

use super::Validator;
use crate::config::raw::RawEndpoint;

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// Adds the `Authorization` and `User-Agent` headers that `raw` asks for to
    /// `headers` (the endpoint's `headers` so far).
    pub(super) fn auth_and_agent(
        &mut self,
        key: &str,
        raw: &RawEndpoint,
        headers: &mut Vec<(String, String)>,
    ) {
        let has = |headers: &Vec<(String, String)>, name: &str| {
            headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if let Some((auth_key, span, value)) = self.authorization(key, raw) {
            if has(headers, "authorization") {
                self.error(
                    auth_key,
                    span,
                    "an Authorization header is set in `headers` too: set it in one place".into(),
                );
            } else if reqwest::header::HeaderValue::from_str(&value).is_err() {
                self.error(
                    auth_key,
                    span,
                    "the credentials hold characters a header cannot carry".into(),
                );
            } else {
                headers.push(("Authorization".into(), value));
            }
        }
        if let Some(agent) = &raw.user_agent {
            let agent_key = format!("{key}.user_agent");
            if has(headers, "user-agent") {
                self.error(
                    agent_key,
                    agent.span(),
                    "a User-Agent header is set in `headers` too: set it in one place".into(),
                );
            } else if reqwest::header::HeaderValue::from_str(agent.get_ref()).is_err() {
                self.error(
                    agent_key,
                    agent.span(),
                    "invalid user agent (control characters)".into(),
                );
            } else {
                headers.push(("User-Agent".into(), agent.get_ref().clone()));
            }
        }
    }

    /// `value` if it can be a Basic credential (RFC 7617): no control characters,
    /// and no `:` in a username, where it would end the username early. The value
    /// itself is never quoted: it may come from a secret `${VAR}`.
    fn credential(
        &mut self,
        key: String,
        span: std::ops::Range<usize>,
        value: String,
        is_username: bool,
    ) -> Option<String> {
        let what = if is_username { "username" } else { "password" };
        let problem = if value.chars().any(char::is_control) {
            format!(
                "the basic_auth {what} holds a control character (a newline, a tab …), which no server reads as part of it"
            )
        } else if is_username && value.contains(':') {
            "the basic_auth username holds a `:`, which separates it from the password: the server would read the rest as the password".into()
        } else {
            return Some(value);
        };
        self.error(key, span, problem);
        None
    }

    /// The `Authorization` value from `basic_auth` or `bearer_token` (not both), with
    /// the key and span it came from.
    fn authorization(
        &mut self,
        key: &str,
        raw: &RawEndpoint,
    ) -> Option<(String, std::ops::Range<usize>, String)> {
        use base64::Engine as _;
        let mut authorization = None;
        if let Some(auth) = &raw.basic_auth {
            let auth_key = format!("{key}.basic_auth");
            let user_key = format!("{auth_key}.username");
            let username = &auth.get_ref().username;
            let user = self
                .interpolated(&user_key, username)
                .and_then(|user| self.credential(user_key, username.span(), user, true));
            let password = match &auth.get_ref().password {
                Some(p) => {
                    let password_key = format!("{auth_key}.password");
                    self.interpolated(&password_key, p)
                        .and_then(|pw| self.credential(password_key, p.span(), pw, false))
                }
                None => Some(String::new()),
            };
            if let (Some(user), Some(password)) = (user, password) {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                authorization = Some((auth_key, auth.span(), format!("Basic {token}")));
            }
        }
        if let Some(token) = &raw.bearer_token {
            let token_key = format!("{key}.bearer_token");
            if authorization.is_some() {
                self.error(
                    token_key,
                    token.span(),
                    "give `basic_auth` or `bearer_token`, not both".into(),
                );
            } else if let Some(token_text) = self.interpolated(&token_key, token) {
                authorization = Some((token_key, token.span(), format!("Bearer {token_text}")));
            }
        }
        authorization
    }
}
