//! The snapshot: the JSON document of DESIGN.md (version 1), built from the config
//! and the statistics' projection; its writers (CSV, Markdown) print numbers and
//! times through [`crate::text`].

pub mod csv;
pub mod decode;
pub mod export;
mod histogram;
mod json;
pub mod markdown;
pub mod merge;
pub mod vantage;

use std::collections::BTreeMap;

use serde::Serialize;

pub use histogram::{Compressed, ENCODING, decode_histogram, encode_histogram};

use histogram::encode_counts;

use crate::config::{Endpoint, ExportFormat};
use crate::probe::{Phase, ResponseInfo};
use crate::stats::{
    AllTime, CompactHistogram, Counts, EndpointStats, LatencySummary, Overload, PhaseSummaries,
    PhaseSummary, QueueDepth, RecentError, SpanSummary, StatsStore, Transition,
};
use crate::text::{clean, timestamp};

/// Writing a snapshot in one of the formats of the config's `export.formats`.
pub trait Render {
    /// Its file extension.
    fn extension(self) -> &'static str;
    /// `snapshot` in this format, ending with a newline.
    fn render(self, snapshot: &Snapshot) -> String;

    /// [`Render::render`] written to `out`. JSON streams (a snapshot of 50,000
    /// endpoints is hundreds of megabytes as one string); the tables are built
    /// first.
    fn write_to(self, snapshot: &Snapshot, out: &mut dyn std::io::Write) -> std::io::Result<()>;
}

impl Render for ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Markdown => "md",
        }
    }

    fn render(self, snapshot: &Snapshot) -> String {
        match self {
            ExportFormat::Json => snapshot.to_json() + "\n",
            ExportFormat::Csv => csv::to_csv(snapshot),
            ExportFormat::Markdown => markdown::to_markdown(snapshot),
        }
    }

    fn write_to(self, snapshot: &Snapshot, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            ExportFormat::Json => json::write(snapshot, out),
            _ => out.write_all(self.render(snapshot).as_bytes()),
        }
    }
}

/// The snapshot format version.
pub const VERSION: u32 = 1;

/// One snapshot document. `E` is its endpoints: a list, except while
/// [`write_json`] writes it, which builds each endpoint as it goes.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot<E = Vec<EndpointSnapshot>> {
    /// Always [`VERSION`].
    pub probetop_snapshot: u32,
    /// When the statistics started (RFC 3339, UTC).
    pub started_at: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub taken_at: String,
    /// Where it was taken: `--vantage`, else the host name ([`vantage`]); in a merge,
    /// the names of the merged vantage points joined by `+`.
    pub vantage: String,
    /// In a merge: each snapshot merged, in the order given (absent otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedFrom>,
    /// How late probetop itself fired its ticks (its own health), or null before any tick.
    pub scheduler_lag_ms: Option<LatencySummary>,
    /// When and how badly probetop itself fell behind (its own health).
    pub overload: OverloadSnapshot,
    /// The queue of samples into the statistics (its own health).
    pub stats_queue: QueueSnapshot,
    /// Per endpoint, in config order.
    pub endpoints: E,
    /// probetop's own network as its canaries see it, or null without canaries.
    pub local_network: Option<LocalNetworkSnapshot>,
    /// The latest alert deliveries (at most 50), oldest first.
    pub alerts: Vec<AlertSnapshot>,
    /// State changes the alerting had no room for (its queue was full): dropped.
    pub alert_events_dropped: u64,
}

/// What the canaries say of probetop's own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LocalNetworkSnapshot {
    /// Whether every canary's latest probe failed (other failures are then excused).
    pub down: bool,
    /// How many endpoints are canaries.
    pub canaries: usize,
}

/// One alert delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertSnapshot {
    /// When the delivery ended (RFC 3339, UTC).
    pub at: String,
    /// The endpoint's name.
    pub endpoint: String,
    /// The state it told of.
    pub state: &'static str,
    /// Whom it went to: a command's program, a webhook's scheme and host (its path
    /// may be a secret).
    pub target: String,
    /// `ok`, or what went wrong on the last attempt.
    pub result: String,
    /// Attempts made.
    pub attempts: u32,
}

/// One snapshot that went into a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedFrom {
    /// Its vantage point.
    pub vantage: String,
    /// When its statistics started (RFC 3339, UTC).
    pub started_at: String,
    /// When it was taken (RFC 3339, UTC).
    pub taken_at: String,
}

/// probetop's own overload: seconds of the run in which more than 1 % of the ticks
/// fired more than [`crate::stats::LATE_TICK`] late or the statistics queue was
/// deeper than [`crate::stats::DEEP_QUEUE`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct OverloadSnapshot {
    /// Seconds during which probetop was overloaded (0 in a run it can hold).
    pub seconds: u64,
    /// Ticks that fired more than the threshold late.
    pub late_ticks: u64,
    /// The latest any tick fired, in milliseconds.
    pub max_lag_ms: f64,
}

impl OverloadSnapshot {
    /// From the statistics' count.
    pub fn of(overload: &Overload) -> Self {
        OverloadSnapshot {
            seconds: overload.seconds(),
            late_ticks: overload.late_ticks(),
            max_lag_ms: overload.max_lag().as_micros() as f64 / 1000.0,
        }
    }
}

/// The statistics queue's depth when the snapshot was taken, and its deepest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QueueSnapshot {
    /// Messages (samples, reads) waiting for the statistics thread.
    pub depth: u64,
    /// The most that waited since the statistics started (or were reset).
    pub max_depth: u64,
}

impl From<QueueDepth> for QueueSnapshot {
    fn from(queue: QueueDepth) -> Self {
        QueueSnapshot {
            depth: queue.depth,
            max_depth: queue.max_depth,
        }
    }
}

/// One endpoint in a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSnapshot {
    /// Endpoint name.
    pub name: String,
    /// Endpoint URL.
    pub url: String,
    /// Time between two probes now, in milliseconds (changed from the dashboard, it
    /// differs from the config file's until the next reload).
    pub interval_ms: u64,
    /// `up`, `degraded`, `down` or `unknown`.
    pub state: &'static str,
    /// Finished probes.
    pub probes: u64,
    /// Successful probes.
    pub ok: u64,
    /// Failed probes.
    pub failed: u64,
    /// Ticks not probed because the overlap cap was reached.
    pub skipped: u64,
    /// Failed probes excused while every canary failed (probetop's own network was
    /// down); `ok + failed + excused == probes`.
    pub excused: u64,
    /// Failed probes by error class (zero counts left out).
    pub errors: BTreeMap<&'static str, u64>,
    /// Responses by status code.
    pub status_codes: BTreeMap<String, u64>,
    /// All-time latency of complete responses, or null without any.
    pub latency_ms: Option<LatencySummary>,
    /// All-time duration of each phase. DNS, connect and TLS count new connections
    /// only (a reused connection had none); TTFB and transfer count responses.
    pub phases_ms: PhasesSnapshot,
    /// Whole days until the certificate of the latest TLS connection expires
    /// (negative once expired), or null without a TLS connection.
    pub cert_days_left: Option<i64>,
    /// When that certificate expires (RFC 3339, UTC), or null.
    pub cert_not_after: Option<String>,
    /// Where the latest response (or `tcp://`/`tls://` connection) came from, or
    /// null before any.
    pub last_response: Option<ResponseSnapshot>,
    /// The rolling window.
    pub window: WindowSnapshot,
    /// The all-time histogram.
    pub histogram: HistogramSnapshot,
    /// The all-time histogram of each phase (what `--resume` and `merge` add up).
    pub phase_histograms: PhaseHistogramsSnapshot,
    /// The latest state changes (at most 50), oldest first.
    pub transitions: Vec<TransitionSnapshot>,
    /// The latest failure, or null when none was recorded.
    pub last_error: Option<ErrorSnapshot>,
    /// The latest failures (at most [`RECENT_ERRORS`]), newest first: the first is
    /// `last_error`.
    pub recent_errors: Vec<ErrorSnapshot>,
    /// In a merge: this endpoint as each vantage point saw it, by vantage name
    /// (absent otherwise).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vantages: BTreeMap<String, EndpointSnapshot>,
}

/// How many failures an endpoint snapshot lists.
pub const RECENT_ERRORS: usize = 10;

/// A failed probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorSnapshot {
    /// When the probe finished (RFC 3339, UTC).
    pub at: String,
    /// Its error class (an `errors` key).
    pub class: &'static str,
    /// What went wrong, in one line, cleaned of control characters (it may carry
    /// text from the endpoint).
    pub message: String,
}

impl ErrorSnapshot {
    /// From a kept failure.
    pub fn of(error: &RecentError) -> Self {
        ErrorSnapshot {
            at: timestamp(error.at),
            class: error.error.class.as_str(),
            message: clean(&error.error.message),
        }
    }
}

/// The HTTP version and the server's address of the latest response.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseSnapshot {
    /// `"HTTP/1.1"`, `"HTTP/2"`…; null for `tcp://` and `tls://`.
    pub http_version: Option<&'static str>,
    /// `IP:port` (`[IPv6]:port`), or null when unknown.
    pub remote_addr: Option<String>,
}

impl From<ResponseInfo> for ResponseSnapshot {
    fn from(info: ResponseInfo) -> Self {
        ResponseSnapshot {
            http_version: info.http_version,
            remote_addr: info.remote_addr.map(|addr| addr.to_string()),
        }
    }
}

/// The encoded all-time histogram of each phase, in [`ENCODING`].
#[derive(Debug, Clone, Serialize)]
pub struct PhaseHistogramsSnapshot {
    /// Unit of the recorded values: `us`.
    pub unit: &'static str,
    /// [`ENCODING`].
    pub encoding: &'static str,
    /// Name resolution.
    pub dns: String,
    /// TCP connect.
    pub connect: String,
    /// TLS handshake.
    pub tls: String,
    /// Time to first byte.
    pub ttfb: String,
    /// Response headers to the end of the body.
    pub transfer: String,
}

impl PhaseHistogramsSnapshot {
    /// The encoding of `histograms`, indexed by [`Phase::index`].
    pub fn new(histograms: &[hdrhistogram::Histogram<u64>; Phase::ALL.len()]) -> Self {
        Self::of_encoded(histograms.each_ref().map(encode_histogram))
    }

    /// [`PhaseHistogramsSnapshot::new`] of the histograms `counts` were read from.
    fn of_counts(counts: &[Counts; Phase::ALL.len()]) -> Self {
        Self::of_encoded(counts.each_ref().map(encode_counts))
    }

    /// The phases' encoded histograms, indexed by [`Phase::index`].
    fn of_encoded([dns, connect, tls, ttfb, transfer]: [String; Phase::ALL.len()]) -> Self {
        PhaseHistogramsSnapshot {
            unit: "us",
            encoding: ENCODING,
            dns,
            connect,
            tls,
            ttfb,
            transfer,
        }
    }

    /// The encoded histogram of `phase`.
    pub fn get(&self, phase: Phase) -> &str {
        match phase {
            Phase::Dns => &self.dns,
            Phase::Connect => &self.connect,
            Phase::Tls => &self.tls,
            Phase::Ttfb => &self.ttfb,
            Phase::Transfer => &self.transfer,
        }
    }
}

/// Count and p50/p90/p99 (ms, null when the count is 0) of each phase.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PhasesSnapshot {
    /// Name resolution.
    pub dns: PhaseSummary,
    /// TCP connect.
    pub connect: PhaseSummary,
    /// TLS handshake.
    pub tls: PhaseSummary,
    /// Time to first byte, from the request going out on a ready connection.
    pub ttfb: PhaseSummary,
    /// Response headers to the end of the body.
    pub transfer: PhaseSummary,
}

impl PhasesSnapshot {
    /// From summaries indexed by [`Phase::index`].
    pub fn new(summaries: [PhaseSummary; Phase::ALL.len()]) -> Self {
        let [dns, connect, tls, ttfb, transfer] = summaries;
        PhasesSnapshot {
            dns,
            connect,
            tls,
            ttfb,
            transfer,
        }
    }

    /// The summary of `phase`.
    pub fn get(&self, phase: Phase) -> &PhaseSummary {
        match phase {
            Phase::Dns => &self.dns,
            Phase::Connect => &self.connect,
            Phase::Tls => &self.tls,
            Phase::Ttfb => &self.ttfb,
            Phase::Transfer => &self.transfer,
        }
    }
}

/// A change of state.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionSnapshot {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The state before.
    pub from: &'static str,
    /// The state after.
    pub to: &'static str,
}

impl TransitionSnapshot {
    /// From a recorded change.
    pub fn of(transition: &Transition) -> Self {
        TransitionSnapshot {
            at: timestamp(transition.at),
            from: transition.from.as_str(),
            to: transition.to.as_str(),
        }
    }
}

/// The rolling window part of an endpoint snapshot.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct WindowSnapshot {
    /// Span of the window.
    pub seconds: u64,
    /// Finished probes in the window.
    pub probes: u64,
    /// Successful probes in the window.
    pub ok: u64,
    /// Latency of complete responses in the window, or null without any.
    pub latency_ms: Option<LatencySummary>,
    /// Each phase in the window, counted as in the all-time `phases_ms`.
    pub phases_ms: PhasesSnapshot,
}

/// The encoded all-time histogram.
#[derive(Debug, Clone, Serialize)]
pub struct HistogramSnapshot {
    /// Unit of the recorded values: `us`.
    pub unit: &'static str,
    /// [`ENCODING`].
    pub encoding: &'static str,
    /// Base64 of the V2 deflate encoding.
    pub data: String,
}

impl HistogramSnapshot {
    /// `data`, microseconds encoded as [`ENCODING`].
    fn of_data(data: String) -> Self {
        HistogramSnapshot {
            unit: "us",
            encoding: ENCODING,
            data,
        }
    }
}

/// Builds the snapshot of `endpoints` (config order) from `stats`: [`capture`], then
/// [`Capture::encode`].
///
/// Encoding the histograms compresses them: call this off the async runtime
/// (`spawn_blocking`) for more than a handful of endpoints, and never inside
/// [`crate::stats::StatsHandle::read`] (there, [`capture`] only).
pub fn build(endpoints: &[Endpoint], stats: &StatsStore) -> Snapshot {
    capture(endpoints, stats).encode()
}

/// What a snapshot needs from the statistics, copied: the counts and the window's
/// summaries, and the all-time histograms still in their compact form. Taking it is
/// cheap enough for the statistics thread; [`Capture::encode`] does the slow part
/// (decoding, summarising, compressing) anywhere else.
#[derive(Debug, Clone)]
pub struct Capture {
    header: Header,
    endpoints: Vec<EndpointCapture>,
}

/// Everything of a snapshot but its endpoints.
#[derive(Debug, Clone)]
struct Header {
    started_at: String,
    taken_at: String,
    vantage: String,
    scheduler_lag_ms: Option<LatencySummary>,
    overload: OverloadSnapshot,
    stats_queue: QueueSnapshot,
    window_seconds: u64,
    local_network: Option<LocalNetworkSnapshot>,
    alerts: Vec<AlertSnapshot>,
    alert_events_dropped: u64,
}

/// One endpoint of a [`Capture`]; `H` holds an all-time histogram: a copy (taken on
/// the statistics thread, encoded elsewhere) or, for [`write_json`], a reference.
#[derive(Debug, Clone)]
struct EndpointCapture<H = CompactHistogram> {
    name: String,
    url: String,
    interval_ms: u64,
    state: &'static str,
    probes: u64,
    ok: u64,
    failed: u64,
    skipped: u64,
    excused: u64,
    errors: BTreeMap<&'static str, u64>,
    status_codes: BTreeMap<String, u64>,
    /// All-time latency and phases, as the statistics keep them.
    latency: H,
    phases: [H; Phase::ALL.len()],
    cert_days_left: Option<i64>,
    cert_not_after: Option<String>,
    last_response: Option<ResponseInfo>,
    window: SpanSummary,
    window_phases: PhaseSummaries,
    transitions: Vec<TransitionSnapshot>,
    /// Newest first.
    recent_errors: Vec<ErrorSnapshot>,
}

/// Copies what the snapshot of `endpoints` (config order) needs from `stats`: run it
/// inside [`crate::stats::StatsHandle::read`], then [`Capture::encode`] elsewhere.
pub fn capture(endpoints: &[Endpoint], stats: &StatsStore) -> Capture {
    Capture {
        header: Header::of(endpoints, stats),
        endpoints: endpoints
            .iter()
            .zip(stats.endpoints())
            .map(|(endpoint, s)| endpoint_capture(endpoint, s, stats))
            .collect(),
    }
}

/// Writes the JSON snapshot of `endpoints` (config order) from `stats`, and a
/// newline: exactly what [`Render::write_to`] writes of [`build`]'s snapshot, but
/// each endpoint captured, encoded and written in turn, so that the snapshot of a
/// large fleet is never held whole (held whole at 50,000 endpoints, its 1.3 KB
/// `EndpointSnapshot`s, each moved into place, and their strings doubled the peak
/// RSS, 440 MiB instead of 220). Call it off the async runtime, with a store no one
/// records into (the one `StatsHandle::finish` returns).
pub fn write_json(
    endpoints: &[Endpoint],
    stats: &StatsStore,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let header = Header::of(endpoints, stats);
    let window_seconds = header.window_seconds;
    let snapshot = header.snapshot(Streamed {
        endpoints,
        stats,
        window_seconds,
    });
    json::write(&snapshot, out)
}

/// The endpoints of a snapshot as [`write_json`] writes them: each captured and
/// encoded just before it is serialised, and dropped just after.
struct Streamed<'a> {
    endpoints: &'a [Endpoint],
    stats: &'a StatsStore,
    window_seconds: u64,
}

impl Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // An exact length, as a Vec's: serde_json writes an empty list as `[]` then.
        serializer.collect_seq(self.endpoints.iter().zip(self.stats.endpoints()).map(
            // The histograms read where they are: the store is the finished one, and
            // nothing records into it.
            |(endpoint, s)| {
                endpoint_capture_with(endpoint, s, self.stats, |h| h).encode(self.window_seconds)
            },
        ))
    }
}

impl Header {
    /// The snapshot-wide part of the snapshot of `endpoints` from `stats`.
    fn of(endpoints: &[Endpoint], stats: &StatsStore) -> Self {
        Header {
            started_at: timestamp(stats.started_at()),
            taken_at: timestamp(stats.taken_at()),
            vantage: vantage::current().to_string(),
            scheduler_lag_ms: LatencySummary::of(stats.scheduler_lag()),
            overload: OverloadSnapshot::of(stats.overload()),
            stats_queue: stats.stats_queue().into(),
            window_seconds: stats.window().as_secs(),
            local_network: (stats.canaries() > 0).then(|| LocalNetworkSnapshot {
                down: stats.local_network_down(),
                canaries: stats.canaries(),
            }),
            alerts: stats
                .alerts()
                .map(|a| AlertSnapshot {
                    at: timestamp(a.at),
                    endpoint: stats
                        .position(a.endpoint)
                        .and_then(|position| endpoints.get(position))
                        .map_or_else(String::new, |e| e.name.clone()),
                    state: a.state.as_str(),
                    target: a.target.clone(),
                    result: a.result.clone(),
                    attempts: a.attempts,
                })
                .collect(),
            alert_events_dropped: stats.events_dropped(),
        }
    }

    /// The snapshot of this header and `endpoints`.
    fn snapshot<E>(self, endpoints: E) -> Snapshot<E> {
        Snapshot {
            probetop_snapshot: VERSION,
            started_at: self.started_at,
            taken_at: self.taken_at,
            vantage: self.vantage,
            merged_from: Vec::new(),
            scheduler_lag_ms: self.scheduler_lag_ms,
            overload: self.overload,
            stats_queue: self.stats_queue,
            endpoints,
            local_network: self.local_network,
            alerts: self.alerts,
            alert_events_dropped: self.alert_events_dropped,
        }
    }
}

/// One endpoint of [`capture`]: all-time, and the rolling window of `store`.
fn endpoint_capture(endpoint: &Endpoint, s: &EndpointStats, store: &StatsStore) -> EndpointCapture {
    endpoint_capture_with(endpoint, s, store, CompactHistogram::clone)
}

/// [`endpoint_capture`], each all-time histogram held as `histogram` makes it.
fn endpoint_capture_with<'a, H>(
    endpoint: &Endpoint,
    s: &'a EndpointStats,
    store: &StatsStore,
    histogram: impl Fn(&'a CompactHistogram) -> H,
) -> EndpointCapture<H> {
    let (now, window) = (store.now_ds(), Some(store.window()));
    let certificate = s.certificate(store.taken_at());
    EndpointCapture {
        name: endpoint.name.clone(),
        url: endpoint.url_as_written.clone(),
        interval_ms: u64::try_from(endpoint.interval.as_millis()).unwrap_or(u64::MAX),
        state: s.state().as_str(),
        probes: s.probes(),
        ok: s.ok(),
        failed: s.failed(),
        skipped: s.skipped(),
        excused: s.excused(),
        errors: s.errors().map(|(class, n)| (class.as_str(), n)).collect(),
        status_codes: s
            .status_codes()
            .map(|(code, n)| (code.to_string(), n))
            .collect(),
        latency: histogram(s.latency_all_time()),
        phases: Phase::ALL.map(|phase| histogram(s.phase_all_time(phase))),
        cert_days_left: certificate.map(|c| c.days_left),
        cert_not_after: certificate.map(|c| timestamp(c.not_after)),
        last_response: s.last_response(),
        window: s.summary_over(window, now),
        window_phases: s.phases_over(window, now),
        transitions: s.transitions().map(TransitionSnapshot::of).collect(),
        recent_errors: s
            .recent_errors()
            .rev()
            .take(RECENT_ERRORS)
            .map(ErrorSnapshot::of)
            .collect(),
    }
}

impl Capture {
    /// The snapshot: decodes, summarises and compresses the all-time histograms (the
    /// slow part: call it off the statistics thread and off the async runtime).
    pub fn encode(self) -> Snapshot {
        let window_seconds = self.header.window_seconds;
        let endpoints = self
            .endpoints
            .into_iter()
            .map(|e| e.encode(window_seconds))
            .collect();
        self.header.snapshot(endpoints)
    }
}

impl<H: std::borrow::Borrow<CompactHistogram>> EndpointCapture<H> {
    fn encode(self, window_seconds: u64) -> EndpointSnapshot {
        // Read by bucket: no histogram is built (see `stats::Counts`).
        let latency = self.latency.borrow().counts();
        let phases = self.phases.each_ref().map(|h| h.borrow().counts());
        EndpointSnapshot {
            name: self.name,
            url: self.url,
            interval_ms: self.interval_ms,
            state: self.state,
            probes: self.probes,
            ok: self.ok,
            failed: self.failed,
            skipped: self.skipped,
            excused: self.excused,
            errors: self.errors,
            status_codes: self.status_codes,
            latency_ms: latency.latency_summary(),
            phases_ms: PhasesSnapshot::new(phases.each_ref().map(Counts::phase_summary)),
            cert_days_left: self.cert_days_left,
            cert_not_after: self.cert_not_after,
            last_response: self.last_response.map(ResponseSnapshot::from),
            window: WindowSnapshot {
                seconds: window_seconds,
                probes: self.window.probes,
                ok: self.window.ok,
                latency_ms: self.window.latency,
                phases_ms: PhasesSnapshot::new(self.window_phases),
            },
            histogram: HistogramSnapshot::of_data(encode_counts(&latency)),
            phase_histograms: PhaseHistogramsSnapshot::of_counts(&phases),
            transitions: self.transitions,
            last_error: self.recent_errors.first().cloned(),
            recent_errors: self.recent_errors,
            vantages: BTreeMap::new(),
        }
    }
}

impl EndpointSnapshot {
    /// The snapshot of an endpoint's all-time statistics (`all_time`) with the given
    /// window and certificate days: how a merge writes what it added up.
    pub fn of_all_time(
        name: String,
        url: String,
        all_time: &AllTime,
        cert_days_left: Option<i64>,
        window: WindowSnapshot,
    ) -> Self {
        EndpointSnapshot {
            name,
            url,
            state: all_time.state.as_str(),
            probes: all_time.probes,
            ok: all_time.ok,
            failed: all_time.failed,
            skipped: all_time.skipped,
            excused: all_time.excused,
            errors: crate::probe::ErrorClass::ALL
                .into_iter()
                .map(|class| (class.as_str(), all_time.errors[class.index()]))
                .filter(|&(_, n)| n > 0)
                .collect(),
            status_codes: all_time
                .status_codes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            latency_ms: LatencySummary::of(&all_time.latency),
            phases_ms: PhasesSnapshot::new(all_time.phases.each_ref().map(PhaseSummary::of)),
            cert_days_left,
            cert_not_after: all_time.cert_not_after.map(timestamp),
            window,
            histogram: HistogramSnapshot::of_data(encode_histogram(&all_time.latency)),
            phase_histograms: PhaseHistogramsSnapshot::new(&all_time.phases),
            // Set by the merge from its inputs.
            interval_ms: 0,
            // A merge keeps no single latest response or failure: each vantage
            // point's own are in `vantages`.
            last_response: None,
            last_error: None,
            recent_errors: Vec::new(),
            transitions: all_time
                .transitions
                .iter()
                .map(TransitionSnapshot::of)
                .collect(),
            vantages: BTreeMap::new(),
        }
    }
}

impl Snapshot {
    /// The snapshot as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("string keys and plain values (NaN as null): a snapshot always serialises")
    }
}
