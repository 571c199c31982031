//! Prometheus exposition of the statistics at `http://ADDR/metrics`
//! (`--metrics-addr`), in the OpenMetrics text format that Prometheus scrapes,
//! encoded by the `prometheus-client` crate (names, HELP/TYPE, label escaping,
//! cumulative buckets with `+Inf`, `_sum` and `_count`).
//!
//! Each scrape computes its numbers on the statistics thread (one consistent moment),
//! then encodes them here.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Endpoint;
use crate::probe::{ErrorClass, Phase};
use crate::stats::{State, StatsHandle, StatsStore};

/// A histogram in Prometheus' terms: counts per upper bound (seconds).
#[derive(Debug, Clone, Default)]
struct Buckets {
    sum: f64,
    count: u64,
    per_bucket: Vec<(f64, u64)>,
}

impl Buckets {
    /// From an HDR histogram of microseconds. A bucket counts the samples whose HDR
    /// bucket lies at or below its bound (HDR's 3-digit resolution decides the edge).
    ///
    /// `per_bucket` holds each bucket's own count (the encoder adds them up into the
    /// cumulative `_bucket` series), the last one being `+Inf`.
    fn of(histogram: &hdrhistogram::Histogram<u64>, bounds: &[f64]) -> Self {
        let mut per_bucket = Vec::with_capacity(bounds.len() + 1);
        let mut below = 0;
        for &bound in bounds {
            let us = (bound * 1e6) as u64;
            let cumulative = if histogram.is_empty() {
                0
            } else {
                histogram.count_between(0, us)
            };
            per_bucket.push((bound, cumulative.saturating_sub(below)));
            below = below.max(cumulative);
        }
        per_bucket.push((f64::INFINITY, histogram.len().saturating_sub(below)));
        Buckets {
            sum: histogram.mean() * histogram.len() as f64 / 1e6,
            count: histogram.len(),
            per_bucket,
        }
    }
}

impl Buckets {
    /// Writes this histogram as one series of its family.
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.per_bucket, None)
    }
}

/// One endpoint's numbers at the moment of a scrape.
#[derive(Debug, Clone)]
struct EndpointMetrics {
    name: String,
    state: State,
    results: Vec<(&'static str, u64)>,
    skipped: u64,
    duration: Buckets,
    /// Per phase, indexed by [`Phase::index`].
    phases: Vec<Buckets>,
    /// Unix time the latest certificate expires, when there is one.
    cert_not_after: Option<i64>,
}

/// Everything one scrape exposes.
#[derive(Debug, Clone)]
struct Scrape {
    endpoints: Vec<EndpointMetrics>,
    lag: Buckets,
}

impl Scrape {
    fn collect(stats: &StatsStore, endpoints: &[Endpoint], bounds: &[f64]) -> Self {
        let now = stats.now_ds();
        Scrape {
            endpoints: endpoints
                .iter()
                .zip(stats.endpoints())
                .map(|(e, s)| {
                    // Every class, zeros too: a counter that appears late breaks rate().
                    let mut results = vec![("ok", s.ok())];
                    results.extend(
                        ErrorClass::ALL
                            .iter()
                            .map(|&class| (class.as_str(), s.error_count(class))),
                    );
                    EndpointMetrics {
                        name: e.name.clone(),
                        state: s.state(),
                        results,
                        skipped: s.skipped(),
                        duration: Buckets::of(&s.latency_over(None, now), bounds),
                        phases: Phase::ALL
                            .iter()
                            .map(|&phase| Buckets::of(&s.phase_over(phase, None, now), bounds))
                            .collect(),
                        cert_not_after: s.cert_not_after().map(unix_seconds),
                    }
                })
                .collect(),
            lag: Buckets::of(stats.scheduler_lag(), bounds),
        }
    }
}

/// Whole seconds since the Unix epoch (negative before it).
fn unix_seconds(at: std::time::SystemTime) -> i64 {
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "probetop_probe_duration_seconds",
            "Time from sending the request to the end of the body, of probes with a complete response.",
            None,
            MetricType::Histogram,
        )?;
        for e in &self.endpoints {
            e.duration
                .encode(family.encode_family(&[("endpoint", e.name.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "probetop_phase_duration_seconds",
            "Time spent in each phase: dns, connect and tls once per new connection (none on a reused one), ttfb and transfer once per response.",
            None,
            MetricType::Histogram,
        )?;
        for e in &self.endpoints {
            for (phase, buckets) in Phase::ALL.iter().zip(&e.phases) {
                let labels = [("endpoint", e.name.as_str()), ("phase", phase.as_str())];
                buckets.encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "probetop_cert_expiry_timestamp_seconds",
            "When the certificate of the endpoint's latest TLS connection expires (Unix time).",
            None,
            MetricType::Gauge,
        )?;
        for e in &self.endpoints {
            if let Some(at) = e.cert_not_after {
                ConstGauge::new(at)
                    .encode(family.encode_family(&[("endpoint", e.name.as_str())])?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "probetop_probes",
            "Finished probes, by result: ok or the error class.",
            None,
            MetricType::Counter,
        )?;
        for e in &self.endpoints {
            for (result, n) in &e.results {
                let labels = [("endpoint", e.name.as_str()), ("result", result)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "probetop_skipped_ticks",
            "Ticks not probed because the overlap cap was reached.",
            None,
            MetricType::Counter,
        )?;
        for e in &self.endpoints {
            let labels = [("endpoint", e.name.as_str())];
            family
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&e.skipped, None)?;
        }
        let mut family = encoder.encode_descriptor(
            "probetop_up",
            "1 when the endpoint is up or degraded (responding), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for e in &self.endpoints {
            let up = i64::from(matches!(e.state, State::Up | State::Degraded));
            ConstGauge::new(up).encode(family.encode_family(&[("endpoint", e.name.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "probetop_state",
            "1 for the endpoint's current state, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for e in &self.endpoints {
            for state in [State::Up, State::Degraded, State::Down, State::Unknown] {
                let labels = [("endpoint", e.name.as_str()), ("state", state.as_str())];
                ConstGauge::new(i64::from(e.state == state))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let family = encoder.encode_descriptor(
            "probetop_scheduler_lag_seconds",
            "How late probetop fired its ticks (its own health).",
            None,
            MetricType::Histogram,
        )?;
        self.lag.encode(family)?;
        Ok(())
    }
}

/// The `/metrics` endpoint, serving until shut down.
pub struct MetricsServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl MetricsServer {
    /// Binds `addr` (an error, such as a port in use, is returned at once) and serves.
    pub async fn start(
        addr: SocketAddr,
        endpoints: Arc<[Endpoint]>,
        stats: StatsHandle,
        buckets: Vec<f64>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let context = Arc::new(Context {
            endpoints,
            stats,
            buckets,
        });
        let handler: crate::serve::Handler = Arc::new(move |request| {
            let context = context.clone();
            Box::pin(async move { respond(request, &context).await })
        });
        tasks.spawn(crate::serve::accept_loop(
            listener,
            handler,
            None,
            cancel.clone(),
            tasks.clone(),
        ));
        Ok(MetricsServer {
            addr,
            cancel,
            tasks,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

struct Context {
    endpoints: Arc<[Endpoint]>,
    stats: StatsHandle,
    buckets: Vec<f64>,
}

async fn respond(request: Request<Incoming>, context: &Context) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        // Every content type here is a constant that parses; should one not, the
        // response goes out without the header rather than not at all.
        if let Ok(value) = content_type.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    if request.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "text/plain", "see /metrics\n".into());
    }
    let endpoints = context.endpoints.clone();
    let buckets = context.buckets.clone();
    let Some(scrape) = context
        .stats
        .read(move |s| Scrape::collect(s, &endpoints, &buckets))
        .await
    else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "statistics stopped\n".into(),
        );
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body,
        ),
        Err(e) => {
            // Encoding into a String fails only if a collector does: a bug, worth a log.
            tracing::warn!("encoding /metrics failed: {e}");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "encoding failed\n".into(),
            )
        }
    }
}
