//! The standard HdrHistogram V2 encoding (deflate-compressed, base64), which any
//! HdrHistogram implementation decodes.

use std::cell::RefCell;
use std::sync::LazyLock;

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use crate::stats::Counts;

/// The snapshot's name for this encoding.
pub const ENCODING: &str = "hdrhistogram-v2-deflate-base64";

/// The encoding of an empty histogram. Most endpoints have a phase or two that never
/// happens (TLS on http://, TTFB on tcp://): one compression serves them all.
static EMPTY: LazyLock<String> = LazyLock::new(|| compress(&crate::stats::new_histogram()));

/// Encodes `histogram` as base64 of its V2 deflate serialisation.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    if histogram.is_empty() {
        return EMPTY.clone();
    }
    compress(histogram)
}

/// The V2 format's cookie for a deflate-compressed histogram (`V2_COMPRESSED_COOKIE`
/// in every HdrHistogram implementation: base `0x1c849304`, word size 0x10).
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;

/// Serialised histograms up to this many bytes are wrapped in zlib's stored
/// (uncompressed) blocks rather than deflated: deflate saves next to nothing on them
/// (72 bytes became 66, 92 became 101) and costs 10 µs each however small (setting
/// up its 250 KB of tables), which was most of the final snapshot's 2.5 s of CPU at
/// 50,000 endpoints. Every zlib decoder reads both.
const STORED_UP_TO: usize = 128;

fn compress(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    Compressed::default()
        .serialize(&*crate::stats::v2_encodable(histogram), &mut bytes)
        .expect("into memory, with every count within i64, V2 serialisation cannot fail");
    STANDARD.encode(bytes)
}

/// [`encode_histogram`] of the histogram `counts` were read from, without building
/// it: the same text, byte for byte.
pub fn encode_counts(counts: &Counts) -> String {
    if counts.is_empty() {
        return EMPTY.clone();
    }
    // The serialisation's buffers, kept between histograms: a snapshot encodes six
    // per endpoint.
    thread_local! {
        static BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::default();
    }
    BUFFERS.with_borrow_mut(|(payload, bytes)| {
        payload.clear();
        counts.write_v2(payload);
        bytes.clear();
        wrap(payload, bytes).expect(
            "into memory, a few KiB and never the 4 GiB a length holds: wrapping cannot fail",
        );
        STANDARD.encode(&*bytes)
    })
}

/// Appends the V2 compressed form of the V2 `payload` to `bytes`: the compressed
/// cookie, the length, and the payload in zlib (stored blocks up to
/// [`STORED_UP_TO`] bytes, deflated above).
fn wrap(payload: &[u8], bytes: &mut Vec<u8>) -> std::io::Result<()> {
    let start = bytes.len();
    bytes.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
    // The length of what follows, filled in below.
    bytes.extend_from_slice(&[0; 4]);
    if payload.len() <= STORED_UP_TO {
        zlib_stored(payload, bytes);
    } else {
        let mut encoder =
            flate2::write::ZlibEncoder::new(&mut *bytes, flate2::Compression::default());
        encoder.write_all(payload)?;
        encoder.finish()?;
    }
    let length = u32::try_from(bytes.len() - start - 8).map_err(std::io::Error::other)?;
    bytes[start + 4..start + 8].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

/// The V2 compressed serialisation (what the hdrhistogram crate's
/// `V2DeflateSerializer` writes, byte for byte, for histograms above
/// [`STORED_UP_TO`]; stored zlib blocks below it), for the snapshot and the interval
/// log alike.
#[derive(Default)]
pub struct Compressed {
    v2: V2Serializer,
    payload: Vec<u8>,
    bytes: Vec<u8>,
}

impl Serializer for Compressed {
    type SerializeError = std::io::Error;

    fn serialize<T: hdrhistogram::Counter, W: std::io::Write>(
        &mut self,
        histogram: &Histogram<T>,
        writer: &mut W,
    ) -> Result<usize, std::io::Error> {
        self.payload.clear();
        self.v2
            .serialize(histogram, &mut self.payload)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        self.bytes.clear();
        wrap(&self.payload, &mut self.bytes)?;
        writer.write_all(&self.bytes)?;
        Ok(self.bytes.len())
    }
}

/// Appends `data` to `out` as a zlib stream of stored deflate blocks (RFC 1950 and
/// RFC 1951 §3.2.4): the zlib header, blocks of at most 65,535 bytes each with its
/// length, and the Adler-32 of `data`.
fn zlib_stored(data: &[u8], out: &mut Vec<u8>) {
    // Deflate with a 32 KB window, "fastest" level: 0x7801 is a multiple of 31.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        // An empty stream is one final, empty block.
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let length = u16::try_from(block.len()).expect("chunks of at most u16::MAX");
        // BFINAL in bit 0, BTYPE 00 (stored); the rest of the byte is padding.
        out.push(u8::from(last));
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler2::adler32_slice(data).to_be_bytes());
}

/// Decodes what [`encode_histogram`] (or any V2 encoder) produced.
pub fn decode_histogram(data: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = STANDARD.decode(data.trim())?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = crate::stats::new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn small_histograms_are_stored_large_ones_deflated_and_both_decode() {
        use hdrhistogram::serialization::V2DeflateSerializer;
        let small = histogram_of([120, 950, 1_000]);
        // Spread over thousands of buckets: deflated, exactly as the hdrhistogram
        // crate's own serialiser writes it.
        let large = histogram_of((0..20_000u64).map(|i| 150 + (i * 7919) % 5_000));
        for (h, stored) in [(&small, true), (&large, false)] {
            let encoded = encode_histogram(h);
            let bytes = STANDARD.decode(&encoded).unwrap();
            assert_eq!(bytes[..4], V2_COMPRESSED_COOKIE.to_be_bytes());
            // zlib's header says "fastest" (our stored blocks) or "default" (deflate).
            assert_eq!(bytes[9] == 0x01, stored, "zlib header {:#04x}", bytes[9]);
            if !stored {
                let mut theirs = Vec::new();
                V2DeflateSerializer::new()
                    .serialize(h, &mut theirs)
                    .unwrap();
                assert_eq!(bytes, theirs);
            }
            let decoded = decode_histogram(&encoded).unwrap();
            assert_eq!(decoded, *h);
        }
    }

    #[test]
    fn counts_encode_as_their_histogram_does() {
        // Never folded, folded, grown past a fold, and large enough to be deflated:
        // the text is the histogram's, which the hdrhistogram crate decodes.
        let mut compact = crate::stats::CompactHistogram::default();
        assert_eq!(
            encode_counts(&compact.counts()),
            encode_histogram(&compact.to_histogram())
        );
        for i in 0..5_000u32 {
            compact.record(100 + (i * 7_919) % 30_000 + if i % 700 == 699 { 2_500_000 } else { 0 });
            if i % 61 == 0 || i == 4_999 {
                let (ours, theirs) = (
                    encode_counts(&compact.counts()),
                    encode_histogram(&compact.to_histogram()),
                );
                assert_eq!(ours, theirs, "after {} samples", i + 1);
                assert_eq!(decode_histogram(&ours).unwrap(), compact.to_histogram());
            }
        }
    }

    #[test]
    fn counts_beyond_i64_encode_capped_as_counts_do() {
        // Two histograms read back from snapshots, each with a count of i64::MAX,
        // added up: the sum saturates past what V2 holds. Encoding it once panicked.
        let mut huge = crate::stats::new_histogram();
        huge.record_n(1_000, i64::MAX as u64).unwrap();
        huge.record(5_000).unwrap();
        let mut sum = huge.clone();
        sum.add(&huge).unwrap();
        assert!(sum.count_at(1_000) > i64::MAX as u64);
        let encoded = encode_histogram(&sum);
        let decoded = decode_histogram(&encoded).unwrap();
        assert_eq!(decoded.count_at(1_000), i64::MAX as u64);
        assert_eq!(decoded.count_at(5_000), 2);
        // The statistics' compact histogram takes the same sum (resuming from it), and
        // its counts encode as its histogram does, capped the same way.
        let mut compact = crate::stats::CompactHistogram::default();
        compact.add(&sum);
        let from_counts = encode_counts(&compact.counts());
        assert_eq!(from_counts, encode_histogram(&compact.to_histogram()));
        assert_eq!(decode_histogram(&from_counts).unwrap(), decoded);
    }

    #[test]
    fn stored_blocks_hold_any_length() {
        // Zero bytes, one block, and several blocks of 65,535, each checked by
        // flate2's zlib decoder (Adler-32 included).
        for length in [0usize, 1, 128, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..length).map(|i| (i * 31 % 251) as u8).collect();
            let mut stream = Vec::new();
            zlib_stored(&data, &mut stream);
            let mut decoded = Vec::new();
            use std::io::Read as _;
            flate2::read::ZlibDecoder::new(stream.as_slice())
                .read_to_end(&mut decoded)
                .unwrap();
            assert_eq!(decoded, data, "length {length}");
        }
    }

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
