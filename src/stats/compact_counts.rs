//! A [`CompactHistogram`] read without building a histogram: its counts by bucket,
//! the summaries the snapshot shows, and its V2 encoding.
//!
//! The final snapshot reads six all-time histograms per endpoint. Decoding each into
//! an `hdrhistogram::Histogram` allocated and zeroed a counts array of thousands of
//! slots (16 KiB for sub-2 ms latencies) to hold a handful of samples, and then
//! scanned it twice (summaries, serialisation): at 50,000 endpoints most of the
//! snapshot's CPU. Here the V2 payload's run-length counts are read into a list of
//! the buckets that hold samples, the unfolded samples are merged in, and the
//! summaries and the V2 payload come from that list. Every answer is the one the
//! decoded histogram gives, byte for byte and bit for bit
//! (`tests::counts_answer_as_the_decoded_histogram_does`): the bucket layout, the
//! auto-resize rule that decides the header's highest trackable value, the quantile
//! rule, the mean's order of summation and the serialiser's run-length rules are
//! the hdrhistogram crate's (7.6), restated for the one layout every latency
//! histogram here has (lowest value 1, [`SIGNIFICANT_DIGITS`] = 3).

use super::compact::CompactHistogram;
use super::{LatencySummary, MAX_RECORDED_US, PhaseSummary, SIGNIFICANT_DIGITS};

/// `V2_COOKIE` of every HdrHistogram implementation (base `0x1c849303`, word size
/// 0x10): an uncompressed V2 payload.
const V2_COOKIE: u32 = 0x1c84_9313;
/// The V2 header: cookie, payload length, normalising offset, significant digits,
/// lowest and highest trackable values, integer to double ratio.
const V2_HEADER_SIZE: usize = 40;

/// The bucket layout of a 3-digit histogram whose lowest discernible value is 1: 2,048
/// sub-buckets (single-unit resolution up to 2,000), the lower half of each bucket
/// after the first covered by the bucket before it.
mod layout {
    /// log2 of half the sub-bucket count.
    const HALF_MAGNITUDE: u32 = 10;
    /// Half the sub-bucket count.
    pub const HALF: u32 = 1 << HALF_MAGNITUDE;
    /// The sub-bucket count: the smallest value bucket 0 cannot hold.
    const SUB_BUCKETS: u64 = 2 * HALF as u64;
    /// `leading_zero_count_base`: 64 minus the bits of bucket 0's largest value.
    const LEADING_ZERO_BASE: u32 = 64 - 11;

    /// The bucket (power of two) `value` falls in.
    fn bucket(value: u64) -> u32 {
        LEADING_ZERO_BASE - (value | (SUB_BUCKETS - 1)).leading_zeros()
    }

    /// The counts array index of `value`.
    pub fn index(value: u64) -> u32 {
        let bucket = bucket(value);
        let sub_bucket = (value >> bucket) as u32;
        ((bucket + 1) << HALF_MAGNITUDE) + sub_bucket - HALF
    }

    /// The lowest value counted at `index`.
    pub fn value(index: u32) -> u64 {
        let bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
        let sub_bucket = (index & (HALF - 1)) + HALF;
        if bucket < 0 {
            u64::from(sub_bucket - HALF)
        } else {
            u64::from(sub_bucket) << bucket
        }
    }

    /// How many values `index` counts together.
    fn range(index: u32) -> u64 {
        1 << bucket(value(index))
    }

    /// The highest value counted at `index` (`highest_equivalent`).
    pub fn highest(index: u32) -> u64 {
        value(index) + range(index) - 1
    }

    /// The middle of `index`'s values, rounded up (`median_equivalent`).
    pub fn median(index: u32) -> u64 {
        value(index) + (range(index) >> 1)
    }

    /// The length of the counts array that holds values up to `value`
    /// (`num_bins(buckets_to_cover(value))`).
    pub fn len_to_cover(value: u64) -> u32 {
        let mut buckets = 1;
        let mut untrackable = SUB_BUCKETS;
        while untrackable <= value {
            untrackable <<= 1;
            buckets += 1;
        }
        (buckets + 1) * HALF
    }
}

/// The samples of a [`CompactHistogram`] by bucket, as its decoded histogram holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The decoded histogram's highest trackable value (what its V2 header says): it
    /// depends on how the histogram grew, not only on what it holds.
    highest_trackable: u64,
    /// (counts array index, count) of every bucket holding samples, ascending.
    buckets: Vec<(u32, u64)>,
    /// Samples in all.
    total: u64,
}

impl CompactHistogram {
    /// Its counts by bucket: exactly what [`CompactHistogram::to_histogram`] holds,
    /// without building it.
    pub fn counts(&self) -> Counts {
        let (mut highest_trackable, mut buckets) = match decode_v2(self.encoded()) {
            Some(decoded) => decoded,
            // Never folded: what `new_histogram` starts from. (The encoding is always
            // our own, of this layout; anything else reads as empty, as bytes that do
            // not decode read in `to_histogram`.)
            None => (2, Vec::new()),
        };
        // Recording the unfolded samples: a value beyond the counts array grows it to
        // cover that value, and the highest trackable value becomes the highest the
        // grown array holds.
        let mut len = layout::len_to_cover(highest_trackable);
        let mut pending: Vec<u32> = Vec::with_capacity(self.pending().len());
        for &micros in self.pending() {
            let micros = u64::from(micros).min(MAX_RECORDED_US);
            let index = layout::index(micros);
            if index >= len {
                len = layout::len_to_cover(micros);
                highest_trackable = layout::highest(len - 1);
            }
            pending.push(index);
        }
        pending.sort_unstable();
        if !pending.is_empty() {
            buckets = merge(buckets, &pending);
        }
        let total = buckets.iter().map(|&(_, count)| count).sum();
        Counts {
            highest_trackable,
            buckets,
            total,
        }
    }
}

/// `buckets` (ascending) with one more sample at each index of `indices` (ascending).
fn merge(buckets: Vec<(u32, u64)>, indices: &[u32]) -> Vec<(u32, u64)> {
    let mut merged = Vec::with_capacity(buckets.len() + indices.len());
    let mut indices = indices.iter().copied().peekable();
    let add = |merged: &mut Vec<(u32, u64)>, index: u32, count: u64| match merged.last_mut() {
        Some((last, n)) if *last == index => *n += count,
        _ => merged.push((index, count)),
    };
    for (index, count) in buckets {
        while let Some(next) = indices.next_if(|&next| next < index) {
            add(&mut merged, next, 1);
        }
        add(&mut merged, index, count);
    }
    for next in indices {
        add(&mut merged, next, 1);
    }
    merged
}

/// The highest trackable value and the non-zero counts of a V2 payload of ours
/// (lowest value 1, three digits), or `None` for anything else.
fn decode_v2(bytes: &[u8]) -> Option<(u64, Vec<(u32, u64)>)> {
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let long = |at: usize| Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    if word(0)? != V2_COOKIE
        || word(8)? != 0
        || word(12)? != u32::from(SIGNIFICANT_DIGITS)
        || long(16)? != 1
        || f64::from_bits(long(32)?) != 1.0
    {
        return None;
    }
    let highest_trackable = long(24)?;
    let length = usize::try_from(word(4)?).ok()?;
    let mut payload = bytes.get(V2_HEADER_SIZE..V2_HEADER_SIZE.checked_add(length)?)?;
    let mut buckets = Vec::new();
    let mut index: u32 = 0;
    while !payload.is_empty() {
        let (zig_zag, read) = varint_read(payload)?;
        payload = &payload[read..];
        let count_or_zeros = zig_zag_decode(zig_zag);
        if count_or_zeros < 0 {
            index = index.checked_add(u32::try_from(count_or_zeros.unsigned_abs()).ok()?)?;
        } else {
            if count_or_zeros > 0 {
                buckets.push((index, count_or_zeros as u64));
            }
            index = index.checked_add(1)?;
        }
    }
    Some((highest_trackable, buckets))
}

impl Counts {
    /// Samples counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Appends the V2 serialisation of the decoded histogram (what the hdrhistogram
    /// crate's `V2Serializer` writes for it) to `out`.
    pub fn write_v2(&self, out: &mut Vec<u8>) {
        // At most a count and a run of empty buckets before it per bucket, nine bytes
        // each at most.
        out.reserve(V2_HEADER_SIZE + 9 * (2 * self.buckets.len() + 1));
        let start = out.len();
        out.extend_from_slice(&V2_COOKIE.to_be_bytes());
        // The payload's length, filled in below.
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&u32::from(SIGNIFICANT_DIGITS).to_be_bytes());
        out.extend_from_slice(&1u64.to_be_bytes());
        out.extend_from_slice(&self.highest_trackable.to_be_bytes());
        out.extend_from_slice(&1.0f64.to_be_bytes());
        let payload_start = out.len();
        // Counts up to the highest bucket holding any (bucket 0 when none does): a
        // run of more than one empty bucket as its negated length, a single empty
        // one as a zero count.
        let mut next: u32 = 0;
        for &(index, count) in &self.buckets {
            match index - next {
                0 => {}
                1 => varint_write(zig_zag_encode(0), out),
                zeros => varint_write(zig_zag_encode(-i64::from(zeros)), out),
            }
            varint_write(
                zig_zag_encode(i64::try_from(count).unwrap_or(i64::MAX)),
                out,
            );
            next = index + 1;
        }
        if self.buckets.is_empty() {
            varint_write(zig_zag_encode(0), out);
        }
        let length = u32::try_from(out.len() - payload_start).unwrap_or(u32::MAX);
        out[start + 4..start + 8].copy_from_slice(&length.to_be_bytes());
    }

    /// `Histogram::value_at_quantiles` of the decoded histogram, for quantiles in
    /// (0, 1] in ascending order: the highest value of the bucket where the
    /// quantile's rank falls.
    fn at_quantiles<const N: usize>(&self, quantiles: [f64; N]) -> [u64; N] {
        let mut buckets = self.buckets.iter();
        let (mut seen, mut at) = (0u64, 0u32);
        quantiles.map(|quantile| {
            let rank = ((quantile.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
            while seen < rank {
                let Some(&(index, count)) = buckets.next() else {
                    break;
                };
                (seen, at) = (seen + count, index);
            }
            layout::highest(at)
        })
    }

    /// `Histogram::mean`: each bucket's median value weighted by its count, summed
    /// from the lowest bucket up, as the histogram sums it.
    fn mean(&self) -> f64 {
        let total = self.total as f64;
        self.buckets.iter().fold(0.0, |sum, &(index, count)| {
            sum + layout::median(index) as f64 * count as f64 / total
        })
    }

    /// The all-time latency summary: [`LatencySummary::of`] the decoded histogram.
    pub fn latency_summary(&self) -> Option<LatencySummary> {
        let (&(lowest, _), &(highest, _)) = (self.buckets.first()?, self.buckets.last()?);
        let [p50, p90, p99, p999] = self.at_quantiles([0.50, 0.90, 0.99, 0.999]).map(ms);
        Some(LatencySummary {
            // Bucket 0 holds the value 0 only, and `Histogram::min` says 0 then.
            min: ms(layout::value(lowest)),
            mean: round3(self.mean() / 1000.0),
            p50,
            p90,
            p99,
            p999,
            max: ms(layout::highest(highest)),
        })
    }

    /// The all-time summary of a phase: [`PhaseSummary::of`] the decoded histogram.
    pub fn phase_summary(&self) -> PhaseSummary {
        if self.is_empty() {
            return PhaseSummary::default();
        }
        let [p50, p90, p99] = self.at_quantiles([0.50, 0.90, 0.99]).map(|us| Some(ms(us)));
        PhaseSummary {
            count: self.total,
            p50,
            p90,
            p99,
        }
    }
}

/// Microseconds in milliseconds, to the microsecond, as the summaries print them.
fn ms(us: u64) -> f64 {
    round3(us as f64 / 1000.0)
}

/// Rounds to three decimals, as `summary.rs` does.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn zig_zag_encode(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn zig_zag_decode(n: u64) -> i64 {
    ((n >> 1) as i64) ^ (-((n & 1) as i64))
}

/// Writes `value` as the V2 format's LEB128-64b9B varint: seven bits a byte, low bits
/// first, and a ninth byte (if needed) with all eight bits of what is left.
fn varint_write(mut value: u64, out: &mut Vec<u8>) {
    for _ in 0..8 {
        if value < 0x80 {
            out.push(value as u8);
            return;
        }
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint [`varint_write`] wrote: the value and the bytes it took.
fn varint_read(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *bytes.get(i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    Some((value | (u64::from(*bytes.get(8)?) << 56), 9))
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    use super::*;
    use crate::stats::compact::FOLD_AT;
    use crate::stats::{new_histogram, test_rng};

    #[test]
    fn the_layout_is_the_histograms() {
        let h = new_histogram();
        let mut next = test_rng(11);
        let values = (0..5_000u64)
            .chain((0..60).map(|shift| 1 << shift))
            .chain((1..60).map(|shift| (1 << shift) - 1))
            .chain((0..20_000).map(|_| next() % 4_000_000_000));
        for v in values {
            let index = layout::index(v);
            assert_eq!(layout::value(index), h.lowest_equivalent(v), "{v}");
            assert_eq!(layout::highest(index), h.highest_equivalent(v), "{v}");
            assert_eq!(layout::median(index), h.median_equivalent(v), "{v}");
            assert_eq!(layout::index(layout::value(index)), index, "{v}");
        }
    }

    fn v2(h: &hdrhistogram::Histogram<u64>) -> Vec<u8> {
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(h, &mut bytes).unwrap();
        bytes
    }

    /// Checks every answer of `compact.counts()` against its decoded histogram.
    fn check(compact: &CompactHistogram, what: &str) {
        let h = compact.to_histogram();
        let counts = compact.counts();
        let mut bytes = Vec::new();
        counts.write_v2(&mut bytes);
        assert_eq!(bytes, v2(&h), "{what}: V2 bytes");
        assert_eq!(counts.len(), h.len(), "{what}");
        assert_eq!(
            counts.latency_summary(),
            LatencySummary::of(&h),
            "{what}: latency"
        );
        assert_eq!(
            counts.phase_summary(),
            PhaseSummary::of(&h),
            "{what}: phase"
        );
    }

    #[test]
    fn counts_answer_as_the_decoded_histogram_does() {
        // Random spreads (some sub-millisecond, some reaching into seconds so the
        // range grows in the folded part, the unfolded part or both), zeros, repeats,
        // a value beyond the cap, and histograms added from a snapshot.
        let mut next = test_rng(5);
        check(&CompactHistogram::default(), "empty");
        for case in 0..300 {
            let mut compact = CompactHistogram::default();
            let samples = next() as usize % (FOLD_AT * 4);
            let scale = [2_000u64, 50_000, 3_000_000, 5_000_000_000][case % 4];
            for _ in 0..samples {
                let micros = match next() % 20 {
                    0 => 0,
                    1 => 1_000,
                    _ => next() % scale,
                };
                compact.record(u32::try_from(micros).unwrap_or(u32::MAX));
                if next().is_multiple_of(97) {
                    check(&compact, &format!("case {case} midway"));
                }
            }
            if case.is_multiple_of(7) {
                let mut other = new_histogram();
                for _ in 0..next() % 200 {
                    other.record(next() % scale.min(3_600_000_000)).unwrap();
                }
                compact.add(&other);
                compact.record((next() % 10_000) as u32);
            }
            check(&compact, &format!("case {case}"));
        }
    }

    #[test]
    fn varints_round_trip() {
        for value in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX >> 8, u64::MAX] {
            let mut bytes = Vec::new();
            varint_write(value, &mut bytes);
            assert!(bytes.len() <= 9);
            assert_eq!(varint_read(&bytes), Some((value, bytes.len())), "{value}");
        }
        for n in [0i64, 1, -1, 2_048, -2_048, i64::MAX, i64::MIN] {
            assert_eq!(zig_zag_decode(zig_zag_encode(n)), n);
        }
    }
}
