//! The detail view's health sections: the certificate, the state changes, and why
//! a degraded endpoint is degraded.

use std::time::SystemTime;

use ratatui::text::{Line, Span as TextSpan};
use unicode_width::UnicodeWidthStr;

use crate::config::{Endpoint, ProbeKind};
use crate::stats::{State, Transition};
use crate::ui::format::{fit, utc_clock, utc_date};
use crate::ui::model::{Certificate, DetailData};
use crate::ui::theme::Theme;

/// Width of the time column of the state changes.
const TIME_WIDTH: usize = 10;

/// Whether the endpoint's probes make TLS connections whose certificate is shown:
/// `https://` and `tls://`, or any endpoint that has reported one (a redirect to
/// HTTPS).
pub fn has_certificate(endpoint: &Endpoint, data: &DetailData) -> bool {
    endpoint.kind() == ProbeKind::Tls
        || endpoint.url.scheme() == "https"
        || data.certificate.is_some()
}

/// `5 days`, `1 day`.
fn days(n: i64) -> String {
    if n.abs() == 1 {
        format!("{n} day")
    } else {
        format!("{n} days")
    }
}

/// `expires in 5 days`, `expires today`, `expired 2 days ago`.
fn expiry(cert: &Certificate) -> String {
    match cert.days_left {
        0 => "expires within a day".to_string(),
        n if n > 0 => format!("expires in {}", days(n)),
        n => format!("expired {} ago", days(-n)),
    }
}

/// The certificate panel's line: when the certificate expires and against which
/// minimum, in the warning style when too soon; the minimum said in full when
/// `width` allows.
pub fn certificate_lines(data: &DetailData, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let Some(cert) = data.certificate else {
        return vec![Line::styled("no TLS connection yet", theme.dim())];
    };
    // Under the panel's "certificate" heading.
    let text = format!("{} ({})", expiry(&cert), utc_date(cert.not_after));
    let Some(min) = data.min_cert_days else {
        return vec![Line::raw(text)];
    };
    let (long, short) = if cert.expires_soon {
        (
            format!(": under min_cert_days {min}"),
            format!(" < min {min}"),
        )
    } else {
        (format!(", min_cert_days {min}"), format!(", min {min}"))
    };
    let tail = if text.width() + long.width() <= width {
        long
    } else {
        short
    };
    let line = if cert.expires_soon {
        Line::styled(text + &tail, theme.warning())
    } else {
        Line::from(vec![
            TextSpan::raw(text),
            TextSpan::styled(tail, theme.dim()),
        ])
    };
    vec![line]
}

/// `● up`: a state's symbol and name in its style, so it reads without colour.
fn state_span(state: State, theme: &Theme) -> TextSpan<'static> {
    TextSpan::styled(
        format!("{} {}", Theme::symbol(state), state.as_str()),
        theme.state(state),
    )
}

/// When a state change happened: its UTC time of day when on the day the data was
/// taken, its date when older (50 changes can span weeks).
fn when(at: SystemTime, taken_at: SystemTime) -> String {
    // No day before 1970: such a change shows its (dashed) date.
    let day = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() / 86_400)
            .ok()
    };
    if day(at).is_some() && day(at) == day(taken_at) {
        utc_clock(at)
    } else {
        utc_date(at)
    }
}

/// The kept state changes, newest first: `22:44:48  ● up → ✖ down`.
pub fn transition_lines(
    transitions: &[Transition],
    taken_at: SystemTime,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if transitions.is_empty() {
        return vec![Line::styled("none yet", theme.dim())];
    }
    transitions
        .iter()
        .map(|t| {
            Line::from(vec![
                TextSpan::styled(fit(&when(t.at, taken_at), TIME_WIDTH), theme.dim()),
                state_span(t.from, theme),
                TextSpan::raw(" → "),
                state_span(t.to, theme),
            ])
        })
        .collect()
}

/// Why a degraded endpoint is degraded, as far as the data tells: a certificate
/// expiring too soon, or a latest probe slower than `max_latency`. `None` when the
/// endpoint is not degraded or no reason is known.
pub fn degraded_reason(data: &DetailData, endpoint: &Endpoint) -> Option<String> {
    if data.state != State::Degraded {
        return None;
    }
    let mut reasons = Vec::new();
    if let Some(cert) = data.certificate.filter(|c| c.expires_soon) {
        reasons.push(format!("certificate {}", expiry(&cert)));
    }
    if let (Some(max), Some(last)) = (endpoint.expect.max_latency, data.last_latency_ms)
        && last > max.as_secs_f64() * 1000.0
    {
        reasons.push(format!(
            "slower than max_latency {}",
            crate::text::duration(max)
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expiry_words() {
        let cert = |days_left| Certificate {
            not_after: SystemTime::UNIX_EPOCH,
            days_left,
            expires_soon: false,
        };
        assert_eq!(expiry(&cert(5)), "expires in 5 days");
        assert_eq!(expiry(&cert(1)), "expires in 1 day");
        assert_eq!(expiry(&cert(0)), "expires within a day");
        assert_eq!(expiry(&cert(-2)), "expired 2 days ago");
    }

    #[test]
    fn old_changes_show_their_date() {
        let taken = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600);
        assert_eq!(when(taken - Duration::from_secs(60), taken), "00:59:00");
        assert_eq!(
            when(taken - Duration::from_secs(86_400), taken),
            "1970-01-03"
        );
    }
}
