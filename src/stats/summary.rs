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

/// The latencies of one span of a window, kept up to date by adding the probes that
/// entered the span and taking away those that left it (see [`super::Window::tally`]),
/// so a refresh that finds one new probe per endpoint costs a short shift of a small
/// array instead of sorting the span again.
///
/// It keeps each latency's histogram bucket, as a two-byte bucket index
/// ([`bucket_index`]), in ascending order: a quantile is then the entry at its rank,
/// and the mean comes from an exact running sum. With thousands of endpoints a
/// refresh is bound by the memory it touches, so the array is as small as the
/// histogram's buckets allow (300 latencies are 600 bytes, a quarter of what a list of
/// buckets with their counts took), a probe that left and one that entered are found
/// in one pass over it, and only the entries between the two move.
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
    /// The bucket index of every latency counted, ascending.
    sorted: Vec<u16>,
    /// The sum of every latency's bucket median equivalent, in µs: exact (integers),
    /// so adding and taking away never drifts.
    median_sum: u64,
}

impl SpanTally {
    /// Starts over: `window`'s entries from `lo` on, none counted yet.
    pub(super) fn restart(&mut self, window: u64, span: std::time::Duration, lo: u64) {
        *self = SpanTally {
            window,
            span,
            lo,
            hi: lo,
            sorted: std::mem::take(&mut self.sorted),
            ..SpanTally::default()
        };
        self.sorted.clear();
    }

    /// Counts the probes of a span at once, after [`SpanTally::restart`]: their
    /// latencies sorted (as [`LatencySummary::of_values`] sorts them), cheaper than
    /// adding them one by one.
    pub(super) fn fill(&mut self, probes: impl Iterator<Item = (bool, Option<u32>)>) {
        let mut latencies = Vec::new();
        for (ok, latency_us) in probes {
            self.probes += 1;
            self.ok += u64::from(ok);
            latencies.extend(latency_us);
        }
        // The bucket index grows with the value, so the values' order is theirs.
        let sorted = Sorted::new(&mut latencies);
        self.sorted
            .extend(sorted.0.iter().map(|&us| bucket_index(us)));
        self.median_sum += self.sorted.iter().map(|&i| median_of(i)).sum::<u64>();
    }

    /// Takes away a probe that left the span and counts one that entered it: what
    /// [`SpanTally::remove`] then [`SpanTally::add`] do, with one pass over the array
    /// to find both and one shift of the entries between them (with thousands of
    /// endpoints, a refresh at 1 Hz is one of these per endpoint, and the memory it
    /// touches is most of its cost).
    pub(super) fn replace(&mut self, gone: (bool, Option<u32>), entered: (bool, Option<u32>)) {
        let (Some(gone_us), Some(entered_us)) = (gone.1, entered.1) else {
            self.remove(gone.0, gone.1);
            self.add(entered.0, entered.1);
            return;
        };
        let (g, e) = (bucket_index(gone_us), bucket_index(entered_us));
        let (at_gone, at_entered) = positions(&self.sorted, g, e);
        if self.sorted.get(at_gone) != Some(&g) {
            // Not counted (it cannot happen while the window feeds it in order): the
            // entered one is still counted, as `remove` then `add` would.
            self.remove(gone.0, None);
            self.add(entered.0, entered.1);
            return;
        }
        self.ok = self.ok - u64::from(gone.0) + u64::from(entered.0);
        // Below the entered one's place: the entries between move down one, and it
        // goes just under them; above it: they move up one, and it goes at its place.
        if g < e {
            self.sorted.copy_within(at_gone + 1..at_entered, at_gone);
            self.sorted[at_entered - 1] = e;
        } else if g > e {
            self.sorted.copy_within(at_entered..at_gone, at_entered + 1);
            self.sorted[at_entered] = e;
        }
        self.median_sum = self.median_sum - median_of(g) + median_of(e);
    }

    /// Counts a probe that entered the span.
    pub(super) fn add(&mut self, ok: bool, latency_us: Option<u32>) {
        self.probes += 1;
        self.ok += u64::from(ok);
        if let Some(us) = latency_us {
            let i = bucket_index(us);
            let at = positions(&self.sorted, i, i).0;
            self.sorted.insert(at, i);
            self.median_sum += median_of(i);
        }
    }

    /// Takes away a probe that left the span (one that [`SpanTally::add`] counted).
    pub(super) fn remove(&mut self, ok: bool, latency_us: Option<u32>) {
        self.probes -= 1;
        self.ok -= u64::from(ok);
        if let Some(us) = latency_us {
            let i = bucket_index(us);
            let at = positions(&self.sorted, i, i).0;
            if self.sorted.get(at) == Some(&i) {
                self.sorted.remove(at);
                self.median_sum -= median_of(i);
            }
        }
    }

    /// Asks the CPU for its entries (see [`super::prefetch`]).
    pub(super) fn prefetch(&self) {
        super::prefetch_all(&self.sorted[..]);
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
    pub fn summary(&self) -> SpanSummary {
        SpanSummary {
            probes: self.probes,
            ok: self.ok,
            latency: self.latency(),
        }
    }

    fn latency(&self) -> Option<LatencySummary> {
        let (&lowest, &highest) = (self.sorted.first()?, self.sorted.last()?);
        let n = self.sorted.len() as u64;
        // What `round3(us / 1000)` gives for whole microseconds, without the
        // rounding (a library call here, and seven of them per row):
        // `tests::whole_microseconds_need_no_rounding`.
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| {
            let rank = usize::try_from(rank_of(q, n)).unwrap_or(usize::MAX);
            ms(highest_of(self.sorted[rank.min(self.sorted.len()) - 1]))
        };
        Some(LatencySummary {
            min: ms(lowest_of(lowest)),
            mean: self.mean_ms(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: ms(highest_of(highest)),
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
        let n = self.sorted.len() as u64;
        let (whole, rest) = (self.median_sum / n, self.median_sum % n);
        // How far the exact mean lies from the half between two microseconds, in
        // units of 1 / (2n) µs; and how far the histogram's sum may stray, in the
        // same units (four times the bound, for the divisions around the rounding;
        // every latency counted as a bucket of its own, at least as many as there are).
        let from_half = (2 * u128::from(rest)).abs_diff(u128::from(n)) as f64;
        let stray = 4.0 * (n as f64 + 4.0) * (whole as f64 + 1.0) * f64::EPSILON * 2.0 * n as f64;
        if from_half > stray {
            let rounded = whole + u64::from(2 * rest > n);
            return rounded as f64 / 1000.0;
        }
        let mut mean = 0.0_f64;
        for bucket in self.sorted.chunk_by(|a, b| a == b) {
            mean += median_of(bucket[0]) as f64 * bucket.len() as f64 / n as f64;
        }
        round3(mean / 1000.0)
    }
}

/// Entries up to which [`positions`] counts through them rather than bisect.
const COUNTED: usize = 2048;

/// How many of `sorted` are below `first`, and how many below `second`: where each
/// is (or would go), as `partition_point` answers. A few hundred entries are counted
/// through in one pass instead: a binary search over an endpoint's array, cold with
/// thousands of endpoints, waits for one cache miss after another, where a straight
/// pass streams it (and the compiler makes it a few vector steps).
fn positions(sorted: &[u16], first: u16, second: u16) -> (usize, usize) {
    if sorted.len() > COUNTED {
        return (
            sorted.partition_point(|&i| i < first),
            sorted.partition_point(|&i| i < second),
        );
    }
    // Counted in two-byte lanes (a chunk's count fits one), eight entries to a
    // vector step; `usize` lanes would take four.
    sorted.chunks(1 << 15).fold((0, 0), |(f, s), chunk| {
        let (below_first, below_second) = chunk.iter().fold((0u16, 0u16), |(f, s), &i| {
            (f + u16::from(i < first), s + u16::from(i < second))
        });
        (f + usize::from(below_first), s + usize::from(below_second))
    })
}

/// The rank (1 ..= `n`) of quantile `q` among `n` latencies, by the histogram's
/// rule.
fn rank_of(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n)
}

/// Values below it are buckets of their own (1 µs wide); above, each power of two
/// is split into half as many buckets: the layout of a histogram of 3 significant
/// digits with a lowest value of 1 ([`BUCKETS`]).
const SUB_BUCKETS: u32 = 2048;

/// The index of the histogram bucket a latency counts in (capped as
/// [`super::record_us`] caps it), in ascending order of the buckets: below
/// [`SUB_BUCKETS`] the value itself, above it `1024 · m + (value >> m)`, where `m`
/// is how many times the value halves to come under [`SUB_BUCKETS`]. The cap's
/// index, 23,551, fits two bytes.
fn bucket_index(us: u32) -> u16 {
    let v = u64::from(us).min(MAX_RECORDED_US) as u32;
    let index = if v < SUB_BUCKETS {
        v
    } else {
        let m = (31 - v.leading_zeros()) - (SUB_BUCKETS.trailing_zeros() - 1);
        SUB_BUCKETS / 2 * m + (v >> m)
    };
    index as u16
}

/// The halvings and the lowest value of the bucket of index `index`.
fn bucket_of_index(index: u16) -> (u32, u32) {
    let i = u32::from(index);
    if i < SUB_BUCKETS {
        return (0, i);
    }
    let m = i / (SUB_BUCKETS / 2) - 1;
    (m, (i - SUB_BUCKETS / 2 * m) << m)
}

/// The lowest value of a bucket, in µs: `Histogram::lowest_equivalent`.
fn lowest_of(index: u16) -> u64 {
    u64::from(bucket_of_index(index).1)
}

/// The highest value of a bucket, in µs: `Histogram::highest_equivalent`.
fn highest_of(index: u16) -> u64 {
    let (m, lowest) = bucket_of_index(index);
    u64::from(lowest) + (1u64 << m) - 1
}

/// The median equivalent of a bucket: the value `Histogram::mean` weighs that
/// bucket's count by.
fn median_of(index: u16) -> u64 {
    let (m, lowest) = bucket_of_index(index);
    u64::from(lowest) + ((1u64 << m) >> 1)
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
    fn whole_microseconds_need_no_rounding() {
        // x = us / 1000 lies within half an ulp of the exact quotient, so x · 1000 is
        // within a few ulps of us, which rounds back to us, and us / 1000 is x again:
        // every bucket's edges up to 2^22, then random values and powers of two up to
        // the cap.
        let mut values: Vec<u64> = (0..1 << 22).collect();
        let mut next = crate::stats::test_rng(0x0D1D_5EC0_u64);
        values.extend((0..1_000_000).map(|_| next() % (MAX_RECORDED_US + 1)));
        values.extend((0..33).flat_map(|shift| [(1u64 << shift) - 1, 1 << shift]));
        for us in values {
            let x = us as f64 / 1000.0;
            assert_eq!(round3(x).to_bits(), x.to_bits(), "{us}");
        }
    }

    #[test]
    fn bucket_indices_follow_the_histograms_buckets() {
        // Every bucket's edges up to 2^20, then random values and the edges of every
        // power of two up to the cap (and past it, where values are capped).
        let mut values: Vec<u32> = (0..1 << 20).collect();
        let mut next = crate::stats::test_rng(0xB0C4_E71D_u64);
        values.extend((0..100_000).map(|_| (next() % (1 << (next() % 33))) as u32));
        for shift in 11..32 {
            values.extend([(1u32 << shift) - 1, 1 << shift, (1 << shift) + 1]);
        }
        values.extend([3_599_999_999, 3_600_000_000, 3_600_000_001, u32::MAX]);
        let mut previous = None;
        values.sort_unstable();
        for v in values {
            let capped = u64::from(v).min(MAX_RECORDED_US);
            let i = bucket_index(v);
            assert_eq!(lowest_of(i), BUCKETS.lowest_equivalent(capped), "{v}");
            assert_eq!(highest_of(i), BUCKETS.highest_equivalent(capped), "{v}");
            assert_eq!(median_of(i), BUCKETS.median_equivalent(capped), "{v}");
            // Ascending with the values, one index per bucket.
            if let Some((pv, pi)) = previous {
                let same = BUCKETS.lowest_equivalent(pv) == BUCKETS.lowest_equivalent(capped);
                assert_eq!(pi == i, same, "{pv} and {v}");
                assert!(pi <= i, "{pv} and {v}");
            }
            previous = Some((capped, i));
        }
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
