//! Why an endpoint is in its state, in one line a person reads: the latest error of
//! a failing one, or what degrades a degraded one. Shared by the `--fail-on` report
//! and the log of state changes, so that both say the same thing.

use std::time::{Duration, SystemTime};

use crate::config::Endpoint;
use crate::stats::{EndpointStats, State};
use crate::text::{number, timestamp};

/// `CLASS: MESSAGE` for why `stats` (of `endpoint`) is where it is as of `now`:
///
/// - the latest probe failed: its class and message;
/// - degraded: `certificate: …` (expiring within `min_cert_days`) and/or
///   `slow: …` (the latest response slower than `max_latency`);
/// - down although the latest probe succeeded (waiting for `up_after` successes):
///   the latest failure, and when it was;
/// - `None` when up, unknown, or no reason is known.
///
/// The message may carry text from the endpoint: clean it before a terminal sees it.
pub fn why(endpoint: &Endpoint, stats: &EndpointStats, now: SystemTime) -> Option<String> {
    let last = stats.last()?;
    if let Some(error) = &last.error {
        return Some(format!("{}: {}", error.class, error.message));
    }
    match stats.state() {
        State::Degraded => degraded(endpoint, stats, now),
        State::Down => stats.last_error().map(|e| {
            format!(
                "{}: {} (at {}; recovering: the latest probe succeeded)",
                e.error.class,
                e.error.message,
                timestamp(e.at)
            )
        }),
        State::Up | State::Unknown => None,
    }
}

/// What degrades a degraded endpoint: its certificate, its latency, or both.
fn degraded(endpoint: &Endpoint, stats: &EndpointStats, now: SystemTime) -> Option<String> {
    let mut reasons = Vec::new();
    if let (Some(cert), Some(min)) = (stats.certificate(now), stats.min_cert_days())
        && cert.expires_soon
    {
        let when = if cert.days_left >= 0 {
            format!("expires in {} days", cert.days_left)
        } else {
            format!("expired {} days ago", -cert.days_left)
        };
        reasons.push(format!(
            "certificate: {when} ({}), under min_cert_days {min}",
            timestamp(cert.not_after)
        ));
    }
    if let (Some(max), Some(latency)) = (endpoint.expect.max_latency, stats.last_latency())
        && latency > max
    {
        reasons.push(format!(
            "slow: the latest response took {}, over max_latency {}",
            millis(latency),
            crate::text::duration(max)
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// `312.4 ms`: to a tenth of a millisecond.
fn millis(d: Duration) -> String {
    let ms = (d.as_secs_f64() * 10_000.0).round() / 10.0;
    format!("{} ms", number(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ErrorClass, ProbeOutcome};
    use crate::stats::{EndpointRules, StateRule};

    const DAY: Duration = Duration::from_secs(86_400);

    fn endpoint() -> Endpoint {
        let mut e = Endpoint::new(
            "api",
            url::Url::parse("https://127.0.0.1:9/").unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(5),
        );
        e.expect.max_latency = Some(Duration::from_millis(20));
        e
    }

    fn answered(ms: u64, cert_not_after: SystemTime) -> ProbeOutcome {
        ProbeOutcome {
            latency: Some(Duration::from_millis(ms)),
            status: Some(200),
            slow: ms > 20,
            cert_not_after: Some(cert_not_after),
            ..ProbeOutcome::default()
        }
    }

    #[test]
    fn each_state_says_why() {
        let now = SystemTime::UNIX_EPOCH + DAY * 20_000;
        let mut stats = EndpointStats::with_rules(EndpointRules {
            state: StateRule {
                down_after: 1,
                up_after: 2,
            },
            min_cert_days: Some(7),
            canary: false,
        });
        let span = Duration::from_secs(60);
        let (e, soon) = (endpoint(), now + DAY * 5 + Duration::from_secs(60));
        stats.record(answered(5, now + DAY * 90), 1, now, span);
        assert_eq!(why(&e, &stats, now), None, "up");
        stats.record(answered(31, soon), 2, now, span);
        assert_eq!(
            why(&e, &stats, now).as_deref(),
            Some(
                "certificate: expires in 5 days (2024-10-09T00:01:00Z), under min_cert_days 7; \
                 slow: the latest response took 31.0 ms, over max_latency 20ms"
            )
        );
        stats.record(
            ProbeOutcome::failed(ErrorClass::Connect, "refused"),
            3,
            now,
            span,
        );
        assert_eq!(why(&e, &stats, now).as_deref(), Some("connect: refused"));
        // Down until two successes: the latest failure, though the latest probe passed.
        stats.record(answered(5, now + DAY * 90), 4, now, span);
        assert_eq!(stats.state(), State::Down);
        assert_eq!(
            why(&e, &stats, now).as_deref(),
            Some(
                "connect: refused (at 2024-10-04T00:00:00Z; recovering: the latest probe succeeded)"
            )
        );
    }
}
