//! What an alert says: the notice of a state change, as a command's environment or
//! as the body (and headers) of a webhook in each format.

use serde::Serialize;

use crate::config::AlertFormat;

/// One state change to tell about, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The endpoint's name.
    pub endpoint: String,
    /// Its URL, secrets masked.
    pub url: String,
    /// The state entered: `down`, `degraded` or `up`.
    pub state: String,
    /// The state before: `unknown`, `up`, `degraded` or `down`.
    pub previous: String,
    /// The latest error for `down`, what made it `degraded`, empty for `up`.
    pub reason: String,
    /// When the probe that changed it finished (RFC 3339, UTC).
    pub at: String,
}

/// A webhook request: its body, content type and extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The POST body.
    pub body: String,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers (ntfy's `Title`, `Priority`, `Tags`).
    pub headers: Vec<(&'static str, String)>,
}

impl Notice {
    /// The environment of an alert command.
    pub fn env(&self) -> [(&'static str, &str); 6] {
        [
            ("PROBETOP_ENDPOINT", &self.endpoint),
            ("PROBETOP_URL", &self.url),
            ("PROBETOP_STATE", &self.state),
            ("PROBETOP_PREVIOUS", &self.previous),
            ("PROBETOP_REASON", &self.reason),
            ("PROBETOP_AT", &self.at),
        ]
    }

    /// One line for a chat: `probetop: api is down (was up): timeout: … — URL at AT`.
    pub fn line(&self) -> String {
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", self.reason)
        };
        format!(
            "probetop: {} is {} (was {}){reason} — {} at {}",
            self.endpoint, self.state, self.previous, self.url, self.at
        )
    }

    /// The webhook request in `format`.
    pub fn request(&self, format: AlertFormat) -> Request {
        let json = |value: serde_json::Value| Request {
            body: value.to_string(),
            content_type: "application/json",
            headers: Vec::new(),
        };
        match format {
            AlertFormat::Json => json(serde_json::to_value(self).unwrap_or_default()),
            AlertFormat::Slack => json(serde_json::json!({ "text": self.line() })),
            AlertFormat::Discord => json(serde_json::json!({ "content": self.line() })),
            AlertFormat::Ntfy => {
                let (priority, tags) = match self.state.as_str() {
                    "down" => ("high", "rotating_light"),
                    "degraded" => ("default", "warning"),
                    _ => ("default", "white_check_mark"),
                };
                Request {
                    body: self.line(),
                    content_type: "text/plain; charset=utf-8",
                    headers: vec![
                        // Header values must be visible ASCII: names from the config
                        // may not be, so the title keeps what a header can carry.
                        (
                            "Title",
                            header_safe(&format!("{} is {}", self.endpoint, self.state)),
                        ),
                        ("Priority", priority.to_string()),
                        ("Tags", tags.to_string()),
                    ],
                }
            }
        }
    }
}

/// `text` with every character a header value cannot carry replaced by `?`.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            endpoint: "api".into(),
            url: "https://api.example/health".into(),
            state: "down".into(),
            previous: "up".into(),
            reason: "timeout: no answer within 5s".into(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn each_format_carries_the_notice() {
        let n = notice();
        let json: serde_json::Value =
            serde_json::from_str(&n.request(AlertFormat::Json).body).unwrap();
        assert_eq!(json["endpoint"], "api");
        assert_eq!(json["previous"], "up");
        assert_eq!(json["reason"], "timeout: no answer within 5s");
        let slack: serde_json::Value =
            serde_json::from_str(&n.request(AlertFormat::Slack).body).unwrap();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("api is down (was up)")
        );
        let discord: serde_json::Value =
            serde_json::from_str(&n.request(AlertFormat::Discord).body).unwrap();
        assert!(discord["content"].as_str().unwrap().contains("timeout"));
        let ntfy = n.request(AlertFormat::Ntfy);
        assert!(ntfy.body.starts_with("probetop: api is down"));
        assert!(ntfy.headers.contains(&("Title", "api is down".to_string())));
        assert!(ntfy.headers.contains(&("Priority", "high".to_string())));
    }
}
