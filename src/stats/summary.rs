//! Percentile summaries read from HDR histograms.

use std::sync::LazyLock;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{MAX_RECORDED_US, new_histogram};

/// The bucket layout every latency histogram shares: which values an HDR histogram of
/// 3 significant digits (lowest value 1) counts together depends on nothing else, so
/// one empty histogram answers "lowest / highest / median equivalent" for all.
static BUCKETS: LazyLock<Histogram<u64>> = LazyLock::new(new_histogram);

/// A few values (µs) sorted, capped as [`super::record_us`] caps them: what a
/// histogram of them would answer, without building one.
///
/// Building a histogram for a window of a few hundred entries zeroes and scans a
/// counts array of thousands of slots; the overview asks this of every endpoint at
/// every refresh. Sorting the entries and reading ranks gives exactly the same
/// numbers (the same buckets, the same quantile rule, the same order of the mean's
/// sum) for a fraction of the cost; `tests::sorted_values_answer_as_a_histogram_does`
/// holds the two together.
struct Sorted<'a>(&'a [u32]);

/// Sorts `values` (none above `highest`) ascending: a least-significant-byte radix
/// sort, one pass per byte that `highest` needs (three for latencies under 16 s),
/// several times faster than a comparison sort for the few hundred values of a
/// window; short slices take the comparison sort.
fn radix_sort(values: &mut [u32], highest: u32) {
    if values.len() < 64 {
        values.sort_unstable();
        return;
    }
    let passes = (32 - highest.leading_zeros()).div_ceil(8);
    let mut scratch = vec![0u32; values.len()];
    let (mut from, mut to) = (&mut *values, &mut scratch[..]);
    for pass in 0..passes {
        let shift = pass * 8;
        let mut counts = [0usize; 256];
        for &v in from.iter() {
            counts[((v >> shift) & 0xFF) as usize] += 1;
        }
        let mut start = 0;
        for count in counts.iter_mut() {
            (*count, start) = (start, start + *count);
        }
        for &v in from.iter() {
            let slot = &mut counts[((v >> shift) & 0xFF) as usize];
            to[*slot] = v;
            *slot += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    // After an odd number of passes the sorted values are in the scratch.
    if passes % 2 == 1 {
        values.copy_from_slice(&scratch);
    }
}

impl<'a> Sorted<'a> {
    fn new(values: &'a mut [u32]) -> Self {
        let mut highest = 0;
        for v in values.iter_mut() {
            *v = (*v).min(MAX_RECORDED_US as u32);
            highest = highest.max(*v);
        }
        radix_sort(values, highest);
        Sorted(values)
    }

    /// `Histogram::value_at_quantile` for `quantile` in (0, 1]: the highest value
    /// equivalent to the one at the quantile's rank.
    fn at(&self, quantile: f64) -> u64 {
        let n = self.0.len();
        let rank = ((quantile.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        BUCKETS.highest_equivalent(u64::from(self.0[rank - 1]))
    }

    /// `Histogram::mean`: every bucket's median equivalent weighted by its count,
    /// summed from the lowest bucket up, as the histogram sums it.
    fn mean(&self) -> f64 {
        let n = self.0.len() as f64;
        let mut total = 0.0_f64;
        let mut values = self.0.iter().peekable();
        while let Some(&first) = values.next() {
            let bucket = BUCKETS.lowest_equivalent(u64::from(first));
            let mut count = 1u64;
            while values
                .next_if(|&&v| BUCKETS.lowest_equivalent(u64::from(v)) == bucket)
                .is_some()
            {
                count += 1;
            }
            total += BUCKETS.median_equivalent(bucket) as f64 * count as f64 / n;
        }
        total
    }
}

/// The latencies of one span of a window counted by bucket, kept up to date by adding
/// the probes that entered the span and taking away those that left it (see
/// [`super::Window::tally`]), so a refresh that finds one new probe per endpoint costs
/// a few bucket updates instead of sorting the span again.
///
/// Reading it costs next to nothing more: the mean comes from a running sum, and each
/// quantile from a cursor that stays on its bucket from one read to the next (one new
/// probe moves a rank by a step or two), so a read touches a few buckets, not all of
/// them; with thousands of endpoints a refresh is bound by the memory it touches.
///
/// It answers exactly what a histogram of the span's latencies would: the buckets are
/// the histogram's own, with the same quantile rule, and the mean is the histogram's
/// sum in the same order whenever rounding could tell the two apart (see
/// [`SpanTally::mean_ms`]); `tests::a_tally_answers_as_sorted_values_do` and
/// `stats::window::tests::a_tally_answers_as_the_span_sorted_again_does` hold them
/// together.
#[derive(Debug, Clone, Default)]
pub struct SpanTally {
    /// Which window it counts ([`super::Window`]'s id; 0 before the first count).
    pub(super) window: u64,
    /// The span it counts.
    pub(super) span: std::time::Duration,
    /// The window's entries it counts, by push sequence number: `[lo, hi)`.
    pub(super) lo: u64,
    pub(super) hi: u64,
    /// When the oldest probe counted finished (deciseconds since the start).
    pub(super) oldest_ds: Option<u32>,
    probes: u64,
    ok: u64,
    /// Every bucket holding a latency, in ascending order.
    buckets: Vec<Bucket>,
    latencies: u64,
    /// The sum of every latency's bucket median equivalent, in µs: exact (integers),
    /// so adding and taking away never drifts.
    median_sum: u64,
    /// Where p50, p90, p99 and p99.9 were found at the last read.
    cursors: [Cursor; QUANTILES.len()],
}

/// The quantiles a [`LatencySummary`] reports, in its order.
const QUANTILES: [f64; 4] = [0.50, 0.90, 0.99, 0.999];

/// A position among a [`SpanTally`]'s buckets, kept true as buckets change: `at` is
/// a bucket's index (at most their count) and `below` the latencies in the buckets
/// before it.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    at: usize,
    below: u64,
}

/// One bucket of a [`SpanTally`]. Eight bytes: with thousands of endpoints a
/// refresh searches and shifts every endpoint's buckets, and memory, not
/// arithmetic, sets its pace (a precomputed median per bucket made it slower).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Its lowest equivalent value, in µs.
    key: u32,
    /// Latencies in it.
    count: u32,
}

impl Bucket {
    fn new(key: u32, count: u32) -> Self {
        Bucket { key, count }
    }
}

impl SpanTally {
    /// Starts over: `window`'s entries from `lo` on, none counted yet.
    pub(super) fn restart(&mut self, window: u64, span: std::time::Duration, lo: u64) {
        *self = SpanTally {
            window,
            span,
            lo,
            hi: lo,
            buckets: std::mem::take(&mut self.buckets),
            ..SpanTally::default()
        };
        self.buckets.clear();
    }

    /// Counts the probes of a span at once, after [`SpanTally::restart`]: their
    /// latencies sorted (as [`LatencySummary::of_values`] sorts them) and counted by
    /// bucket, cheaper than adding them one by one.
    pub(super) fn fill(&mut self, probes: impl Iterator<Item = (bool, Option<u32>)>) {
        let mut latencies = Vec::new();
        for (ok, latency_us) in probes {
            self.probes += 1;
            self.ok += u64::from(ok);
            latencies.extend(latency_us);
        }
        let sorted = Sorted::new(&mut latencies);
        for &us in sorted.0 {
            let key = bucket_of(us);
            match self.buckets.last_mut() {
                Some(last) if last.key == key => last.count += 1,
                _ => self.buckets.push(Bucket::new(key, 1)),
            }
        }
        self.median_sum += self
            .buckets
            .iter()
            .map(|b| median_of(b.key) * u64::from(b.count))
            .sum::<u64>();
        self.latencies += sorted.0.len() as u64;
        self.place_cursors();
    }

    /// Puts every cursor on its quantile's bucket in one walk (after a fill, where
    /// each would otherwise walk up from the lowest bucket on its own).
    fn place_cursors(&mut self) {
        let n = self.latencies;
        let mut cursor = Cursor::default();
        for (q, placed) in QUANTILES.iter().zip(&mut self.cursors) {
            if n == 0 {
                break;
            }
            find(&self.buckets, &mut cursor, rank_of(*q, n));
            *placed = cursor;
        }
    }

    /// Takes away a probe that left the span and counts one that entered it: what
    /// [`SpanTally::remove`] then [`SpanTally::add`] do, with one pass over the
    /// buckets to find both (with thousands of endpoints, a refresh at 1 Hz is one
    /// of these per endpoint, and the passes over cold buckets are most of its cost).
    pub(super) fn replace(&mut self, gone: (bool, Option<u32>), entered: (bool, Option<u32>)) {
        // Two latencies in different buckets; otherwise (no latency, or the same
        // bucket: its count goes down and up again, and an emptied bucket comes
        // back) the two plain steps.
        let keys = match (gone.1, entered.1) {
            (Some(g), Some(e)) => Some((bucket_of(g), bucket_of(e))).filter(|(g, e)| g != e),
            _ => None,
        };
        let Some((gone_key, entered_key)) = keys else {
            self.remove(gone.0, gone.1);
            self.add(entered.0, entered.1);
            return;
        };
        let (gone_at, entered_at) = search_pair(&self.buckets, gone_key, entered_key);
        let removed = self.remove_found(gone.0, gone_at);
        // The bucket taken out was below the entered one's place: one fewer before it.
        let entered_at = if removed && gone_key < entered_key {
            entered_at.map(|at| at - 1).map_err(|at| at - 1)
        } else {
            entered_at
        };
        self.add_found(entered.0, entered_key, entered_at);
    }

    /// Counts a probe that entered the span.
    pub(super) fn add(&mut self, ok: bool, latency_us: Option<u32>) {
        match latency_us {
            Some(us) => {
                let key = bucket_of(us);
                self.add_found(ok, key, search(&self.buckets, key));
            }
            None => {
                self.probes += 1;
                self.ok += u64::from(ok);
            }
        }
    }

    /// [`SpanTally::add`] of a latency in bucket `key`, found among the buckets
    /// (`Ok`) or to go in at its place (`Err`), as [`search`] answers.
    fn add_found(&mut self, ok: bool, key: u32, found: Result<usize, usize>) {
        self.probes += 1;
        self.ok += u64::from(ok);
        let (at, new) = match found {
            Ok(at) => {
                self.buckets[at].count += 1;
                (at, false)
            }
            Err(at) => {
                self.buckets.insert(at, Bucket::new(key, 1));
                (at, true)
            }
        };
        // A latency below a cursor's bucket (a new bucket at its place is below it
        // too) moves what is below it; a new bucket shifts its index.
        for c in &mut self.cursors {
            if at < c.at || (new && at == c.at) {
                c.below += 1;
                c.at += usize::from(new);
            }
        }
        self.median_sum += median_of(key);
        self.latencies += 1;
    }

    /// Takes away a probe that left the span (one that [`SpanTally::add`] counted).
    pub(super) fn remove(&mut self, ok: bool, latency_us: Option<u32>) {
        match latency_us {
            Some(us) => {
                self.remove_found(ok, search(&self.buckets, bucket_of(us)));
            }
            None => {
                self.probes -= 1;
                self.ok -= u64::from(ok);
            }
        }
    }

    /// [`SpanTally::remove`] of a latency whose bucket [`search`] answered `found`
    /// for; says whether the bucket, emptied, was taken out.
    fn remove_found(&mut self, ok: bool, found: Result<usize, usize>) -> bool {
        self.probes -= 1;
        self.ok -= u64::from(ok);
        let Ok(at) = found else {
            return false;
        };
        let key = self.buckets[at].key;
        self.buckets[at].count -= 1;
        let gone = self.buckets[at].count == 0;
        if gone {
            self.buckets.remove(at);
        }
        // A cursor on the emptied bucket now stands on the next one, with the same
        // latencies below it.
        for c in &mut self.cursors {
            if at < c.at {
                c.below -= 1;
                c.at -= usize::from(gone);
            }
        }
        self.median_sum -= median_of(key);
        self.latencies -= 1;
        gone
    }

    /// The last moment (deciseconds since the start) at which what it counts is
    /// still the span's without new probes: after it, its oldest probe leaves.
    /// `u32::MAX` when it counts none (none can enter as time passes).
    pub fn unchanged_until(&self) -> u32 {
        self.oldest_ds.map_or(u32::MAX, |oldest| {
            oldest.saturating_add(super::duration_to_ds(self.span))
        })
    }

    /// Probes, successes and latency of what it counts.
    pub fn summary(&mut self) -> SpanSummary {
        SpanSummary {
            probes: self.probes,
            ok: self.ok,
            latency: self.latency(),
        }
    }

    fn latency(&mut self) -> Option<LatencySummary> {
        let (lowest, highest) = (self.buckets.first()?.key, self.buckets.last()?.key);
        let n = self.latencies;
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let ranks = QUANTILES.map(|q| rank_of(q, n));
        let mut at = [0u64; QUANTILES.len()];
        for ((cursor, rank), at) in self.cursors.iter_mut().zip(ranks).zip(&mut at) {
            let key = find(&self.buckets, cursor, rank);
            *at = BUCKETS.highest_equivalent(u64::from(key));
        }
        Some(LatencySummary {
            min: ms(u64::from(lowest)),
            mean: self.mean_ms(),
            p50: ms(at[0]),
            p90: ms(at[1]),
            p99: ms(at[2]),
            p999: ms(at[3]),
            max: ms(BUCKETS.highest_equivalent(u64::from(highest))),
        })
    }

    /// The mean in milliseconds, rounded as [`LatencySummary`] rounds it, from the
    /// exact sum: the same as `Histogram::mean` (each bucket's median equivalent
    /// times its count over the total, summed from the lowest bucket up) rounded,
    /// because that sum's rounding errors, at most an ulp of the mean per bucket,
    /// cannot carry it across a rounding boundary unless the exact mean lies within
    /// them of one; then (a mean of exactly x.5 µs, mostly) it is summed as the
    /// histogram sums it.
    fn mean_ms(&self) -> f64 {
        let n = self.latencies;
        let (whole, rest) = (self.median_sum / n, self.median_sum % n);
        // How far the exact mean lies from the half between two microseconds, in
        // units of 1 / (2n) µs; and how far the histogram's sum may stray, in the
        // same units (four times the bound, for the divisions around the rounding).
        let from_half = (2 * u128::from(rest)).abs_diff(u128::from(n)) as f64;
        let stray = 4.0
            * (self.buckets.len() as f64 + 4.0)
            * (whole as f64 + 1.0)
            * f64::EPSILON
            * 2.0
            * n as f64;
        if from_half > stray {
            let rounded = whole + u64::from(2 * rest > n);
            return rounded as f64 / 1000.0;
        }
        let mut mean = 0.0_f64;
        for bucket in &self.buckets {
            mean += median_of(bucket.key) as f64 * f64::from(bucket.count) / n as f64;
        }
        round3(mean / 1000.0)
    }
}

/// Buckets up to which [`search`] counts through them rather than bisect.
const COUNTED: usize = 1024;

/// Where the bucket `key` is among `buckets` (`Ok`), or where it would go (`Err`), as
/// `binary_search` answers. A few hundred buckets are counted through instead: a
/// binary search over an endpoint's buckets, cold with thousands of endpoints,
/// waits for one cache miss after another, where a straight pass streams them.
fn search(buckets: &[Bucket], key: u32) -> Result<usize, usize> {
    if buckets.len() > COUNTED {
        return buckets.binary_search_by_key(&key, |b| b.key);
    }
    let at = buckets.iter().filter(|b| b.key < key).count();
    match buckets.get(at) {
        Some(b) if b.key == key => Ok(at),
        _ => Err(at),
    }
}

/// [`search`] for two keys in one pass over `buckets`.
fn search_pair(
    buckets: &[Bucket],
    first: u32,
    second: u32,
) -> (Result<usize, usize>, Result<usize, usize>) {
    if buckets.len() > COUNTED {
        return (search(buckets, first), search(buckets, second));
    }
    let (below_first, below_second) = buckets.iter().fold((0, 0), |(f, s), b| {
        (
            f + usize::from(b.key < first),
            s + usize::from(b.key < second),
        )
    });
    let placed = |at: usize, key: u32| match buckets.get(at) {
        Some(b) if b.key == key => Ok(at),
        _ => Err(at),
    };
    (placed(below_first, first), placed(below_second, second))
}

/// The rank (1 ..= `n`) of quantile `q` among `n` latencies, by the histogram's
/// rule.
fn rank_of(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n)
}

/// The key of the bucket holding the latency of rank `rank` (1 ..= all of them),
/// moving `cursor` there from where it stood.
fn find(buckets: &[Bucket], cursor: &mut Cursor, rank: u64) -> u32 {
    loop {
        if cursor.below >= rank {
            // Latencies below it: at least one bucket is.
            cursor.at -= 1;
            cursor.below -= u64::from(buckets[cursor.at].count);
        } else if cursor.below + u64::from(buckets[cursor.at].count) < rank {
            // Fewer below and in it than the rank: a bucket above it holds the rest.
            cursor.below += u64::from(buckets[cursor.at].count);
            cursor.at += 1;
        } else {
            return buckets[cursor.at].key;
        }
    }
}

/// The median equivalent of the bucket whose lowest value is `key`: the value
/// `Histogram::mean` weighs that bucket's count by.
fn median_of(key: u32) -> u64 {
    BUCKETS.median_equivalent(u64::from(key))
}

/// The bucket a latency counts in: its lowest equivalent value, capped as
/// [`super::record_us`] caps it.
fn bucket_of(us: u32) -> u32 {
    let capped = u64::from(us).min(MAX_RECORDED_US);
    u32::try_from(BUCKETS.lowest_equivalent(capped)).unwrap_or(u32::MAX)
}

/// Latency summary in milliseconds, read from a histogram of microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct LatencySummary {
    /// Lowest value.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Highest value.
    pub max: f64,
}

impl LatencySummary {
    /// The names of its fields, in order: also the keys of its JSON object.
    pub const FIELDS: [&'static str; 7] = ["min", "mean", "p50", "p90", "p99", "p999", "max"];

    /// Its values, in the order of [`LatencySummary::FIELDS`].
    pub fn values(&self) -> [f64; 7] {
        [
            self.min, self.mean, self.p50, self.p90, self.p99, self.p999, self.max,
        ]
    }

    /// The summary of `histogram`, or `None` when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        // One pass over the counts for all four (the same values as one call each).
        let mut at = histogram.value_at_quantiles([0.50, 0.90, 0.99, 0.999]);
        let mut next = || ms(at.next().unwrap_or(0));
        let (p50, p90, p99, p999) = (next(), next(), next(), next());
        Some(LatencySummary {
            min: ms(histogram.min()),
            mean: round3(histogram.mean() / 1000.0),
            p50,
            p90,
            p99,
            p999,
            max: ms(histogram.max()),
        })
    }

    /// The summary a histogram of `values` (µs) would give, computed from the values
    /// themselves (they are reordered), or `None` without any.
    pub fn of_values(values: &mut [u32]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let sorted = Sorted::new(values);
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let (lowest, highest) = (sorted.0[0], sorted.0[sorted.0.len() - 1]);
        Some(LatencySummary {
            min: ms(BUCKETS.lowest_equivalent(u64::from(lowest))),
            mean: round3(sorted.mean() / 1000.0),
            p50: ms(sorted.at(0.50)),
            p90: ms(sorted.at(0.90)),
            p99: ms(sorted.at(0.99)),
            p999: ms(sorted.at(0.999)),
            max: ms(BUCKETS.highest_equivalent(u64::from(highest))),
        })
    }
}

/// Probes, successes and latency over a span of time.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSummary {
    /// Finished probes.
    pub probes: u64,
    /// Successful probes.
    pub ok: u64,
    /// Latency of the complete responses, or `None` without any.
    pub latency: Option<LatencySummary>,
}

/// How often a phase happened and its percentiles in milliseconds (`None` when it
/// never happened).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct PhaseSummary {
    /// Times it happened.
    pub count: u64,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl PhaseSummary {
    /// The summary of `histogram` (microseconds).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let count = histogram.len();
        if count == 0 {
            return PhaseSummary::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let mut at = histogram.value_at_quantiles([0.50, 0.90, 0.99]);
        let mut next = || Some(ms(at.next().unwrap_or(0)));
        let (p50, p90, p99) = (next(), next(), next());
        PhaseSummary {
            count,
            p50,
            p90,
            p99,
        }
    }

    /// The summary a histogram of `values` (µs) would give, computed from the values
    /// themselves (they are reordered).
    pub fn of_values(values: &mut [u32]) -> Self {
        if values.is_empty() {
            return PhaseSummary::default();
        }
        let sorted = Sorted::new(values);
        let ms = |us: u64| Some(round3(us as f64 / 1000.0));
        PhaseSummary {
            count: sorted.0.len() as u64,
            p50: ms(sorted.at(0.50)),
            p90: ms(sorted.at(0.90)),
            p99: ms(sorted.at(0.99)),
        }
    }
}

/// Rounds to three decimals: microsecond resolution for millisecond values.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = crate::stats::new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 100).unwrap();
        }
        let s = LatencySummary::of(&h).unwrap();
        assert_eq!(s.min, 0.1);
        assert!((s.p50 - 50.0).abs() < 0.05, "{s:?}");
        assert!((s.p99 - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
        assert!(LatencySummary::of(&crate::stats::new_histogram()).is_none());
    }

    #[test]
    fn sorted_values_answer_as_a_histogram_does() {
        // A fixed-seed generator: the same cases every run, spread over every bucket
        // size from single microseconds to the cap (and beyond it).
        let mut next = crate::stats::test_rng(0x9E37_79B9_7F4A_7C15_u64);
        for case in 0..400 {
            let len = (next() % 700) as usize + usize::from(case % 50 == 0);
            let scale = 1u64 << (next() % 33);
            let mut values: Vec<u32> = (0..len)
                .map(|_| (next() % scale.max(1)).min(u64::from(u32::MAX - 1)) as u32)
                .collect();
            if case % 7 == 0 {
                values.push(0);
            }
            let mut histogram = new_histogram();
            for &v in &values {
                crate::stats::record_us(&mut histogram, u64::from(v));
            }
            let expected = (LatencySummary::of(&histogram), PhaseSummary::of(&histogram));
            let got = (
                LatencySummary::of_values(&mut values.clone()),
                PhaseSummary::of_values(&mut values),
            );
            assert_eq!(got, expected, "case {case}");
        }
        assert_eq!(LatencySummary::of_values(&mut []), None);
        assert_eq!(PhaseSummary::of_values(&mut []), PhaseSummary::default());
    }

    /// A tally's answer after `values` were added to it one by one and `gone` taken
    /// away again, next to the histogram of what is left.
    fn tally_and_histogram(values: &[u32], gone: &[u32]) -> (SpanSummary, SpanSummary) {
        let mut tally = SpanTally::default();
        let mut left = values.to_vec();
        for &v in values {
            tally.add(true, Some(v));
        }
        for &v in gone {
            tally.remove(true, Some(v));
            let at = left.iter().position(|&l| l == v).unwrap();
            left.remove(at);
        }
        let mut histogram = new_histogram();
        for &v in &left {
            crate::stats::record_us(&mut histogram, u64::from(v));
        }
        let expected = SpanSummary {
            probes: left.len() as u64,
            ok: left.len() as u64,
            latency: LatencySummary::of(&histogram),
        };
        (tally.summary(), expected)
    }

    #[test]
    fn a_tally_answers_as_sorted_values_do() {
        // Means of exactly x.5 µs, where only the histogram's own sum tells which way
        // it rounds; the same values summed in another order might round the other.
        for values in [
            &[100, 101][..],
            &[1, 2],
            &[2047, 2048, 2050, 2052],
            &[4_000_001, 4_000_003, 7, 8],
            &[0, 1, 1, 1],
        ] {
            let (got, expected) = tally_and_histogram(values, &[]);
            assert_eq!(got, expected, "{values:?}");
        }
        // Random adds and removals, reading in between, so the quantiles' cursors move
        // both ways and over buckets that come and go.
        let mut next = crate::stats::test_rng(0x51A7_7A11_0000_0001_u64);
        for case in 0..200 {
            let mut tally = SpanTally::default();
            let mut kept: std::collections::VecDeque<u32> = Default::default();
            let scale = 1u64 << (next() % 28);
            for step in 0..300 {
                let leave = !kept.is_empty() && next().is_multiple_of(3);
                if leave && next().is_multiple_of(2) {
                    // One leaves and one enters, found in one pass.
                    let gone = kept.pop_front().unwrap();
                    let v = (next() % scale.max(1)) as u32;
                    let v = if case % 4 == 0 { v % 5 } else { v };
                    kept.push_back(v);
                    tally.replace((true, Some(gone)), (true, Some(v)));
                } else if leave {
                    let v = kept.pop_front().unwrap();
                    tally.remove(true, Some(v));
                } else {
                    // Few distinct values now and then: many latencies in one bucket.
                    let v = (next() % scale.max(1)) as u32;
                    let v = if case % 4 == 0 { v % 5 } else { v };
                    kept.push_back(v);
                    tally.add(true, Some(v));
                }
                if next().is_multiple_of(4) || step == 299 {
                    let mut values: Vec<u32> = kept.iter().copied().collect();
                    assert_eq!(
                        tally.summary().latency,
                        LatencySummary::of_values(&mut values),
                        "case {case}, step {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn fields_name_the_values_as_serde_does() {
        let mut h = crate::stats::new_histogram();
        for us in [100u64, 2_000, 30_000] {
            h.record(us).unwrap();
        }
        let s = LatencySummary::of(&h).unwrap();
        let json = serde_json::to_value(s).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), LatencySummary::FIELDS.len());
        for (key, value) in LatencySummary::FIELDS.iter().zip(s.values()) {
            assert_eq!(json[key].as_f64(), Some(value), "{key}");
        }
    }
}
