//! The figures of one scenario run: the seed's `PerformanceMetrics` (operation
//! type, totals, duration, success/error counts, throughput, average / p95 /
//! p99 latency, peak memory, average CPU) and more (error breakdown, full
//! percentile summary, open-loop figures, resource samples, leak analysis,
//! per-second throughput).
//!
//! Everything here is plain data, serialised as-is into `report.json`.
//! Latencies are in milliseconds, derived from the engine's microsecond HDR
//! histograms, so percentiles carry the histogram's precision (3 significant
//! digits), not an interpolation over a sample list.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::{ErrorBreakdown, RunResult, SecondBucket};
use crate::fanout::FanoutSummary;
use crate::monitor::ResourceUsage;

/// Percentile summary of a latency histogram, in milliseconds. All zero when
/// no request got an answer (`count == 0`).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Serialize, PartialEq)]
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

/// Open-loop figures: the target versus what was achieved, and the latency
/// a closed-loop tool would have reported.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OpenLoopSummary {
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub planned: u64,
    pub sent: u64,
    /// Sent more than `late_slack_ms` after their intended time.
    pub late: u64,
    pub late_slack_ms: f64,
    /// Never sent (see `ErrorBreakdown::dropped`).
    pub dropped: u64,
    /// From the actual send time (coordinated omission not corrected).
    pub uncorrected: LatencySummary,
    pub uncorrected_curve: Vec<PercentilePoint>,
}

/// Set-up requests run before the measured part (file_dumps' 100 writes).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SetupSummary {
    pub requests: u64,
    pub failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// All figures of one scenario run.
#[derive(Clone, Debug, Serialize)]
pub struct PerformanceMetrics {
    /// Scenario name (the seed's `operation_type`).
    pub operation_type: String,
    /// `"closed"`, `"open"`, or `"fanout"` (ws_fanout: the figures below are
    /// the writes', except `latency`, which is write-to-delivery).
    pub mode: String,
    pub clients: u64,
    /// Closed loop: operations per client. Open loop: null.
    pub ops_per_client: Option<u64>,
    /// Closed loop: clients × ops. Open loop: requests planned (rate × duration).
    pub total_operations: u64,
    pub duration_secs: f64,
    pub success_count: u64,
    pub error_count: u64,
    pub errors: ErrorBreakdown,
    /// success_count / total_operations × 100.
    pub success_rate_pct: f64,
    /// Requests completed (answered or failed, not dropped) per second of run.
    pub throughput_ops_sec: f64,
    /// Closed loop: from actual send. Open loop: from intended send (corrected).
    /// Fan-out: write-to-delivery at each subscriber, from the write's due time.
    pub latency: LatencySummary,
    pub latency_curve: Vec<PercentilePoint>,
    pub open_loop: Option<OpenLoopSummary>,
    /// Peak resident set size of the server process during the run; None = not measured.
    pub peak_memory_mb: Option<f64>,
    /// Average CPU of the server process over the run (100 = one core); None = not measured.
    pub avg_cpu_percent: Option<f64>,
    /// Samples and leak analysis; None = not measured.
    pub resources: Option<ResourceUsage>,
    pub throughput_series: Vec<SecondBucket>,
    pub setup: Option<SetupSummary>,
    /// ws_fanout only: subscribers, writes, completeness.
    pub fanout: Option<FanoutSummary>,
}

impl PerformanceMetrics {
    /// Builds the metrics from an engine result and (optionally) the monitor's findings.
    pub fn from_run(
        name: &str,
        clients: u64,
        ops_per_client: Option<u64>,
        run: &RunResult,
        late_slack_ms: f64,
        resources: Option<ResourceUsage>,
        setup: Option<SetupSummary>,
    ) -> Self {
        let duration_secs = run.elapsed.as_secs_f64();
        let total_operations = match &run.open {
            Some(o) => o.planned,
            None => run.attempted,
        };
        let error_count = run.errors.total();
        let success_rate_pct = if total_operations == 0 {
            0.0
        } else {
            run.success as f64 / total_operations as f64 * 100.0
        };
        let throughput_ops_sec = if duration_secs > 0.0 {
            run.attempted as f64 / duration_secs
        } else {
            0.0
        };
        let open_loop = run.open.as_ref().map(|o| OpenLoopSummary {
            target_rate: o.target_rate,
            achieved_rate: throughput_ops_sec,
            planned: o.planned,
            sent: o.sent,
            late: o.late,
            late_slack_ms,
            dropped: run.errors.dropped,
            uncorrected: LatencySummary::from_histogram(&o.uncorrected),
            uncorrected_curve: percentile_curve(&o.uncorrected),
        });
        PerformanceMetrics {
            operation_type: name.to_string(),
            mode: if run.open.is_some() { "open" } else { "closed" }.to_string(),
            clients,
            ops_per_client,
            total_operations,
            duration_secs,
            success_count: run.success,
            error_count,
            errors: run.errors.clone(),
            success_rate_pct,
            throughput_ops_sec,
            latency: LatencySummary::from_histogram(&run.latency),
            latency_curve: percentile_curve(&run.latency),
            open_loop,
            peak_memory_mb: resources.as_ref().and_then(|r| r.peak_rss_mb),
            avg_cpu_percent: resources.as_ref().and_then(|r| r.avg_cpu_percent),
            resources,
            throughput_series: run.per_second.clone(),
            setup,
            fanout: None,
        }
    }

    /// Turns the writers' metrics of a `ws_fanout` run into the scenario's:
    /// the latency becomes write-to-delivery (`delivery`, µs), the writes'
    /// own latency and rates move into `fanout`.
    pub fn with_fanout(mut self, delivery: &Histogram<u64>, fanout: FanoutSummary) -> Self {
        self.mode = "fanout".into();
        self.ops_per_client = None;
        self.open_loop = None;
        self.latency = LatencySummary::from_histogram(delivery);
        self.latency_curve = percentile_curve(delivery);
        self.fanout = Some(fanout);
        self
    }

    pub fn success_rate(&self) -> f64 {
        self.success_rate_pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::new_histogram;

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
