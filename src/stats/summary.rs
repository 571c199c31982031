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
/// With thousands of endpoints a refresh is bound by the memory it touches, not by
/// arithmetic, so the buckets are kept in chunks of at most [`CHUNK`], found through a
/// short ordered list of chunk heads (first key, buckets, latencies): adding or taking
/// away a latency reads the heads and one chunk, and a quantile walks the heads' counts
/// to its chunk and then that chunk; a flat list of a span's few hundred buckets was
/// read whole (to find a bucket) and half shifted (for a new or emptied one) at every
/// probe, which cost more than the rest of the row. The mean comes from an exact sum.
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
    /// The chunks of buckets in ascending order of their keys; none is empty.
    heads: Vec<Head>,
    /// The chunks' buckets, in no order (a head says which slot is its own).
    chunks: Vec<[Bucket; CHUNK]>,
    latencies: u64,
    /// The sum of every latency's bucket median equivalent, in µs: exact (integers),
    /// so adding and taking away never drifts.
    median_sum: u64,
}

/// The quantiles a [`LatencySummary`] reports, in its order.
const QUANTILES: [f64; 4] = [0.50, 0.90, 0.99, 0.999];

/// Buckets a chunk of a [`SpanTally`] holds at most: 256 bytes, four cache lines.
const CHUNK: usize = 32;

/// Buckets a chunk gets when a span is counted at once, leaving room for the probes
/// that enter it later; also the most that two chunks merge into.
const FILL: usize = CHUNK * 3 / 4;

/// A chunk this small after a removal merges with a neighbour that has room, so
/// that a span's buckets stay in few chunks.
const SPARSE: usize = CHUNK / 4;

/// One bucket of a [`SpanTally`]. Eight bytes: a precomputed median per bucket made
/// refreshes slower (more memory to read).
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Its lowest equivalent value, in µs.
    key: u32,
    /// Latencies in it.
    count: u32,
}

/// One chunk of a [`SpanTally`]'s buckets, as its ordered list sees it.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// The key of its lowest bucket.
    first: u32,
    /// Buckets in it (1 ..= [`CHUNK`]).
    len: u32,
    /// Latencies in it.
    count: u32,
    /// Where its buckets are in [`SpanTally::chunks`].
    slot: u32,
}

impl SpanTally {
    /// Starts over: `window`'s entries from `lo` on, none counted yet.
    pub(super) fn restart(&mut self, window: u64, span: std::time::Duration, lo: u64) {
        *self = SpanTally {
            window,
            span,
            lo,
            hi: lo,
            heads: std::mem::take(&mut self.heads),
            chunks: std::mem::take(&mut self.chunks),
            ..SpanTally::default()
        };
        self.heads.clear();
        self.chunks.clear();
    }

    /// Counts the probes of a span at once, after [`SpanTally::restart`]: their
    /// latencies sorted (as [`LatencySummary::of_values`] sorts them) and counted by
    /// bucket, cheaper than adding them one by one.
    pub(super) fn fill(&mut self, probes: impl Iterator<Item = (bool, Option<u32>)>) {
        // Sized once: grown probe by probe, it was copied again and again.
        let mut latencies = Vec::with_capacity(probes.size_hint().0);
        for (ok, latency_us) in probes {
            self.probes += 1;
            self.ok += u64::from(ok);
            latencies.extend(latency_us);
        }
        // Sorted, then turned into bucket keys in place (still ascending), so the
        // chunks can be sized before they are filled.
        Sorted::new(&mut latencies);
        for v in latencies.iter_mut() {
            *v = bucket_of(*v);
        }
        let keys = &latencies[..];
        let distinct = keys.len() - keys.windows(2).filter(|w| w[0] == w[1]).count();
        let chunks = distinct.div_ceil(FILL);
        self.heads.reserve_exact(chunks);
        self.chunks.reserve_exact(chunks);
        for &key in keys.iter() {
            self.median_sum += median_of(key);
            if let Some(head) = self.heads.last_mut() {
                let chunk = &mut self.chunks[head.slot as usize];
                let last = &mut chunk[head.len as usize - 1];
                if last.key == key {
                    last.count += 1;
                    head.count += 1;
                    continue;
                }
                if (head.len as usize) < FILL {
                    chunk[head.len as usize] = Bucket { key, count: 1 };
                    head.len += 1;
                    head.count += 1;
                    continue;
                }
            }
            self.push_chunk(self.heads.len(), &[Bucket { key, count: 1 }]);
        }
        self.latencies += keys.len() as u64;
    }

    /// Makes a chunk of `buckets` (at least one) and puts it at `at` among the heads.
    fn push_chunk(&mut self, at: usize, buckets: &[Bucket]) {
        let mut chunk = [Bucket::default(); CHUNK];
        chunk[..buckets.len()].copy_from_slice(buckets);
        let slot = self.chunks.len() as u32;
        self.chunks.push(chunk);
        self.heads.insert(
            at,
            Head {
                first: buckets[0].key,
                len: buckets.len() as u32,
                count: buckets.iter().map(|b| b.count).sum(),
                slot,
            },
        );
    }

    /// Drops the chunk at `at` among the heads (the last chunk moves to its slot).
    fn drop_chunk(&mut self, at: usize) {
        let slot = self.heads.remove(at).slot;
        let last = self.chunks.len() as u32 - 1;
        self.chunks.swap_remove(slot as usize);
        if slot != last
            && let Some(moved) = self.heads.iter_mut().find(|h| h.slot == last)
        {
            moved.slot = slot;
        }
    }

    /// The chunk that holds `key` or would: the last whose first key is at most
    /// `key`, or the first.
    fn chunk_of(&self, key: u32) -> usize {
        self.heads
            .partition_point(|h| h.first <= key)
            .saturating_sub(1)
    }

    /// Where `key` is in the chunk at `at` among the heads (`Ok`), or would go
    /// (`Err`). A chunk is counted through: it is a few cache lines, streamed.
    fn find_in(&self, at: usize, key: u32) -> Result<usize, usize> {
        let head = self.heads[at];
        let buckets = &self.chunks[head.slot as usize][..head.len as usize];
        let pos = buckets.iter().filter(|b| b.key < key).count();
        match buckets.get(pos) {
            Some(b) if b.key == key => Ok(pos),
            _ => Err(pos),
        }
    }

    /// Counts a probe that entered the span.
    pub(super) fn add(&mut self, ok: bool, latency_us: Option<u32>) {
        self.probes += 1;
        self.ok += u64::from(ok);
        let Some(us) = latency_us else { return };
        let key = bucket_of(us);
        self.median_sum += median_of(key);
        self.latencies += 1;
        if self.heads.is_empty() {
            self.push_chunk(0, &[Bucket { key, count: 1 }]);
            return;
        }
        let mut at = self.chunk_of(key);
        let mut found = self.find_in(at, key);
        if found.is_err() && self.heads[at].len as usize == CHUNK {
            // Full: its upper half becomes a chunk of its own.
            let head = self.heads[at];
            let mut upper = [Bucket::default(); CHUNK - CHUNK / 2];
            upper.copy_from_slice(&self.chunks[head.slot as usize][CHUNK / 2..]);
            self.heads[at].len = (CHUNK / 2) as u32;
            self.heads[at].count -= upper.iter().map(|b| b.count).sum::<u32>();
            self.push_chunk(at + 1, &upper);
            at = self.chunk_of(key);
            found = self.find_in(at, key);
        }
        let head = &mut self.heads[at];
        let chunk = &mut self.chunks[head.slot as usize];
        head.count += 1;
        match found {
            Ok(pos) => chunk[pos].count += 1,
            Err(pos) => {
                chunk.copy_within(pos..head.len as usize, pos + 1);
                chunk[pos] = Bucket { key, count: 1 };
                head.len += 1;
                if pos == 0 {
                    head.first = key;
                }
            }
        }
    }

    /// Takes away a probe that left the span (one that [`SpanTally::add`] counted).
    pub(super) fn remove(&mut self, ok: bool, latency_us: Option<u32>) {
        self.probes -= 1;
        self.ok -= u64::from(ok);
        let Some(us) = latency_us else { return };
        if self.heads.is_empty() {
            return;
        }
        let key = bucket_of(us);
        let at = self.chunk_of(key);
        let Ok(pos) = self.find_in(at, key) else {
            return;
        };
        self.median_sum -= median_of(key);
        self.latencies -= 1;
        let head = &mut self.heads[at];
        let chunk = &mut self.chunks[head.slot as usize];
        head.count -= 1;
        chunk[pos].count -= 1;
        if chunk[pos].count > 0 {
            return;
        }
        chunk.copy_within(pos + 1..head.len as usize, pos);
        head.len -= 1;
        if head.len == 0 {
            self.drop_chunk(at);
            return;
        }
        head.first = chunk[0].key;
        if head.len as usize <= SPARSE {
            let len = |h: &Head| h.len as usize;
            if self
                .heads
                .get(at + 1)
                .is_some_and(|next| len(next) + len(&self.heads[at]) <= FILL)
            {
                self.merge(at);
            } else if at > 0 && len(&self.heads[at - 1]) + len(&self.heads[at]) <= FILL {
                self.merge(at - 1);
            }
        }
    }

    /// Moves the buckets of the chunk after the one at `at` into it (they fit).
    fn merge(&mut self, at: usize) {
        let (into, from) = (self.heads[at], self.heads[at + 1]);
        let moved = self.chunks[from.slot as usize];
        let start = into.len as usize;
        self.chunks[into.slot as usize][start..start + from.len as usize]
            .copy_from_slice(&moved[..from.len as usize]);
        self.heads[at].len += from.len;
        self.heads[at].count += from.count;
        self.drop_chunk(at + 1);
    }

    /// Every bucket, in ascending order.
    fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.heads
            .iter()
            .flat_map(|h| &self.chunks[h.slot as usize][..h.len as usize])
    }

    /// The key of the bucket holding the latency of rank `rank` (1 ..= all of
    /// them): the heads' counts walked to its chunk, from the nearer end.
    fn key_at(&self, rank: u64) -> u32 {
        let chunk = |h: &Head| &self.chunks[h.slot as usize][..h.len as usize];
        if rank <= self.latencies / 2 {
            let mut below = 0u64;
            for head in &self.heads {
                if below + u64::from(head.count) < rank {
                    below += u64::from(head.count);
                    continue;
                }
                for b in chunk(head) {
                    below += u64::from(b.count);
                    if below >= rank {
                        return b.key;
                    }
                }
            }
        } else {
            // `through`: the latencies up to and including the chunk (bucket) looked at.
            let mut through = self.latencies;
            for head in self.heads.iter().rev() {
                let before = through - u64::from(head.count);
                if before >= rank {
                    through = before;
                    continue;
                }
                for b in chunk(head).iter().rev() {
                    let before = through - u64::from(b.count);
                    if before < rank {
                        return b.key;
                    }
                    through = before;
                }
            }
        }
        // Only with counts out of step with the buckets, which add and remove keep.
        self.buckets().last().map_or(0, |b| b.key)
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
        let (first, last) = (self.heads.first()?, self.heads.last()?);
        if self.latencies == 0 {
            return None;
        }
        let lowest = first.first;
        let highest = self.chunks[last.slot as usize][last.len as usize - 1].key;
        let n = self.latencies;
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let at =
            QUANTILES.map(|q| BUCKETS.highest_equivalent(u64::from(self.key_at(rank_of(q, n)))));
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
        let buckets: u64 = self.heads.iter().map(|h| u64::from(h.len)).sum();
        // How far the exact mean lies from the half between two microseconds, in
        // units of 1 / (2n) µs; and how far the histogram's sum may stray, in the
        // same units (four times the bound, for the divisions around the rounding).
        let from_half = (2 * u128::from(rest)).abs_diff(u128::from(n)) as f64;
        let stray =
            4.0 * (buckets as f64 + 4.0) * (whole as f64 + 1.0) * f64::EPSILON * 2.0 * n as f64;
        if from_half > stray {
            let rounded = whole + u64::from(2 * rest > n);
            return rounded as f64 / 1000.0;
        }
        let mut mean = 0.0_f64;
        for bucket in self.buckets() {
            mean += median_of(bucket.key) as f64 * f64::from(bucket.count) / n as f64;
        }
        round3(mean / 1000.0)
    }
}

/// The rank (1 ..= `n`) of quantile `q` among `n` latencies, by the histogram's
/// rule.
fn rank_of(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n)
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
                if leave {
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

    impl SpanTally {
        /// Panics unless its chunks are in ascending order, none empty, each in a
        /// slot of its own, and the heads, counts and sums agree with the buckets.
        fn check(&self) {
            assert_eq!(self.heads.len(), self.chunks.len());
            let mut slots = std::collections::HashSet::new();
            let (mut last, mut total, mut sum) = (None, 0u64, 0u64);
            for h in &self.heads {
                assert!(slots.insert(h.slot), "slot {} twice", h.slot);
                assert!((1..=CHUNK as u32).contains(&h.len), "{h:?}");
                let buckets = &self.chunks[h.slot as usize][..h.len as usize];
                assert_eq!(h.first, buckets[0].key);
                assert_eq!(h.count, buckets.iter().map(|b| b.count).sum::<u32>());
                for b in buckets {
                    assert!(b.count > 0 && last < Some(b.key), "{b:?} after {last:?}");
                    last = Some(b.key);
                    total += u64::from(b.count);
                    sum += median_of(b.key) * u64::from(b.count);
                }
            }
            assert_eq!((total, sum), (self.latencies, self.median_sum));
        }
    }

    /// Spans counted at once and then changed probe by probe, growing past many
    /// chunks (splits), shrinking to few (merges) and to none: the chunks stay in
    /// order and the answers stay those of the sorted values.
    #[test]
    fn a_tally_keeps_its_chunks_through_fills_splits_and_merges() {
        let mut next = crate::stats::test_rng(0xC4A0_0C45_2026_1201_u64);
        let (mut most_chunks, mut merged) = (0usize, 0usize);
        for case in 0..60 {
            let scale = 1u64 << (4 + next() % 24);
            let value = |r: u64| (r % scale) as u32;
            let mut kept: std::collections::VecDeque<u32> =
                (0..next() % 1_500).map(|_| value(next())).collect();
            let mut tally = SpanTally::default();
            tally.restart(1, std::time::Duration::from_secs(60), 0);
            tally.fill(kept.iter().map(|&v| (true, Some(v))));
            tally.check();
            // Grow, shrink to nothing, grow again.
            for (phase, steps) in [(0, 1_500), (1, 3_500), (2, 800)] {
                for step in 0..steps {
                    let leave = match phase {
                        1 => next() % 10 < 8,
                        _ => next() % 10 < 3,
                    };
                    if leave && !kept.is_empty() {
                        // Mostly the oldest, as a span loses them; now and then any.
                        let at = if next().is_multiple_of(4) {
                            (next() % kept.len() as u64) as usize
                        } else {
                            0
                        };
                        let v = kept.remove(at).unwrap();
                        let before = tally.heads.len();
                        tally.remove(true, Some(v));
                        merged += usize::from(tally.heads.len() < before);
                    } else if !leave {
                        let v = value(next());
                        kept.push_back(v);
                        tally.add(true, Some(v));
                    }
                    most_chunks = most_chunks.max(tally.heads.len());
                    if next().is_multiple_of(16) || step + 1 == steps {
                        tally.check();
                        let mut values: Vec<u32> = kept.iter().copied().collect();
                        assert_eq!(
                            tally.summary().latency,
                            LatencySummary::of_values(&mut values),
                            "case {case}, phase {phase}, step {step}"
                        );
                    }
                }
                if phase == 1 {
                    while let Some(v) = kept.pop_front() {
                        tally.remove(true, Some(v));
                    }
                    tally.check();
                    assert!(tally.heads.is_empty() && tally.summary().latency.is_none());
                }
            }
        }
        // The cases reached the paths they are about.
        assert!(most_chunks > 40, "most chunks: {most_chunks}");
        assert!(merged > 100, "chunks merged or emptied: {merged}");
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
