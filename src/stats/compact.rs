//! The all-time latency histogram, kept compact between reads.
//!
//! A 3-significant-digit HDR histogram holds a counts array whose length grows with
//! the slowest latency recorded: 8 KiB of `u32` counts for sub-millisecond targets,
//! 32 KiB once one response took 100 ms, 44 KiB at 1 s — per endpoint, whether or not
//! anyone looks. Here the histogram lives in its standard V2 encoding (run-length
//! zeros, typically a few hundred bytes), and new samples wait in a small buffer
//! that is folded in every [`FOLD_AT`] samples. Reading decodes it: the result is
//! exactly the histogram that recording every sample directly would have built.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use super::{new_histogram, record_us, v2_encodable};

/// Samples buffered before they are folded into the encoded histogram: 256 bytes of
/// buffer, and one decode/encode (tens of microseconds) per 64 probes.
pub const FOLD_AT: usize = 64;

/// An HDR histogram of microseconds, stored encoded.
#[derive(Debug, Clone, Default)]
pub struct CompactHistogram {
    /// V2 encoding of everything folded so far; empty before the first fold.
    encoded: Vec<u8>,
    /// Samples not yet folded in.
    pending: Vec<u32>,
    /// Samples recorded in all.
    count: u64,
}

impl CompactHistogram {
    /// Records one sample in microseconds.
    pub fn record(&mut self, micros: u32) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(FOLD_AT);
        }
        self.pending.push(micros);
        self.count += 1;
        if self.pending.len() >= FOLD_AT {
            let histogram = self.to_histogram();
            self.encoded = encode(&histogram);
            self.pending.clear();
        }
    }

    /// Adds every count of `histogram` (microseconds), as if its samples had been
    /// recorded here: how statistics carried over from a snapshot continue.
    pub fn add(&mut self, histogram: &Histogram<u64>) {
        if histogram.is_empty() {
            return;
        }
        let mut sum = self.to_histogram();
        if sum.add(histogram).is_err() {
            // Only a value beyond the auto-resizing range fails: record it capped, as
            // a live sample would be.
            for value in histogram.iter_recorded() {
                let micros = value.value_iterated_to();
                for _ in 0..value.count_at_value() {
                    record_us(&mut sum, micros);
                }
            }
        }
        self.count += histogram.len();
        self.encoded = encode(&sum);
        self.pending.clear();
    }

    /// How many samples were recorded.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The V2 encoding of what was folded so far; empty before the first fold.
    pub(super) fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// The samples not folded in yet, in the order they were recorded.
    pub(super) fn pending(&self) -> &[u32] {
        &self.pending
    }

    /// The full histogram, decoded.
    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut histogram = if self.encoded.is_empty() {
            new_histogram()
        } else {
            // The bytes are our own encoding of a valid histogram, so decoding cannot
            // fail short of memory corruption; an empty histogram is the safe answer then.
            Deserializer::new()
                .deserialize(&mut self.encoded.as_slice())
                .unwrap_or_else(|_| new_histogram())
        };
        // A decoded histogram has a fixed range: let later, slower samples grow it
        // instead of being clamped to the largest value folded so far.
        histogram.auto(true);
        for &micros in &self.pending {
            record_us(&mut histogram, u64::from(micros));
        }
        histogram
    }
}

fn encode(histogram: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(&*v2_encodable(histogram), &mut bytes)
        .expect("into memory, with every count within i64, V2 serialisation cannot fail");
    bytes.shrink_to_fit();
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_what_direct_recording_holds() {
        let mut compact = CompactHistogram::default();
        let mut direct = new_histogram();
        let mut seed = 7u64;
        for _ in 0..(FOLD_AT * 5 + 17) {
            // A spread from 100 µs to ~2 s, so the range grows across folds.
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let micros = 100 + (seed >> 33) % 2_000_000;
            compact.record(micros as u32);
            record_us(&mut direct, micros);
        }
        let decoded = compact.to_histogram();
        assert_eq!(compact.len(), direct.len());
        assert_eq!(decoded.len(), direct.len());
        for q in [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                decoded.value_at_quantile(q),
                direct.value_at_quantile(q),
                "q={q}"
            );
        }
        assert_eq!(decoded.max(), direct.max());
    }

    #[test]
    fn slower_samples_after_a_fold_are_not_clamped() {
        let mut compact = CompactHistogram::default();
        for _ in 0..FOLD_AT {
            compact.record(1_000);
        }
        for _ in 0..FOLD_AT + 10 {
            compact.record(2_000_000);
        }
        let h = compact.to_histogram();
        assert_eq!(h.len(), 2 * FOLD_AT as u64 + 10);
        assert_eq!(h.max() / 1000, 2000, "max {} µs", h.max());
        assert_eq!(h.value_at_quantile(0.99) / 1000, 2000);
    }

    #[test]
    fn adding_a_histogram_equals_recording_its_samples() {
        let mut compact = CompactHistogram::default();
        let mut direct = new_histogram();
        let mut other = new_histogram();
        for micros in [150u32, 900, 12_000] {
            compact.record(micros);
            record_us(&mut direct, u64::from(micros));
        }
        for micros in [80u64, 2_500_000, 2_500_000] {
            record_us(&mut other, micros);
            record_us(&mut direct, micros);
        }
        compact.add(&other);
        compact.record(5_000);
        record_us(&mut direct, 5_000);
        let h = compact.to_histogram();
        assert_eq!((compact.len(), h.len()), (direct.len(), direct.len()));
        let counts = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        assert_eq!(counts(&h), counts(&direct));
    }

    #[test]
    fn stays_small_whatever_the_latency() {
        let mut compact = CompactHistogram::default();
        for i in 0..1000u32 {
            // Around 100 ms, where a plain histogram needs 32 KiB of counts.
            compact.record(95_000 + (i * 37) % 10_000);
        }
        assert!(
            compact.encoded.len() < 4096,
            "{} bytes",
            compact.encoded.len()
        );
        assert!(compact.pending.capacity() <= FOLD_AT);
    }
}
