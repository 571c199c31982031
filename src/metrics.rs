//! Prometheus exposition of the statistics at `http://ADDR/metrics`
//! (`--metrics-addr`), in the OpenMetrics text format that Prometheus scrapes,
//! encoded by the `prometheus-client` crate (names, HELP/TYPE, label escaping,
//! cumulative buckets with `+Inf`, `_sum` and `_count`).
//!
//! Each scrape copies its numbers on the statistics thread (one consistent moment:
//! counters, state, and each histogram's counts per bucket, a few dozen numbers per
//! endpoint), then encodes the text on a blocking thread (`spawn_blocking`): at a
//! thousand endpoints the text is megabytes, and formatting it on the statistics
//! thread would hold up recording, on a runtime worker the probes' tasks.
//!
//! What a scrape costs Prometheus is its series. An endpoint has 30 by default
//! (with the 13 default buckets): its latency histogram (buckets + `+Inf` + `_sum` +
//! `_count` = 16), 8 `probetop_probes_total` results, 1 skipped-ticks counter, 1
//! `probetop_up`, 4 `probetop_state`, and 1 certificate expiry once it has a
//! certificate. `[metrics] phases = true` adds one histogram (16 series) per phase
//! the endpoint has: see [`phase_applies`].

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
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Endpoint, ProbeKind};
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
    ///
    /// This runs on the statistics thread, once per histogram of a scrape: one pass
    /// over the recorded values (a `count_between` per bound would walk the counts
    /// array once per bucket). A value's HDR bucket lies at or below a bound's
    /// exactly when its lowest equivalent value does, the same edge `count_between`
    /// draws.
    fn of(histogram: &hdrhistogram::Histogram<u64>, bounds: &[f64]) -> Self {
        let edges: Vec<u64> = bounds
            .iter()
            .map(|&bound| histogram.lowest_equivalent((bound * 1e6) as u64))
            .collect();
        let mut own = vec![0u64; bounds.len()];
        let mut below = 0;
        for value in histogram.iter_recorded() {
            let lowest = histogram.lowest_equivalent(value.value_iterated_to());
            // The first bound at or above the value; past the last bound, `+Inf`.
            let bucket = edges.partition_point(|&edge| edge < lowest);
            if let Some(n) = own.get_mut(bucket) {
                *n += value.count_at_value();
                below += value.count_at_value();
            }
        }
        let mut per_bucket: Vec<(f64, u64)> = bounds.iter().copied().zip(own).collect();
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
    /// The phases served (none unless `[metrics] phases`), in [`Phase::ALL`] order.
    phases: Vec<(Phase, Buckets)>,
    /// Unix time the latest certificate expires, when there is one.
    cert_not_after: Option<i64>,
}

/// Everything one scrape exposes.
#[derive(Debug, Clone)]
struct Scrape {
    endpoints: Vec<EndpointMetrics>,
    lag: Buckets,
    /// Whether every canary fails, in a run with canaries.
    local_network_down: Option<bool>,
}

impl Scrape {
    /// Runs on the statistics thread: copies numbers, formats nothing.
    fn collect(stats: &StatsStore, endpoints: &[Endpoint], settings: &Settings) -> Self {
        let bounds = &settings.buckets[..];
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
                    // Only a run with canaries excuses failures: without, the series
                    // stay as they were. One that counted stays (a reload removed
                    // the canaries, or a resumed run had them): a counter that
                    // vanishes looks like a reset to rate().
                    if stats.canaries() > 0 || s.excused() > 0 {
                        results.push(("excused", s.excused()));
                    }
                    EndpointMetrics {
                        name: e.name.clone(),
                        state: s.state(),
                        results,
                        skipped: s.skipped(),
                        duration: Buckets::of(&s.latency_over(None, now), bounds),
                        phases: if settings.phases {
                            Phase::ALL
                                .iter()
                                .filter_map(|&phase| {
                                    let histogram = s.phase_over(phase, None, now);
                                    (phase_applies(e, phase) || !histogram.is_empty())
                                        .then(|| (phase, Buckets::of(&histogram, bounds)))
                                })
                                .collect()
                        } else {
                            Vec::new()
                        },
                        cert_not_after: s.cert_not_after().map(unix_seconds),
                    }
                })
                .collect(),
            lag: Buckets::of(stats.scheduler_lag(), bounds),
            local_network_down: (stats.canaries() > 0).then(|| stats.local_network_down()),
        }
    }
}

/// Whether an endpoint can have `phase`, judged from its URL: DNS only for a host
/// name (none for an IP address), TLS only for `https://` and `tls://`, TTFB and
/// transfer only for HTTP (a `tcp://` or `tls://` probe has no response), connect
/// always. Such a phase's histogram is served from the first scrape on, zeros and
/// all, so that `rate()` sees it start; any other phase only once it was recorded
/// (an `http://` endpoint redirected to `https://` has TLS handshakes).
fn phase_applies(endpoint: &Endpoint, phase: Phase) -> bool {
    let kind = endpoint.kind();
    match phase {
        // The host of a `tcp://` or `tls://` URL is opaque to the url crate: an IP
        // address there is a "domain" that parses as one.
        Phase::Dns => match endpoint.url.host() {
            Some(url::Host::Domain(host)) => host.parse::<std::net::IpAddr>().is_err(),
            _ => false,
        },
        Phase::Connect => true,
        Phase::Tls => kind == ProbeKind::Tls || endpoint.url.scheme() == "https",
        Phase::Ttfb | Phase::Transfer => kind == ProbeKind::Http,
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
        // The family only when some endpoint has a phase: a TYPE line with no sample
        // would tell a reader the phases are served when they are not.
        if self.endpoints.iter().any(|e| !e.phases.is_empty()) {
            self.encode_phases(&mut encoder)?;
        }
        self.encode_rest(&mut encoder)
    }
}

impl Scrape {
    fn encode_phases(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "probetop_phase_duration_seconds",
            "Time spent in each phase: dns, connect and tls once per new connection (none on a reused one), ttfb and transfer once per response.",
            None,
            MetricType::Histogram,
        )?;
        for e in &self.endpoints {
            for (phase, buckets) in &e.phases {
                let labels = [("endpoint", e.name.as_str()), ("phase", phase.as_str())];
                buckets.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn encode_rest(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
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
        if let Some(down) = self.local_network_down {
            let family = encoder.encode_descriptor(
                "probetop_local_network_down",
                "1 while every canary fails (other endpoints' failures are excused), else 0.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(down)).encode(family)?;
        }
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
    /// Binds `addr` (an error, such as a port in use, is returned at once) and serves
    /// what `settings` says, for the whole run.
    pub async fn start(
        addr: SocketAddr,
        endpoints: Arc<[Endpoint]>,
        stats: StatsHandle,
        settings: Settings,
    ) -> std::io::Result<Self> {
        // The sender goes: the value stays.
        let (_, settings) = watch::channel(settings);
        Self::start_following(addr, endpoints, stats, settings).await
    }

    /// Like [`MetricsServer::start`], serving at each scrape what `settings` holds
    /// then (a reload sends new ones).
    pub async fn start_following(
        addr: SocketAddr,
        endpoints: Arc<[Endpoint]>,
        stats: StatsHandle,
        settings: watch::Receiver<Settings>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let context = Arc::new(Context {
            endpoints,
            stats,
            settings,
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

/// What `/metrics` serves, from `[metrics]`: the server takes it from a
/// `watch` channel at each scrape, so a reload changes the next scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Upper bounds (seconds) of the histogram buckets (`buckets`).
    pub buckets: Vec<f64>,
    /// Whether the per-phase histograms are served (`phases`).
    pub phases: bool,
}

impl Settings {
    /// What `config` sets.
    pub fn of(config: &Config) -> Self {
        Settings {
            buckets: config.metrics_buckets.clone(),
            phases: config.metrics_phases,
        }
    }
}

struct Context {
    endpoints: Arc<[Endpoint]>,
    stats: StatsHandle,
    /// As of the latest reload (its only sender is the reloader).
    settings: watch::Receiver<Settings>,
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
    let gzip = accepts_gzip(&request);
    let endpoints = context.endpoints.clone();
    // A copy (a few dozen numbers): the channel's lock is not held into the read.
    let settings = context.settings.borrow().clone();
    let Some(scrape) = context
        .stats
        // As of the latest reload, if any.
        .read(move |s| Scrape::collect(s, s.configured(&endpoints), &settings))
        .await
    else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "statistics stopped\n".into(),
        );
    };
    // Megabytes of text at a thousand endpoints: formatted on a blocking thread, so
    // that neither the statistics thread nor a runtime worker waits for it.
    let encoded = tokio::task::spawn_blocking(move || {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(scrape));
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &registry)?;
        let compressed = if gzip { gzipped(&body) } else { None };
        Ok::<_, std::fmt::Error>((body, compressed))
    })
    .await;
    let encoded = match encoded {
        Ok(encoded) => encoded,
        Err(e) => {
            // The encoding task panicked or the runtime is shutting down: no body.
            tracing::warn!("encoding /metrics did not finish: {e}");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "encoding failed\n".into(),
            );
        }
    };
    const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    match encoded {
        Ok((_, Some(compressed))) => {
            let mut response = Response::new(Full::new(Bytes::from(compressed)));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(OPENMETRICS),
            );
            response.headers_mut().insert(
                hyper::header::CONTENT_ENCODING,
                hyper::header::HeaderValue::from_static("gzip"),
            );
            response
        }
        Ok((body, None)) => reply(StatusCode::OK, OPENMETRICS, body),
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

/// Whether the request's `Accept-Encoding` takes gzip (Prometheus' always does):
/// a `gzip` coding whose weight is not `q=0`.
fn accepts_gzip(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get_all(hyper::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// `text` gzipped at the fastest level: the exposition's repetitive lines shrink
/// about tenfold even so, for a few milliseconds per megabyte. `None` (send it
/// uncompressed) should compressing into memory ever fail.
fn gzipped(text: &str) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(text.as_bytes()).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        let second = Duration::from_secs(1);
        Endpoint::new(url, url::Url::parse(url).unwrap(), second, second)
    }

    #[test]
    fn buckets_in_one_pass_count_what_count_between_counts() {
        // The rule before the one pass: a bound's cumulative count is
        // `count_between(0, bound)`, its own count the difference to the one below.
        let by_count_between = |h: &hdrhistogram::Histogram<u64>, bounds: &[f64]| {
            let mut below = 0;
            let mut own = Vec::new();
            for &bound in bounds {
                let cumulative = if h.is_empty() {
                    0
                } else {
                    h.count_between(0, (bound * 1e6) as u64)
                };
                own.push((bound, cumulative.saturating_sub(below)));
                below = below.max(cumulative);
            }
            own.push((f64::INFINITY, h.len().saturating_sub(below)));
            own
        };
        let bounds = crate::config::defaults::METRICS_BUCKETS;
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert_eq!(
            Buckets::of(&h, &bounds).per_bucket,
            by_count_between(&h, &bounds)
        );
        // Values on, just below and just above every bound, and far past the last.
        let mut seed = 7u64;
        for &bound in &bounds {
            let us = (bound * 1e6) as u64;
            for v in [us - 1, us, us + 1, us + us / 1000, us + us / 100] {
                h.record(v).unwrap();
            }
        }
        for _ in 0..5_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.record(1 + (seed >> 40) % 30_000_000).unwrap();
        }
        let odd = [0.0001, 0.00123, 0.7, 3.3, 20.0];
        for bounds in [&bounds[..], &odd[..], &[1e-6][..]] {
            let buckets = Buckets::of(&h, bounds);
            assert_eq!(
                buckets.per_bucket,
                by_count_between(&h, bounds),
                "{bounds:?}"
            );
            assert_eq!(buckets.count, h.len());
        }
    }

    #[test]
    fn phases_follow_the_scheme_and_the_host() {
        let served = |url: &str| -> Vec<&str> {
            let e = endpoint(url);
            Phase::ALL
                .into_iter()
                .filter(|&p| phase_applies(&e, p))
                .map(Phase::as_str)
                .collect()
        };
        assert_eq!(served("http://10.0.0.1/"), ["connect", "ttfb", "transfer"]);
        assert_eq!(
            served("http://[::1]:8080/"),
            ["connect", "ttfb", "transfer"]
        );
        assert_eq!(
            served("http://example.com/"),
            ["dns", "connect", "ttfb", "transfer"]
        );
        assert_eq!(
            served("https://example.com/"),
            ["dns", "connect", "tls", "ttfb", "transfer"]
        );
        assert_eq!(
            served("https://10.0.0.1/"),
            ["connect", "tls", "ttfb", "transfer"]
        );
        assert_eq!(served("tcp://10.0.0.1:22"), ["connect"]);
        assert_eq!(served("tcp://example.com:22"), ["dns", "connect"]);
        assert_eq!(served("tls://example.com:443"), ["dns", "connect", "tls"]);
    }
}
