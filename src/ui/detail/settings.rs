//! The detail view's settings panel: how the endpoint is probed and every condition
//! a probe must meet. All text from the config goes through [`clean`]: a URL, a
//! header name, a regex or an expected body can hold escape sequences.

use std::time::Duration;

use ratatui::text::{Line, Span as TextSpan};

use crate::config::{ConnectionMode, Endpoint, HttpVersion, ProbeKind};
use crate::probe::ResponseInfo;
use crate::ui::format::fit;
use crate::ui::sanitize::clean;
use crate::ui::theme::Theme;

/// Width of the key column: the longest key (`connection`) and a space.
const KEY_WIDTH: usize = 11;

/// A dim key in a fixed-width column, then its value.
fn key(name: &str, theme: &Theme) -> TextSpan<'static> {
    TextSpan::styled(fit(name, KEY_WIDTH), theme.dim())
}

/// Lines under one key: the key on the first only.
fn keyed(name: &str, values: Vec<String>, theme: &Theme) -> impl Iterator<Item = Line<'static>> {
    let theme = *theme;
    let name = name.to_string();
    values.into_iter().enumerate().map(move |(i, value)| {
        let label = if i == 0 { name.as_str() } else { "" };
        Line::from(vec![key(label, &theme), TextSpan::raw(value)])
    })
}

/// The endpoint's settings, one per line, and where the latest response came from
/// (`last_response`); header values are never shown, since they often hold tokens.
/// `file_interval` is the config file's interval when the dashboard changed the
/// endpoint's.
pub fn settings_lines(
    endpoint: &Endpoint,
    last_response: Option<ResponseInfo>,
    file_interval: Option<Duration>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let line = |name: &str, value: String| Line::from(vec![key(name, theme), TextSpan::raw(value)]);
    let kind = endpoint.kind();
    // A tcp:// or tls:// probe sends no request: its method would mislead.
    let action = match kind {
        ProbeKind::Http => clean(endpoint.method.as_str()),
        ProbeKind::Tcp => "connect".to_string(),
        ProbeKind::Tls => "handshake".to_string(),
    };
    let mut lines = vec![line("url", clean(&endpoint.url_as_written))];
    if let Some(ip) = endpoint.resolve {
        lines.push(line("resolve", format!("{ip} (no DNS lookup)")));
    }
    if let Some(answered) = last_response.and_then(answered) {
        lines.push(line("answered", answered));
    }
    lines.extend([
        line(
            "request",
            format!(
                "{action} every {}{}, timeout {}",
                crate::text::duration(endpoint.interval),
                file_interval.map_or_else(String::new, |file| format!(
                    " (file: {})",
                    crate::text::duration(file)
                )),
                crate::text::duration(endpoint.timeout)
            ),
        ),
        line("overlap", format!("≤ {} in flight", endpoint.max_in_flight)),
    ]);
    // Every tcp:// and tls:// probe opens its own connection: no choice to show.
    if kind == ProbeKind::Http {
        lines.push(line(
            "connection",
            match endpoint.connection {
                ConnectionMode::Reuse => "reuse (kept alive between probes)",
                ConnectionMode::Fresh => "fresh (a new one per probe)",
            }
            .to_string(),
        ));
        if let Some(version) = endpoint.http {
            let text = match version {
                HttpVersion::Http1 => "HTTP/1.1 only",
                HttpVersion::Http2 => "HTTP/2 only",
            };
            lines.push(line("http", text.to_string()));
        }
        if !endpoint.follow_redirects {
            lines.push(line("redirects", "not followed".to_string()));
        } else if endpoint.allow_downgrade {
            lines.push(line(
                "redirects",
                "followed, also https:// to http://".to_string(),
            ));
        }
    }
    let headers = endpoint
        .headers
        .iter()
        .map(|(name, _)| format!("{}: (value hidden)", clean(name)))
        .collect();
    lines.extend(keyed("headers", headers, theme));
    if let Some(body) = &endpoint.body {
        lines.push(line("body", format!("{} bytes", body.len())));
    }
    lines.extend(keyed("expect", conditions(endpoint), theme));
    lines.extend(tls_line(endpoint, theme));
    lines
}

/// "HTTP/2 from 127.0.0.1:443": how the latest response came, when anything is known.
fn answered(info: ResponseInfo) -> Option<String> {
    match (info.http_version, info.remote_addr) {
        (Some(version), Some(addr)) => Some(format!("{version} from {addr}")),
        (Some(version), None) => Some(version.to_string()),
        (None, Some(addr)) => Some(format!("from {addr}")),
        (None, None) => None,
    }
}

/// Every success condition, one per entry, cleaned.
pub fn conditions(endpoint: &Endpoint) -> Vec<String> {
    let expect = &endpoint.expect;
    let mut conditions = Vec::new();
    match (endpoint.kind(), &expect.status) {
        (ProbeKind::Tcp, None) => conditions.push("connection opens".to_string()),
        (ProbeKind::Tls, None) => conditions.push("TLS handshake completes".to_string()),
        (ProbeKind::Http, None) => conditions.push("status 2xx/3xx".to_string()),
        (_, Some(list)) => {
            let codes: Vec<String> = list.iter().map(ToString::to_string).collect();
            conditions.push(format!("status {}", codes.join(", ")));
        }
    }
    if let Some(text) = &expect.body_contains {
        conditions.push(format!("body contains \"{}\"", clean(text)));
    }
    if let Some(regex) = &expect.body_regex {
        conditions.push(format!("body matches /{}/", clean(regex.as_str())));
    }
    for (pointer, value) in &expect.json {
        conditions.push(format!(
            "json {} = {}",
            clean(pointer),
            clean(&value.to_string())
        ));
    }
    for (name, regex) in &expect.headers {
        conditions.push(format!(
            "header {} ~ /{}/",
            clean(name),
            clean(regex.as_str())
        ));
    }
    if let Some(max) = expect.max_latency {
        conditions.push(format!(
            "latency ≤ {} (else degraded)",
            crate::text::duration(max)
        ));
    }
    if let Some(days) = expect.min_cert_days {
        conditions.push(format!("cert ≥ {days} days left (else degraded)"));
    }
    conditions
}

/// How certificates are checked, for HTTPS and `tls://` or when TLS settings were
/// given.
fn tls_line(endpoint: &Endpoint, theme: &Theme) -> Option<Line<'static>> {
    let value = if endpoint.insecure {
        TextSpan::styled("INSECURE: any certificate accepted", theme.warning())
    } else if let Some(ca) = &endpoint.ca_file {
        TextSpan::raw(format!(
            "verified, also trusting {}",
            clean(&ca.display().to_string())
        ))
    } else if endpoint.url.scheme() == "https" || endpoint.kind() == ProbeKind::Tls {
        TextSpan::raw("verified (built-in webpki roots)")
    } else {
        return None;
    };
    Some(Line::from(vec![key("tls", theme), value]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(lines: &[Line<'_>]) -> String {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_latest_response_and_resolve_are_shown() {
        let url = url::Url::parse("https://svc.test:8443/").unwrap();
        let mut endpoint =
            Endpoint::new("svc", url, Duration::from_secs(1), Duration::from_secs(5));
        endpoint.resolve = Some([127, 0, 0, 1].into());
        let info = ResponseInfo {
            http_version: Some("HTTP/2"),
            remote_addr: Some("127.0.0.1:8443".parse().unwrap()),
        };
        let shown = text(&settings_lines(
            &endpoint,
            Some(info),
            None,
            &Theme { color: false },
        ));
        assert!(
            shown.contains("answered   HTTP/2 from 127.0.0.1:8443"),
            "{shown}"
        );
        assert!(
            shown.contains("resolve    127.0.0.1 (no DNS lookup)"),
            "{shown}"
        );
        let before = text(&settings_lines(
            &endpoint,
            None,
            None,
            &Theme { color: false },
        ));
        assert!(!before.contains("answered"), "{before}");
    }
}
