//! Latency figures: the HDR histogram every latency is recorded into, and
//! what is derived from it (a percentile summary, the percentile curve).
//! Latencies are recorded in microseconds and shown in milliseconds, so
//! percentiles carry the histogram's precision (3 significant digits), not an
//! interpolation over a sample list.

use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency the histograms can hold (one hour, in microseconds);
/// anything above is clamped (`saturating_record`).
const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// A new empty latency histogram: microseconds, 1 µs .. 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail.
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3).expect("constant histogram bounds are valid")
}

/// Microseconds from `from` to `to`, as a histogram value: at least 1 (also
/// when `to` is earlier), at most the histogram's range.
pub fn us_between(from: Instant, to: Instant) -> u64 {
    let d = to.saturating_duration_since(from);
    (d.as_micros().min(u128::from(MAX_TRACKABLE_US)) as u64).max(1)
}

/// Percentile summary of a latency histogram, in milliseconds. All zero when
/// no request got an answer (`count == 0`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    /// Requests that contributed (those that got an HTTP answer).
    pub count: u64,
    pub min_ms: f64,
    pub avg_ms: f64,
    pub stdev_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn us_to_ms(us: f64) -> f64 {
    us / 1000.0
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let q = |p: f64| us_to_ms(h.value_at_quantile(p) as f64);
        LatencySummary {
            count: h.len(),
            min_ms: us_to_ms(h.min() as f64),
            avg_ms: us_to_ms(h.mean()),
            stdev_ms: us_to_ms(h.stdev()),
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: us_to_ms(h.max() as f64),
        }
    }
}

/// One point of the latency percentile curve (for the charts).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PercentilePoint {
    pub percentile: f64,
    pub latency_ms: f64,
}

/// The latency-by-percentile curve at fixed, log-spaced percentiles
/// (0 .. 99.999 and 100), the usual HdrHistogram plot.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<PercentilePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    const PS: [f64; 16] = [
        0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99,
        99.999, 100.0,
    ];
    PS.iter()
        .map(|&p| PercentilePoint {
            percentile: p,
            latency_ms: us_to_ms(h.value_at_quantile(p / 100.0) as f64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let mut h = new_histogram();
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 100);
        assert!((s.avg_ms - 50.5).abs() < 0.1, "{s:?}");
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p95_ms - 95.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
        assert!((s.min_ms - 1.0).abs() < 0.01, "{s:?}");
        let curve = percentile_curve(&h);
        assert!(curve.windows(2).all(|w| w[0].latency_ms <= w[1].latency_ms));
        assert_eq!(
            LatencySummary::from_histogram(&new_histogram()),
            LatencySummary::default()
        );
    }
}
