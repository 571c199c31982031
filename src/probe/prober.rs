//! Sending one probe and judging its response.

use std::time::{Duration, Instant};

use super::classify::{classify, describe};
use super::{ErrorClass, ProbeError, ProbeOutcome};
use crate::config::{Endpoint, Expect};

/// Everything needed to probe one endpoint, prepared once.
pub struct Prober {
    client: reqwest::Client,
    template: reqwest::Request,
    timeout: Duration,
    max_body_bytes: u64,
    expect: Expect,
}

impl Prober {
    /// Prepares the request for `endpoint`, sent through `client`.
    pub fn new(endpoint: &Endpoint, client: reqwest::Client) -> anyhow::Result<Self> {
        let mut builder = client.request(endpoint.method.clone(), endpoint.url.clone());
        for (name, value) in &endpoint.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &endpoint.body {
            builder = builder.body(body.clone());
        }
        Ok(Prober {
            template: builder.build()?,
            client,
            timeout: endpoint.timeout,
            max_body_bytes: endpoint.max_body_bytes,
            expect: endpoint.expect.clone(),
        })
    }

    /// Sends one request and reads the whole body, within the timeout.
    pub async fn probe(&self) -> ProbeOutcome {
        let Some(request) = self.template.try_clone() else {
            return ProbeOutcome::failed(ErrorClass::Other, "request body cannot be replayed");
        };
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let response = match tokio::time::timeout_at(deadline, self.client.execute(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return ProbeOutcome::failed(classify(&e), describe(&e)),
            Err(_) => return self.timed_out("no response"),
        };
        let status = response.status().as_u16();
        // The same deadline bounds the body, so a slow body is a timeout too; the
        // status that did arrive is still counted.
        match tokio::time::timeout_at(deadline, self.read_body(response, status, started)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let mut outcome = self.timed_out("body not complete");
                outcome.status = Some(status);
                outcome
            }
        }
    }

    fn timed_out(&self, what: &str) -> ProbeOutcome {
        ProbeOutcome::failed(
            ErrorClass::Timeout,
            format!("{what} within {}", humantime::format_duration(self.timeout)),
        )
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        status: u16,
        started: Instant,
    ) -> ProbeOutcome {
        let keep_body = self.expect.body_contains.is_some();
        let mut body = Vec::new();
        let mut size: u64 = 0;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > self.max_body_bytes {
                        return body_error(
                            status,
                            format!("body larger than {} bytes", self.max_body_bytes),
                        );
                    }
                    if keep_body {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let class = match classify(&e) {
                        ErrorClass::Timeout => ErrorClass::Timeout,
                        _ => ErrorClass::Body,
                    };
                    let mut outcome = ProbeOutcome::failed(
                        class,
                        format!("body broke off after {size} bytes: {}", describe(&e)),
                    );
                    outcome.status = Some(status);
                    return outcome;
                }
            }
        }
        let latency = started.elapsed();
        ProbeOutcome {
            latency: Some(latency),
            status: Some(status),
            error: self.judge(status, &body),
            slow: self.expect.max_latency.is_some_and(|max| latency > max),
        }
    }

    /// Checks a complete response against the expectations.
    fn judge(&self, status: u16, body: &[u8]) -> Option<ProbeError> {
        if !self.expect.accepts_status(status) {
            let expected = match &self.expect.status {
                Some(list) => list
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "2xx or 3xx".to_string(),
            };
            return Some(ProbeError {
                class: ErrorClass::Status,
                message: format!("status {status}, expected {expected}"),
            });
        }
        if let Some(needle) = &self.expect.body_contains {
            let found =
                needle.is_empty() || body.windows(needle.len()).any(|w| w == needle.as_bytes());
            if !found {
                return Some(ProbeError {
                    class: ErrorClass::Body,
                    message: format!("body does not contain {needle:?}"),
                });
            }
        }
        None
    }
}

fn body_error(status: u16, message: String) -> ProbeOutcome {
    let mut outcome = ProbeOutcome::failed(ErrorClass::Body, message);
    outcome.status = Some(status);
    outcome
}
