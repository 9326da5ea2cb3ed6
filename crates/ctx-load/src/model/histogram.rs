//! Raw HDR histograms in `report.json`, so runs on several machines can be
//! combined exactly (`ctx load merge`): percentiles cannot be averaged, but
//! histograms add. Each is the standard HdrHistogram V2 encoding with Deflate
//! compression, base64 (the `HISTFAAA…` strings HdrHistogram's Java, C, Go
//! and Rust libraries and HistogramLogAnalyzer read), so other tools can
//! decode them too. A 10-second run's latency histogram is ~1-3 KB of text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::new_histogram;

/// One scenario's raw histograms (`scenarios[].hdr` in report.json).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RawHistograms {
    /// Every latency behind `metrics.latency` (µs).
    pub latency: String,
    /// The connection set-up times behind `metrics.connect` (µs).
    pub connect: String,
    /// Open loop: the latency from the actual send behind
    /// `metrics.open_loop.uncorrected` (µs); null otherwise.
    pub uncorrected: Option<String>,
    /// A staged run: each stage's latency behind `metrics.stages[i].latency`
    /// (µs), in stage order; absent otherwise (and in reports written before
    /// stages were merged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
}

/// `h` in the V2 + Deflate encoding, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| format!("cannot encode a latency histogram: {e:?}"))?;
    Ok(STANDARD.encode(bytes))
}

/// Decodes what [`encode_histogram`] (or any HdrHistogram library's V2 /
/// V2+Deflate base64 encoder) wrote, into a histogram with our bounds, so it
/// adds to the engine's. A value outside those bounds (1 µs .. 1 h) is an
/// error, not a silent clamp.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HdrHistogram V2 encoding: {e:?}"))?;
    let mut ours = new_histogram();
    ours.add(&decoded)
        .map_err(|e| format!("histogram values out of range (1 µs .. 1 h): {e:?}"))?;
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = new_histogram();
        for us in [1u64, 7, 250, 999, 1_000, 12_345, 3_600_000_000] {
            h.record_n(us, us % 5 + 1).unwrap();
        }
        let text = encode_histogram(&h).unwrap();
        assert!(text.starts_with("HISTFAAA"), "{text}");
        let back = decode_histogram(&text).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), h.len());
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
    }

    #[test]
    fn empty_histogram_round_trips() {
        let h = new_histogram();
        assert_eq!(decode_histogram(&encode_histogram(&h).unwrap()).unwrap(), h);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(decode_histogram("%%%").unwrap_err().contains("base64"));
        let not_hdr = STANDARD.encode(b"hello world, not a histogram");
        assert!(
            decode_histogram(&not_hdr)
                .unwrap_err()
                .contains("HdrHistogram")
        );
    }
}
