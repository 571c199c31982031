//! The standard HdrHistogram V2 encoding (deflate-compressed, base64), which any
//! HdrHistogram implementation decodes.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// The snapshot's name for this encoding.
pub const ENCODING: &str = "hdrhistogram-v2-deflate-base64";

/// Encodes `histogram` as base64 of its V2 deflate serialisation.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    // Most endpoints have a phase or two that never happens (TLS on http://, TTFB on
    // tcp://): one compression serves them all.
    static EMPTY: LazyLock<String> = LazyLock::new(|| compress(&crate::stats::new_histogram()));
    if histogram.is_empty() {
        return EMPTY.clone();
    }
    compress(histogram)
}

fn compress(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serialising into memory cannot fail");
    STANDARD.encode(bytes)
}

/// Decodes what [`encode_histogram`] (or any V2 encoder) produced.
pub fn decode_histogram(data: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = STANDARD.decode(data.trim())?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_counts_and_percentiles() {
        let mut h = crate::stats::new_histogram();
        for v in [120u64, 950, 1_000, 48_000, 52_000, 5_000_000] {
            h.record(v).unwrap();
        }
        let decoded = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(decoded.len(), h.len());
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                decoded.value_at_quantile(q),
                h.value_at_quantile(q),
                "q={q}"
            );
        }
    }
}
