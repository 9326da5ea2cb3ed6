//! Completions and latency over time (`metrics.timeline` in report.json): the
//! run cut into buckets short enough that even a one-second smoke run draws a
//! curve (1 ms at first, doubled whenever a run outgrows
//! [`MAX_TIME_BUCKETS`]), each with its ok and error counts and its p50 and
//! p99. Per-bucket latencies go into [`LatencyBins`], a sparse log-linear
//! histogram (16 bins per octave: within 3 % of the true value) — small
//! enough to keep one per bucket per client, unlike a full HDR histogram.

use serde::{Deserialize, Serialize};

/// The narrowest bucket, in microseconds (1 ms: a quick run's scenarios
/// last 10 to 300 ms).
pub const BASE_BUCKET_US: u64 = 1_000;
/// A run that would need more buckets than this gets buckets twice as wide.
pub const MAX_TIME_BUCKETS: usize = 256;

/// Sub-bins per octave of [`LatencyBins`].
const SUB_BINS: u64 = 16;
/// Bins in all: every microsecond value up to 2^32 µs (over an hour).
pub const LATENCY_BIN_COUNT: usize = ((32 - 3) * SUB_BINS) as usize;

/// The log-linear bin of a latency in microseconds: exact below 32 µs, then
/// 16 bins per power of two (each at most 1/16 of its value wide).
pub fn bin_of(us: u64) -> usize {
    let us = us.min((1 << 32) - 1);
    if us < 2 * SUB_BINS {
        return us as usize;
    }
    let octave = 63 - u64::from(us.leading_zeros()); // >= 5
    let sub = (us >> (octave - 4)) & (SUB_BINS - 1);
    ((octave - 3) * SUB_BINS + sub) as usize
}

/// The middle of a bin, in microseconds (what a percentile in it reports).
pub fn bin_middle_us(bin: usize) -> f64 {
    let bin = bin as u64;
    if bin < 2 * SUB_BINS {
        return bin as f64;
    }
    let octave = bin / SUB_BINS + 3;
    let width = 1u64 << (octave - 4);
    let low = (SUB_BINS + bin % SUB_BINS) * width;
    low as f64 + width as f64 / 2.0
}

/// A sparse latency histogram over [`bin_of`] bins: only bins that were hit
/// take space, kept sorted by bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyBins {
    bins: Vec<(u16, u32)>,
}

impl LatencyBins {
    pub fn record(&mut self, us: u64) {
        self.add_to(bin_of(us) as u16, 1);
    }

    fn add_to(&mut self, bin: u16, count: u32) {
        match self.bins.binary_search_by_key(&bin, |&(b, _)| b) {
            Ok(i) => self.bins[i].1 = self.bins[i].1.saturating_add(count),
            Err(i) => self.bins.insert(i, (bin, count)),
        }
    }

    pub fn merge(&mut self, other: &LatencyBins) {
        for &(bin, count) in &other.bins {
            self.add_to(bin, count);
        }
    }

    pub fn count(&self) -> u64 {
        self.bins.iter().map(|&(_, c)| u64::from(c)).sum()
    }

    /// The latency (ms) at quantile `q` (0..=1); None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for &(bin, count) in &self.bins {
            seen += u64::from(count);
            if seen >= rank {
                return Some(bin_middle_us(bin as usize) / 1000.0);
            }
        }
        None
    }
}

/// One bucket of a [`Timeline`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TimeBucket {
    /// Start of the bucket, seconds since the scenario started.
    pub t_secs: f64,
    /// Requests that completed in it with a 2xx / without.
    pub ok: u64,
    pub errors: u64,
    /// Latency of the answers that completed in it (null: none did).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Completions and latency over one scenario, by completion time.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// Width of every bucket, seconds (1 ms × a power of two).
    pub bucket_secs: f64,
    pub buckets: Vec<TimeBucket>,
}

/// What one client measured per bucket, merged at the end ([`TimelineTally::merge`]).
#[derive(Clone, Debug)]
pub struct TimelineTally {
    width_us: u64,
    buckets: Vec<BucketTally>,
}

#[derive(Clone, Debug, Default)]
struct BucketTally {
    ok: u64,
    errors: u64,
    latency: LatencyBins,
}

impl BucketTally {
    fn add(&mut self, other: &BucketTally) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }
}

impl Default for TimelineTally {
    fn default() -> Self {
        TimelineTally {
            width_us: BASE_BUCKET_US,
            buckets: Vec::new(),
        }
    }
}

impl TimelineTally {
    /// Counts one completion `at_us` after the start; `latency_us` when it
    /// got an answer.
    pub fn record(&mut self, at_us: u64, ok: bool, latency_us: Option<u64>) {
        let mut index = (at_us / self.width_us) as usize;
        while index >= MAX_TIME_BUCKETS {
            self.coarsen();
            index = (at_us / self.width_us) as usize;
        }
        if self.buckets.len() <= index {
            self.buckets.resize_with(index + 1, BucketTally::default);
        }
        let bucket = &mut self.buckets[index];
        if ok {
            bucket.ok += 1;
        } else {
            bucket.errors += 1;
        }
        if let Some(us) = latency_us {
            bucket.latency.record(us);
        }
    }

    /// Doubles the bucket width, adding neighbours together.
    fn coarsen(&mut self) {
        self.width_us *= 2;
        let old = std::mem::take(&mut self.buckets);
        for (i, bucket) in old.into_iter().enumerate() {
            if i % 2 == 0 {
                self.buckets.push(bucket);
            } else if let Some(last) = self.buckets.last_mut() {
                last.add(&bucket);
            }
        }
    }

    /// Adds another client's tally (both brought to the wider of the two widths).
    pub fn merge(&mut self, other: &TimelineTally) {
        let mut other = other.clone();
        while self.width_us < other.width_us {
            self.coarsen();
        }
        while other.width_us < self.width_us {
            other.coarsen();
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets
                .resize_with(other.buckets.len(), BucketTally::default);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            mine.add(theirs);
        }
    }

    /// The figures: counts and percentiles per bucket.
    pub fn timeline(&self) -> Timeline {
        let bucket_secs = self.width_us as f64 / 1e6;
        Timeline {
            bucket_secs,
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| TimeBucket {
                    t_secs: i as f64 * bucket_secs,
                    ok: b.ok,
                    errors: b.errors,
                    p50_ms: b.latency.quantile_ms(0.5),
                    p99_ms: b.latency.quantile_ms(0.99),
                })
                .collect(),
        }
    }
}

impl Timeline {
    /// Several processes' timelines as one (`ctx load merge`): counts added
    /// bucket by bucket (at the widest width); a bucket's p50 is the parts'
    /// count-weighted mean and its p99 the highest of theirs — an estimate
    /// (the per-bucket histograms are not in report.json), where the
    /// scenario's own percentiles are exact.
    pub fn combine(parts: &[&Timeline]) -> Timeline {
        let bucket_secs = parts.iter().map(|t| t.bucket_secs).fold(0.0, f64::max);
        if bucket_secs <= 0.0 {
            return Timeline::default();
        }
        let mut buckets: Vec<(TimeBucket, f64, u64)> = Vec::new();
        for part in parts {
            for b in &part.buckets {
                let index = (b.t_secs / bucket_secs + 1e-9).floor() as usize;
                if buckets.len() <= index {
                    buckets.resize_with(index + 1, Default::default);
                }
                let (acc, p50_sum, answered) = &mut buckets[index];
                acc.ok += b.ok;
                acc.errors += b.errors;
                if let Some(p50) = b.p50_ms {
                    let n = b.ok + b.errors;
                    *p50_sum += p50 * n as f64;
                    *answered += n;
                }
                acc.p99_ms = match (acc.p99_ms, b.p99_ms) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        Timeline {
            bucket_secs,
            buckets: buckets
                .into_iter()
                .enumerate()
                .map(|(i, (mut b, p50_sum, answered))| {
                    b.t_secs = i as f64 * bucket_secs;
                    b.p50_ms = (answered > 0).then(|| p50_sum / answered as f64);
                    b
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_exact_low_and_within_3_percent_above() {
        for us in 0..32 {
            assert_eq!(bin_middle_us(bin_of(us)), us as f64);
        }
        for us in [32u64, 100, 999, 1_234, 20_000, 987_654, 3_600_000_000] {
            let middle = bin_middle_us(bin_of(us));
            assert!(
                (middle - us as f64).abs() / us as f64 <= 0.035,
                "{us} -> {middle}"
            );
        }
        assert!(bin_of(u64::MAX) < LATENCY_BIN_COUNT);
        // Bins are ordered as their values.
        assert!(
            (1..50_000)
                .step_by(7)
                .all(|us| bin_of(us) <= bin_of(us + 7))
        );
    }

    #[test]
    fn quantiles_of_sparse_bins() {
        let mut bins = LatencyBins::default();
        for us in 1..=1000u64 {
            bins.record(us * 10);
        }
        let p50 = bins.quantile_ms(0.5).unwrap();
        let p99 = bins.quantile_ms(0.99).unwrap();
        assert!((p50 - 5.0).abs() < 0.2, "{p50}");
        assert!((p99 - 9.9).abs() < 0.35, "{p99}");
        assert_eq!(LatencyBins::default().quantile_ms(0.5), None);
    }

    #[test]
    fn a_long_run_coarsens_and_clients_merge() {
        let mut a = TimelineTally::default();
        let mut b = TimelineTally::default();
        // a: 10 s of completions every 5 ms (forces 1 ms → 64 ms buckets).
        for i in 0..2000u64 {
            a.record(i * 5_000, true, Some(1_000));
        }
        b.record(15_000, false, None);
        b.merge(&a);
        let t = b.timeline();
        assert_eq!(t.bucket_secs, 0.064);
        assert!(t.buckets.len() <= MAX_TIME_BUCKETS);
        assert_eq!(t.buckets.iter().map(|b| b.ok).sum::<u64>(), 2000);
        assert_eq!(t.buckets[0].errors, 1);
        assert_eq!(t.buckets[0].ok, 13);
        assert!((t.buckets[3].p99_ms.unwrap() - 1.0).abs() < 0.04);
    }

    #[test]
    fn combined_timelines_add_counts() {
        let one = Timeline {
            bucket_secs: 0.5,
            buckets: vec![TimeBucket {
                t_secs: 0.0,
                ok: 10,
                errors: 0,
                p50_ms: Some(1.0),
                p99_ms: Some(2.0),
            }],
        };
        let two = Timeline {
            bucket_secs: 1.0,
            buckets: vec![TimeBucket {
                t_secs: 0.0,
                ok: 30,
                errors: 0,
                p50_ms: Some(3.0),
                p99_ms: Some(5.0),
            }],
        };
        let both = Timeline::combine(&[&one, &two]);
        assert_eq!(both.bucket_secs, 1.0);
        assert_eq!(both.buckets[0].ok, 40);
        assert_eq!(both.buckets[0].p50_ms, Some(2.5));
        assert_eq!(both.buckets[0].p99_ms, Some(5.0));
    }
}
