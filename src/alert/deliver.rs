//! Delivering one notice: a command run without a shell, or a webhook POST; each
//! attempt under a timeout, a few attempts with backoff between them.

use std::process::Stdio;
use std::time::Duration;

use super::payload::Notice;
use crate::config::{AlertFormat, AlertTarget};

/// Longest one attempt may take; a command still running then is killed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per delivery.
pub const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each later one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Most characters of a failure's detail kept (a command's stderr, say).
const DETAIL_CHARS: usize = 200;

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `ok`, or what went wrong on the last attempt.
    pub result: String,
    /// Attempts made.
    pub attempts: u32,
}

/// Why one attempt failed, and whether another may do better.
struct Failure {
    message: String,
    retry: bool,
}

/// Delivers `notice` to `target`, trying up to [`ATTEMPTS`] times.
pub async fn deliver(
    client: &reqwest::Client,
    target: &AlertTarget,
    format: AlertFormat,
    notice: &Notice,
) -> Outcome {
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = match target {
            AlertTarget::Command(argv) => run_command(argv, notice).await,
            AlertTarget::Webhook(url) => post(client, url, format, notice).await,
        };
        match attempt {
            Ok(()) => {
                return Outcome {
                    result: "ok".into(),
                    attempts,
                };
            }
            Err(failure) if !failure.retry || attempts >= ATTEMPTS => {
                return Outcome {
                    result: failure.message,
                    attempts,
                };
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

/// Runs `argv` with the notice in its environment, without a shell; killed past
/// [`ATTEMPT_TIMEOUT`].
async fn run_command(argv: &[String], notice: &Notice) -> Result<(), Failure> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Failure {
            message: "no program to run".into(),
            retry: false,
        });
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(notice.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Dropping the wait at the timeout kills it: no command outlives its attempt.
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| Failure {
        message: format!("cannot run {program}: {e}"),
        // A missing or unexecutable program stays so.
        retry: false,
    })?;
    match tokio::time::timeout(ATTEMPT_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(Failure {
            message: format!(
                "timeout: still running after {}s (killed)",
                ATTEMPT_TIMEOUT.as_secs()
            ),
            retry: true,
        }),
        Ok(Err(e)) => Err(Failure {
            message: format!("waiting for {program} failed: {e}"),
            retry: true,
        }),
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            let detail = last.map_or_else(String::new, |l| format!(": {}", shorten(l.trim())));
            Err(Failure {
                message: format!("{}{detail}", output.status),
                retry: true,
            })
        }
    }
}

/// POSTs the notice in `format`; a 2xx answer is a delivery.
async fn post(
    client: &reqwest::Client,
    url: &url::Url,
    format: AlertFormat,
    notice: &Notice,
) -> Result<(), Failure> {
    let request = notice.request(format);
    let mut builder = client
        .post(url.clone())
        .timeout(ATTEMPT_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, request.content_type)
        .body(request.body);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    match builder.send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => {
            let status = response.status();
            Err(Failure {
                message: format!("HTTP {}", status.as_u16()),
                // A server error or a rate limit may pass; a refusal will not.
                retry: status.is_server_error() || status.as_u16() == 429,
            })
        }
        Err(e) => Err(Failure {
            message: request_error(e),
            retry: true,
        }),
    }
}

/// What went wrong with a request, without its URL (which may hold the hook's secret).
fn request_error(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("timeout: no answer within {}s", ATTEMPT_TIMEOUT.as_secs());
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    shorten(&message)
}

/// `text` cut to [`DETAIL_CHARS`] characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(DETAIL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            endpoint: "api".into(),
            url: "http://127.0.0.1:9/".into(),
            state: "down".into(),
            previous: "up".into(),
            reason: "connect: refused".into(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn command(argv: &[&str]) -> AlertTarget {
        AlertTarget::Command(argv.iter().map(|a| a.to_string()).collect())
    }

    #[tokio::test]
    async fn a_failing_command_is_retried_and_its_last_stderr_line_kept() {
        let client = reqwest::Client::new();
        let target = command(&[
            "/bin/sh",
            "-c",
            "echo first >&2; echo \"$PROBETOP_STATE\" >&2; exit 3",
        ]);
        let outcome = deliver(&client, &target, AlertFormat::Json, &notice()).await;
        assert_eq!(outcome.attempts, ATTEMPTS);
        assert_eq!(outcome.result, "exit status: 3: down");
    }

    #[tokio::test]
    async fn a_missing_program_is_not_retried() {
        let client = reqwest::Client::new();
        let target = command(&["/nonexistent/probetop-page"]);
        let outcome = deliver(&client, &target, AlertFormat::Json, &notice()).await;
        assert_eq!(outcome.attempts, 1);
        assert!(
            outcome
                .result
                .starts_with("cannot run /nonexistent/probetop-page: "),
            "{}",
            outcome.result
        );
    }

    #[tokio::test]
    async fn a_webhook_that_cannot_be_reached_is_retried_and_its_path_never_shown() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/T000/secret")).unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let outcome = deliver(
            &client,
            &AlertTarget::Webhook(url),
            AlertFormat::Slack,
            &notice(),
        )
        .await;
        assert_eq!(outcome.attempts, ATTEMPTS, "{}", outcome.result);
        assert!(!outcome.result.contains("secret"), "{}", outcome.result);
        assert!(!outcome.result.contains("T000"), "{}", outcome.result);
        assert!(
            outcome.result.contains("error sending request"),
            "{}",
            outcome.result
        );
    }

    #[test]
    fn long_details_are_cut() {
        let long = "é".repeat(DETAIL_CHARS + 10);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), DETAIL_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shorten("short"), "short");
    }
}
