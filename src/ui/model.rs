//! What the views draw: plain data computed from the statistics on the statistics
//! thread (see [`crate::stats::StatsHandle::read`]), so drawing a frame computes
//! nothing expensive and views can be tested with fixed data.
//!
//! Every number comes from the statistics' own projection (latency, phases and
//! connections over the span, counts, certificate); this module only shapes it for
//! the screen (sanitised text, sparkline points, the percentile curve).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::sanitize::clean;
use super::trail::{SparkTrail, SparkWriter};
use crate::config::Endpoint;
use crate::probe::ErrorClass;
use crate::stats::{
    EndpointStats, LatencySummary, OverloadReason, PhaseSummaries, SpanTally, State, StatsStore,
    Transition, WindowEntry, prefetch, prefetch_all, prefetch_arc,
};

pub use crate::stats::Certificate;

/// Points kept for each overview sparkline (the most recent probes).
pub const SPARK_POINTS: usize = 60;

/// The span the dashboard summarises; `w` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// The last minute.
    OneMinute,
    /// The last five minutes.
    FiveMinutes,
    /// The last fifteen minutes.
    FifteenMinutes,
    /// Everything since the start (or the last reset).
    AllTime,
}

impl Span {
    /// The longest windowed span: the statistics keep raw entries this long.
    pub const LONGEST: Duration = Duration::from_secs(15 * 60);

    /// The next span in the cycle.
    pub fn next(self) -> Self {
        match self {
            Span::OneMinute => Span::FiveMinutes,
            Span::FiveMinutes => Span::FifteenMinutes,
            Span::FifteenMinutes => Span::AllTime,
            Span::AllTime => Span::OneMinute,
        }
    }

    /// Its length, or `None` for all-time.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Span::OneMinute => Some(Duration::from_secs(60)),
            Span::FiveMinutes => Some(Duration::from_secs(300)),
            Span::FifteenMinutes => Some(Self::LONGEST),
            Span::AllTime => None,
        }
    }

    /// A short label for the header.
    pub fn label(self) -> &'static str {
        match self {
            Span::OneMinute => "1m",
            Span::FiveMinutes => "5m",
            Span::FifteenMinutes => "15m",
            Span::AllTime => "all",
        }
    }

    /// The span closest to a configured window (the dashboard starts there).
    pub fn closest_to(window: Duration) -> Self {
        [Span::OneMinute, Span::FiveMinutes, Span::FifteenMinutes]
            .into_iter()
            .min_by_key(|s| s.duration().unwrap_or_default().abs_diff(window))
            .unwrap_or(Span::FiveMinutes)
    }
}

/// One point of a sparkline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparkPoint {
    /// A successful probe and its latency in microseconds.
    Latency(u32),
    /// A failed probe (drawn as a mark, never as zero).
    Failed,
}

/// Everything the overview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewData {
    /// Time since the statistics started.
    pub elapsed: Duration,
    /// When the data was taken.
    pub taken_at: SystemTime,
    /// Finished probes of all endpoints, all-time (for the probe rate).
    pub total_probes: u64,
    /// probetop's own scheduler lag, 99th percentile, in milliseconds.
    pub lag_p99_ms: Option<f64>,
    /// The span the rows summarise.
    pub span: Span,
    /// One row per endpoint, in config order; shared with the cache that keeps
    /// the rows of quiet endpoints from one refresh to the next.
    pub rows: Vec<Arc<EndpointRow>>,
    /// Why probetop itself is overloaded (the header says so in red), or `None`
    /// while it keeps up.
    pub overload: Option<OverloadReason>,
    /// Every canary fails: probetop's own network is down, the other endpoints'
    /// failures are excused (the header says so).
    pub local_network_down: bool,
}

impl OverviewData {
    /// Whether `self` draws the same screen as `other` (the run time is shown in
    /// whole seconds; the moment the data was taken is not shown).
    pub fn looks_like(&self, other: &OverviewData) -> bool {
        self.elapsed.as_secs() == other.elapsed.as_secs()
            && self.total_probes == other.total_probes
            && self.lag_p99_ms == other.lag_p99_ms
            && self.span == other.span
            && self.overload == other.overload
            && self.local_network_down == other.local_network_down
            && self.rows == other.rows
    }

    /// No data yet.
    pub fn empty(span: Span) -> Self {
        OverviewData {
            elapsed: Duration::ZERO,
            taken_at: SystemTime::UNIX_EPOCH,
            total_probes: 0,
            lag_p99_ms: None,
            span,
            rows: Vec::new(),
            overload: None,
            local_network_down: false,
        }
    }
}

/// One endpoint in the overview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointRow {
    /// Display name, sanitised.
    pub name: String,
    /// Current state.
    pub state: State,
    /// Latency of the latest probe, when it had a complete response.
    pub last_latency_ms: Option<f64>,
    /// Latency over the span.
    pub latency: Option<LatencySummary>,
    /// Finished probes in the span.
    pub span_probes: u64,
    /// Successful probes in the span.
    pub span_ok: u64,
    /// Finished probes, all-time.
    pub probes: u64,
    /// Skipped ticks, all-time.
    pub skipped: u64,
    /// The latest probes, oldest first.
    pub spark: SparkTrail,
    /// The latest status or error, sanitised.
    pub last_result: String,
    /// Whether the latest probe failed.
    pub last_failed: bool,
}

impl EndpointRow {
    /// Success rate over the span, in percent.
    pub fn success_rate(&self) -> Option<f64> {
        (self.span_probes > 0).then(|| 100.0 * self.span_ok as f64 / self.span_probes as f64)
    }

    /// Error rate over the span, as a fraction (for sorting).
    pub fn error_rate(&self) -> f64 {
        self.success_rate().map_or(0.0, |ok| (100.0 - ok) / 100.0)
    }
}

/// Whether an endpoint of `new` is down that was not in `old` (one it did not have
/// was unknown): a state change to down, which rings the bell.
pub fn went_down(old: &OverviewData, new: &OverviewData) -> bool {
    new.rows.iter().enumerate().any(|(i, row)| {
        row.state == State::Down
            && old
                .rows
                .get(i)
                .is_none_or(|before| before.name != row.name || before.state != State::Down)
    })
}

/// Everything the detail view shows about one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailData {
    /// Which endpoint, in config order.
    pub index: usize,
    /// The span summarised.
    pub span: Span,
    /// Current state.
    pub state: State,
    /// Finished, successful, failed probes and skipped ticks, all-time.
    pub counts: [u64; 4],
    /// Latency over the span.
    pub latency: Option<LatencySummary>,
    /// The percentile curve over the span: (percentile, milliseconds).
    pub percentiles: Vec<(f64, f64)>,
    /// Probes over the kept history: (seconds before `taken_at`, latency in ms if a
    /// complete response came, success).
    pub series: Vec<(f64, Option<f64>, bool)>,
    /// Responses by status code, all-time.
    pub status_codes: Vec<(u16, u64)>,
    /// Failures by class, all-time (zero counts left out).
    pub errors: Vec<(ErrorClass, u64)>,
    /// The latest errors, newest first: when, and what (sanitised).
    pub recent_errors: Vec<(SystemTime, String)>,
    /// When the data was taken (tells today's state changes from older ones).
    pub taken_at: SystemTime,
    /// Count and percentiles of each phase over the span, indexed by
    /// [`crate::probe::Phase::index`]: DNS, connect and TLS per new connection, TTFB
    /// and transfer per response.
    pub phases: PhaseSummaries,
    /// New connections over the span (a reused connection has no DNS, connect or
    /// TLS phase, so this explains their lower counts).
    pub connections: u64,
    /// The certificate of the latest TLS connection, if there was one.
    pub certificate: Option<Certificate>,
    /// Certificate days below which the endpoint is degraded, if set.
    pub min_cert_days: Option<u32>,
    /// The kept state changes, newest first.
    pub transitions: Vec<Transition>,
    /// Latency of the latest probe in milliseconds, when it had a complete response
    /// (says whether a degraded endpoint is slow).
    pub last_latency_ms: Option<f64>,
    /// The HTTP version and the server's address of the latest response (or
    /// `tcp://`/`tls://` connection).
    pub last_response: Option<crate::probe::ResponseInfo>,
    /// The config file's interval, when the dashboard changed the endpoint's (`+`,
    /// `-`): the settings panel shows both.
    pub file_interval: Option<Duration>,
    /// Failed probes excused while probetop's own network was down, all-time.
    pub excused: u64,
    /// The latest alert deliveries about it, newest first: when, what
    /// (`alert down → target: result`, sanitised), and whether it was delivered.
    pub alerts: Vec<(SystemTime, String, bool)>,
}

/// Alert deliveries the detail view lists, at most.
pub const DETAIL_ALERTS: usize = 10;

/// The percentiles of the detail view's curve.
pub const CURVE: [f64; 9] = [0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0];

/// Rows of earlier overviews, kept so that a refresh recomputes only the rows of the
/// endpoints whose statistics changed.
///
/// A row is reused while its endpoint's [`EndpointStats::generation`] is the same
/// (nothing was recorded or reset), the span is the same, and time has not moved past
/// [`EndpointStats::probes_unchanged_until`] (no probe left the span) nor back. With
/// 10,000 endpoints a refresh then costs copies for the quiet ones, and summaries
/// only for the endpoints that probed since the last one. Those summaries are
/// incremental too: each endpoint's [`SpanTally`] adds the probes that entered the
/// span and takes away those that left it, instead of sorting the span again.
#[derive(Debug, Default)]
pub struct OverviewCache {
    /// Per endpoint, in config order.
    rows: Vec<RowCache>,
}

#[derive(Debug, Default)]
struct RowCache {
    /// The span's latencies counted by bucket, kept across refreshes.
    tally: SpanTally,
    /// The sparkline's points, written on from refresh to refresh.
    spark: SparkWriter,
    /// [`EndpointStats::probe_sequence`] when `spark` last followed the probes.
    spark_sequence: Option<(u64, u64)>,
    /// The row and what it was computed from.
    row: Option<CachedRow>,
    /// The row before it, kept until the next one replaces it: the dashboard drops
    /// the overview it showed on its own thread, and rows freed there leave this
    /// thread's allocator without chunks at hand for the next refresh's rows (its
    /// slow paths then cost more than the rows themselves: a refresh of 50,000
    /// endpoints took 111 ms instead of about 50). Kept here, it becomes the row after
    /// next, written over in place (its strings' memory too), once the dashboard no
    /// longer holds it: no allocating and freeing per row; it costs no more than the
    /// overview the dashboard holds anyway.
    retired: Option<Arc<EndpointRow>>,
}

#[derive(Debug)]
struct CachedRow {
    /// The endpoint's generation when the row was computed.
    generation: u64,
    /// The span it summarises.
    span: Span,
    /// When it was computed (deciseconds since the clock's start).
    computed_ds: u32,
    /// The last moment it stays true without new records.
    until_ds: u32,
    /// The config it was computed from (the name as written, and the TLS note).
    name: String,
    insecure: bool,
    row: Arc<EndpointRow>,
}

impl CachedRow {
    fn fits(&self, endpoint: &Endpoint, s: &EndpointStats, span: Span, now: u32) -> bool {
        self.generation == s.generation()
            && self.span == span
            && (self.computed_ds..=self.until_ds).contains(&now)
            && self.insecure == endpoint.insecure
            && self.name == endpoint.name
    }
}

/// Computes the overview for `span`, every row from scratch.
pub fn overview(stats: &StatsStore, endpoints: &[Endpoint], span: Span) -> OverviewData {
    overview_cached(stats, endpoints, span, &mut OverviewCache::default())
}

/// Computes the overview for `span`, reusing the rows of `cache` that are still true
/// and keeping the new ones there: the same data as [`overview`], for less.
pub fn overview_cached(
    stats: &StatsStore,
    endpoints: &[Endpoint],
    span: Span,
    cache: &mut OverviewCache,
) -> OverviewData {
    let now = stats.now_ds();
    let all = stats.endpoints();
    let count = endpoints.len().min(all.len());
    let mut next = cache.rows.len();
    cache.rows.resize_with(count, || {
        next += 1;
        RowCache {
            spark: SparkWriter::staggered(next.wrapping_mul(37)),
            ..RowCache::default()
        }
    });
    let mut rows = Vec::with_capacity(count);
    for i in 0..count {
        prefetch_ahead(endpoints, all, &cache.rows, i);
        let (endpoint, s) = (&endpoints[i], &all[i]);
        let RowCache {
            tally,
            spark,
            spark_sequence,
            row: cached,
            retired,
        } = &mut cache.rows[i];
        let row = match cached {
            Some(c) if c.fits(endpoint, s, span, now) => Arc::clone(&c.row),
            _ => {
                let before = cached.take();
                // The name cleaned for the row before, while the config's is the same.
                let same_name = before.as_ref().is_some_and(|c| c.name == endpoint.name);
                let name = before
                    .as_ref()
                    .filter(|_| same_name)
                    .map(|c| c.row.name.as_str());
                let trail = spark_follow(spark, spark_sequence, s);
                // The row before the one before is the dashboard's no longer, as a
                // rule: it becomes the new row, its memory (and its strings') written
                // over in place of allocating and freeing them.
                let mut recycled = retired.take();
                let row = match recycled.as_mut().and_then(Arc::get_mut) {
                    Some(old) => {
                        fill_row(old, endpoint, s, span, now, tally, name, trail);
                        recycled.unwrap_or_default()
                    }
                    None => {
                        drop(recycled);
                        let mut row = EndpointRow::default();
                        fill_row(&mut row, endpoint, s, span, now, tally, name, trail);
                        Arc::new(row)
                    }
                };
                let config_name = match before {
                    Some(c) => {
                        *retired = Some(c.row);
                        if same_name {
                            c.name
                        } else {
                            endpoint.name.clone()
                        }
                    }
                    None => endpoint.name.clone(),
                };
                *cached = Some(CachedRow {
                    generation: s.generation(),
                    span,
                    computed_ds: now,
                    // The tally knows the span's oldest probe (no search).
                    until_ds: match span.duration() {
                        Some(_) => tally.unchanged_until(),
                        None => u32::MAX,
                    },
                    name: config_name,
                    insecure: endpoint.insecure,
                    row: Arc::clone(&row),
                });
                row
            }
        };
        rows.push(row);
    }
    OverviewData {
        elapsed: stats.elapsed(),
        taken_at: stats.taken_at(),
        total_probes: stats.total_probes(),
        lag_p99_ms: LatencySummary::of(stats.scheduler_lag()).map(|l| l.p99),
        span,
        rows,
        overload: stats.overloaded_now(),
        local_network_down: stats.local_network_down(),
    }
}

/// Endpoints ahead of the one being worked on at which [`prefetch_ahead`] asks for
/// each step's memory: first their own structs, then what those point to (the
/// window's entries, the tally's, the sparkline's, the row before, the row that
/// will be written over), then what those rows point to (their strings). Each step needs the one before it to have arrived.
const AHEAD: [usize; 3] = [12, 8, 4];

/// Asks the CPU for the memory the rows after the `i`th will read (see
/// [`crate::stats::prefetch`]): with 10,000 endpoints every one of them is cold, and
/// a refresh waited for them one endpoint at a time.
fn prefetch_ahead(endpoints: &[Endpoint], all: &[EndpointStats], rows: &[RowCache], i: usize) {
    let at = |ahead: usize| {
        let j = i + ahead;
        Some((endpoints.get(j)?, all.get(j)?, rows.get(j)?))
    };
    if let Some((endpoint, s, row)) = at(AHEAD[0]) {
        prefetch(&endpoint.name);
        prefetch(&endpoint.insecure);
        s.prefetch_fields();
        prefetch_all(row);
    }
    if let Some((endpoint, s, row)) = at(AHEAD[1]) {
        prefetch(endpoint.name.as_bytes());
        s.prefetch_for_overview(&row.tally);
        row.spark.prefetch();
        if let Some(c) = &row.row {
            prefetch(&*c.row);
            prefetch(c.name.as_bytes());
        }
        if let Some(retired) = &row.retired {
            prefetch_arc(retired);
        }
    }
    if let Some((_, _, row)) = at(AHEAD[2]) {
        if let Some(c) = &row.row {
            prefetch(c.row.name.as_bytes());
        }
        if let Some(retired) = &row.retired {
            prefetch(retired.name.as_bytes());
            prefetch(retired.last_result.as_bytes());
        }
    }
}

/// Writes endpoint `s`'s row of the overview, as of `now` (deciseconds since the
/// start), over `row`, reusing its strings' memory; `name` is the endpoint's name
/// already cleaned, if known.
#[allow(clippy::too_many_arguments)]
fn fill_row(
    row: &mut EndpointRow,
    endpoint: &Endpoint,
    s: &EndpointStats,
    span: Span,
    now: u32,
    tally: &mut SpanTally,
    name: Option<&str>,
    spark: SparkTrail,
) {
    use std::fmt::Write as _;
    let summary = s.summary_tallied(span.duration(), now, tally);
    // Every field named: one added to the row cannot be left as the old row had it.
    let EndpointRow {
        name: row_name,
        state,
        last_latency_ms,
        latency,
        span_probes,
        span_ok,
        probes,
        skipped,
        spark: row_spark,
        last_result,
        last_failed,
    } = row;
    match name {
        Some(name) => {
            row_name.clear();
            row_name.push_str(name);
        }
        None => *row_name = clean(&endpoint.name),
    }
    *state = s.state();
    *last_latency_ms = s.last_latency().map(ms);
    *latency = summary.latency;
    *span_probes = summary.probes;
    *span_ok = summary.ok;
    *probes = s.probes();
    *skipped = s.skipped();
    *row_spark = spark;
    // What the columns do not show but a reader must not miss, then the result.
    last_result.clear();
    if endpoint.insecure {
        last_result.push_str("insecure TLS · ");
    }
    // Writing to a String cannot fail.
    if s.skipped() > 0 {
        let _ = write!(last_result, "{} skipped · ", s.skipped());
    }
    if s.excused() > 0 {
        let _ = write!(last_result, "{} excused · ", s.excused());
    }
    *last_failed = match s.last() {
        None => false,
        Some(last) => match (&last.error, last.status) {
            (Some(e), _) => {
                last_result.push_str(&clean(&format!("{}: {}", e.class, e.message)));
                true
            }
            (None, Some(status)) => {
                push_status(last_result, status);
                false
            }
            // Only tcp:// and tls:// probes succeed without a status.
            (None, None) => {
                last_result.push_str("open");
                false
            }
        },
    };
}

/// Appends a status code in decimal to `text`, without the formatting machinery:
/// every row that changes writes one.
fn push_status(text: &mut String, status: u16) {
    let mut digits = [0u8; 5];
    let mut at = digits.len();
    let mut rest = status;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    text.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// A probe as a point of a sparkline.
fn spark_point(e: &WindowEntry) -> SparkPoint {
    match (e.ok, e.latency_us()) {
        (true, Some(us)) => SparkPoint::Latency(us),
        _ => SparkPoint::Failed,
    }
}

/// Brings `writer` to the newest [`SPARK_POINTS`] probes of `s` and returns them as
/// a row's sparkline; `was` is [`EndpointStats::probe_sequence`] when it last did,
/// and becomes the current one. Only the probes pushed since are written, unless
/// [`spark_pushed`] says the trail cannot follow on; then it starts afresh.
fn spark_follow(
    writer: &mut SparkWriter,
    was: &mut Option<(u64, u64)>,
    s: &EndpointStats,
) -> SparkTrail {
    let pushed = spark_pushed(*was, writer.len(), s).unwrap_or_else(|| {
        writer.clear();
        SPARK_POINTS
    });
    s.recent_probes()
        .rev()
        .take(pushed.min(SPARK_POINTS))
        .rev()
        .for_each(|e| writer.push(spark_point(e)));
    *was = Some(s.probe_sequence());
    writer.trail()
}

/// How many probes a trail of `shown` points, taken at probe sequence `was`, must
/// add to show the newest [`SPARK_POINTS`] of `s`: those pushed since, when the
/// window is the same and still holds them and as many before them as the trail
/// will show (probes that left the window leave a fresh sparkline too); otherwise
/// `None`.
fn spark_pushed(was: Option<(u64, u64)>, shown: usize, s: &EndpointStats) -> Option<usize> {
    let (was, now) = (was?, s.probe_sequence());
    if was.0 != now.0 {
        return None;
    }
    let pushed = usize::try_from(now.1.checked_sub(was.1)?).ok()?;
    let held = s.recent_probes().len();
    let will_show = shown.saturating_add(pushed).min(SPARK_POINTS);
    (pushed <= held && will_show == held.min(SPARK_POINTS)).then_some(pushed)
}

/// A duration in (fractional) milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Computes the detail view of endpoint `index` for `span`.
pub fn detail(stats: &StatsStore, index: usize, span: Span) -> Option<DetailData> {
    let s = stats.endpoint(index)?;
    let (now, taken_at) = (stats.now_ds(), stats.taken_at());
    let histogram = s.latency_over(span.duration(), now);
    let percentiles = if histogram.is_empty() {
        Vec::new()
    } else {
        CURVE
            .iter()
            .map(|&p| (p, histogram.value_at_percentile(p) as f64 / 1000.0))
            .collect()
    };
    let series = s
        .recent_probes()
        .map(|e| {
            let ago = f64::from(now.saturating_sub(e.at_ds)) / 10.0;
            (ago, e.latency_us().map(|us| f64::from(us) / 1000.0), e.ok)
        })
        .collect();
    let file_interval = stats.endpoint_set().and_then(|set| {
        let (now, file) = (
            set.endpoints.get(index)?.interval,
            *set.file_intervals.get(index)?,
        );
        (now != file).then_some(file)
    });
    Some(DetailData {
        file_interval,
        index,
        span,
        state: s.state(),
        counts: [s.probes(), s.ok(), s.failed(), s.skipped()],
        latency: LatencySummary::of(&histogram),
        percentiles,
        series,
        status_codes: s.status_codes().collect(),
        errors: s.errors().collect(),
        recent_errors: s
            .recent_errors()
            .rev()
            .map(|e| {
                // A status error's message names the status itself.
                let status = e
                    .status
                    .filter(|_| e.error.class != ErrorClass::Status)
                    .map(|s| format!(" (status {s})"))
                    .unwrap_or_default();
                (
                    e.at,
                    clean(&format!("{}{status}: {}", e.error.class, e.error.message)),
                )
            })
            .collect(),
        taken_at,
        phases: s.phases_over(span.duration(), now),
        connections: s.connections_over(span.duration(), now),
        certificate: s.certificate(taken_at),
        min_cert_days: s.min_cert_days(),
        transitions: s.transitions().rev().copied().collect(),
        last_latency_ms: s.last_latency().map(ms),
        last_response: s.last_response(),
        excused: s.excused(),
        alerts: stats
            .alerts()
            .rev()
            .filter(|a| a.endpoint == stats.id_at(index))
            .take(DETAIL_ALERTS)
            .map(|a| {
                let attempts = if a.attempts > 1 {
                    format!(" ({} attempts)", a.attempts)
                } else {
                    String::new()
                };
                let text = format!(
                    "alert {} → {}: {}{attempts}",
                    a.state.as_str(),
                    a.target,
                    a.result
                );
                (a.at, clean(&text), a.result == "ok")
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ErrorClass, ProbeOutcome};
    use crate::stats::EndpointStats;

    #[test]
    fn the_bell_rings_for_an_endpoint_newly_down_only() {
        let row = |name: &str, state: State| EndpointRow {
            name: name.into(),
            state,
            last_latency_ms: None,
            latency: None,
            span_probes: 0,
            span_ok: 0,
            probes: 0,
            skipped: 0,
            spark: SparkTrail::empty(),
            last_result: String::new(),
            last_failed: false,
        };
        let data = |rows: Vec<EndpointRow>| OverviewData {
            rows: rows.into_iter().map(Arc::new).collect(),
            ..OverviewData::empty(Span::OneMinute)
        };
        let before = data(vec![row("a", State::Up), row("b", State::Down)]);
        assert!(!went_down(&before, &before), "still down is no news");
        let a_down = data(vec![row("a", State::Down), row("b", State::Down)]);
        assert!(went_down(&before, &a_down));
        assert!(!went_down(&a_down, &before), "coming up rings nothing");
        assert!(went_down(&data(Vec::new()), &before), "down at the start");
        let renamed = data(vec![row("a", State::Up), row("c", State::Down)]);
        assert!(went_down(&before, &renamed), "another endpoint in that row");
    }

    #[test]
    fn status_codes_read_as_numbers() {
        for status in [0u16, 7, 42, 200, 404, 999, 1000, 65535] {
            let mut text = String::from("x ");
            push_status(&mut text, status);
            assert_eq!(text, format!("x {status}"));
        }
    }

    /// The result column: the status alone, or after the notes a reader must not
    /// miss (insecure TLS, skipped ticks), or the error.
    #[test]
    fn a_result_reads_the_status_after_any_notes() {
        let mut config = endpoints(3);
        config[1].insecure = true;
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut stats: Vec<EndpointStats> = (0..3).map(|_| EndpointStats::default()).collect();
        let ok = ProbeOutcome {
            status: Some(200),
            latency: Some(Duration::from_millis(3)),
            ..ProbeOutcome::default()
        };
        stats[0].record(ok.clone(), 10, start, Span::LONGEST);
        stats[1].record(ok, 10, start, Span::LONGEST);
        stats[1].record_skipped(2);
        let failed = ProbeOutcome::failed(ErrorClass::Timeout, "slow");
        stats[2].record(failed, 10, start, Span::LONGEST);
        let mut store = StatsStore::new(start, Duration::from_secs(300), stats);
        store.stamp(start + Duration::from_secs(1), 10);
        let data = overview(&store, &config, Span::OneMinute);
        let results: Vec<(&str, bool)> = data
            .rows
            .iter()
            .map(|r| (r.last_result.as_str(), r.last_failed))
            .collect();
        let row = &data.rows[1];
        assert_eq!(
            (row.probes, row.skipped, row.span_probes, row.span_ok),
            (1, 2, 1, 1)
        );
        assert_eq!(row.last_latency_ms, Some(3.0));
        assert!(row.latency.is_some_and(|l| (l.p50 - 3.0).abs() < 0.01));
        assert_eq!(&*row.name, "e1");
        assert_eq!(data.rows[2].span_ok, 0);
        assert_eq!(results[0], ("200", false));
        assert_eq!(results[1], ("insecure TLS · 2 skipped · 200", false));
        assert!(
            results[2].1 && results[2].0.ends_with(": slow"),
            "{results:?}"
        );
    }

    /// A fixed-seed generator: the same sequence every run.
    struct Seeded(u64);

    impl Seeded {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn endpoints(n: usize) -> Vec<Endpoint> {
        (0..n)
            .map(|i| {
                let url = url::Url::parse(&format!("http://127.0.0.1:9/{i}")).unwrap();
                Endpoint::new(
                    &format!("e{i}"),
                    url,
                    Duration::from_secs(1),
                    Duration::from_secs(5),
                )
            })
            .collect()
    }

    /// After any sequence of probes (ok, failed, slow), skipped ticks, connections,
    /// resets, quiet stretches that let probes leave the span, and changes of span,
    /// the cached overview equals one computed from scratch.
    #[test]
    fn cached_rows_equal_rows_computed_from_scratch() {
        let (reused, _) = cached_against_fresh(0x5EED_2026_1121_0001, false);
        // Most reads reuse most rows: the test exercises the cache, not only misses.
        assert!(reused > 6_000, "rows reused: {reused}");
    }

    /// As [`cached_rows_equal_rows_computed_from_scratch`], with resets rare enough
    /// that the sparklines fill and move on from row to row.
    #[test]
    fn sparklines_moved_on_equal_sparklines_taken_afresh() {
        let (_, moved) = cached_against_fresh(0x5EED_2026_1201_0002, true);
        assert!(moved > 200, "sparklines moved on: {moved}");
    }

    /// Runs a random sequence of records, resets, quiet stretches and changes of
    /// span (resets and quiet stretches `rare`, a twentieth as often, if asked),
    /// comparing the cached overview with one computed from scratch after each step;
    /// returns how many rows were reused and how many sparklines were moved on rather
    /// than taken afresh.
    fn cached_against_fresh(seed: u64, rare: bool) -> (usize, usize) {
        let mut rng = Seeded(seed);
        let config = endpoints(6);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let retention = Span::LONGEST;
        let mut stats: Vec<EndpointStats> = (0..config.len())
            .map(|_| EndpointStats::default())
            .collect();
        let mut cache = OverviewCache::default();
        let mut span = Span::OneMinute;
        let mut now_ds = 0u32;
        let (mut reused, mut moved) = (0usize, 0usize);
        for step in 0..3_000 {
            let draw = rng.below(100);
            match draw {
                30..=32 | 90..=91 if rare && rng.below(20) != 0 => {}
                // Time passes: a second, or a long quiet stretch past a whole span.
                0..=29 => now_ds += 1 + rng.below(10) as u32,
                30..=32 => now_ds += 300 + rng.below(9_000) as u32,
                33..=79 => {
                    let i = rng.below(config.len() as u64) as usize;
                    let mut outcome = if rng.below(5) == 0 {
                        ProbeOutcome::failed(ErrorClass::Timeout, "slow")
                    } else {
                        ProbeOutcome {
                            status: Some(200),
                            ..ProbeOutcome::default()
                        }
                    };
                    if rng.below(4) != 0 {
                        outcome.latency = Some(Duration::from_micros(1 + rng.below(80_000)));
                    }
                    let at = start + Duration::from_millis(u64::from(now_ds) * 100);
                    stats[i].record(outcome, now_ds, at, retention);
                }
                80..=84 => stats[rng.below(config.len() as u64) as usize].record_skipped(1),
                85..=89 => {
                    let phases = crate::probe::ConnectionPhases::default();
                    let i = rng.below(config.len() as u64) as usize;
                    stats[i].record_connection(&phases, now_ds, retention);
                }
                90..=91 => stats.iter_mut().for_each(EndpointStats::reset),
                92..=95 => span = span.next(),
                // Several reads in a row at the same moment.
                _ => {}
            }
            // The statistics move into the store and back (never copied), so the
            // cache's tallies follow the same windows from read to read.
            let mut store =
                StatsStore::new(start, Duration::from_secs(300), std::mem::take(&mut stats));
            store.stamp(
                start + Duration::from_millis(u64::from(now_ds) * 100),
                now_ds,
            );
            for (c, (e, s)) in cache.rows.iter().zip(config.iter().zip(store.endpoints())) {
                let Some(row) = &c.row else { continue };
                if row.fits(e, s, span, now_ds) {
                    reused += 1;
                } else if spark_pushed(c.spark_sequence, c.spark.len(), s)
                    .is_some_and(|pushed| pushed > 0)
                {
                    moved += 1;
                }
            }
            let cached = overview_cached(&store, &config, span, &mut cache);
            let fresh = overview(&store, &config, span);
            assert_eq!(cached, fresh, "step {step}, span {span:?}, now {now_ds}");
            stats = store.into_endpoints();
        }
        (reused, moved)
    }
}
