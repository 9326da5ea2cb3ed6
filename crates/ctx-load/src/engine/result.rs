//! What one engine run measured, and the scenario figures made from it.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::model::{
    ContentCheckTally, ErrorBreakdown, LatencySummary, OpenLoopSummary, PerformanceMetrics,
    RawHistograms, ResourceUsage, RunMode, SecondBucket, SetupSummary, StageFigures, Timeline,
    encode_histogram, percentile_curve,
};

/// Open-loop specifics.
#[derive(Clone, Debug)]
pub struct OpenLoopResult {
    /// This process's rate (a worker's: its share).
    pub target_rate: f64,
    /// A worker's: the whole run's rate (see `OpenLoopSummary::run_target_rate`).
    pub run_target_rate: Option<f64>,
    pub planned: u64,
    pub sent: u64,
    pub late: u64,
    /// Latency from the actual send time (what a closed-loop tool would report).
    pub uncorrected: Histogram<u64>,
}

/// Everything one engine run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Requests attempted (sent, or failed to connect). Dropped ones are not included.
    pub attempted: u64,
    pub success: u64,
    pub errors: ErrorBreakdown,
    /// Latency of every request that got an HTTP answer (any status), in µs.
    /// Closed loop: from the actual send. Open loop: from the intended send (corrected).
    pub latency: Histogram<u64>,
    /// Connection set-up (TCP connect + TLS handshake for https) of every connection
    /// opened, in µs; never part of `latency`.
    pub connect: Histogram<u64>,
    /// Content checks, per check (empty without an [`Inspection`]).
    pub content_checks: Vec<ContentCheckTally>,
    /// Wall time from the first scheduled request to the last completion.
    pub elapsed: Duration,
    pub per_second: Vec<SecondBucket>,
    pub timeline: Timeline,
    pub open: Option<OpenLoopResult>,
    /// A staged run: each stage's figures (empty otherwise).
    pub stages: Vec<StageFigures>,
    /// The latency histogram behind each of `stages` (so merged runs
    /// recombine stage percentiles exactly).
    pub stage_latency: Vec<Histogram<u64>>,
}

impl RunResult {
    /// The histograms behind the figures, encoded for report.json (see
    /// [`RawHistograms`]).
    pub fn raw_histograms(&self) -> Result<RawHistograms, String> {
        Ok(RawHistograms {
            latency: encode_histogram(&self.latency)?,
            connect: encode_histogram(&self.connect)?,
            uncorrected: match &self.open {
                Some(open) => Some(encode_histogram(&open.uncorrected)?),
                None => None,
            },
            stages: self
                .stage_latency
                .iter()
                .map(encode_histogram)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The scenario's figures from this run and (optionally) the monitor's findings.
    pub fn metrics(
        &self,
        name: &str,
        clients: u64,
        ops_per_client: Option<u64>,
        late_slack_ms: f64,
        resources: Option<ResourceUsage>,
        setup: Option<SetupSummary>,
    ) -> PerformanceMetrics {
        let duration_secs = self.elapsed.as_secs_f64();
        let total_operations = match &self.open {
            Some(open) => open.planned,
            None => self.attempted,
        };
        let success_rate_pct = if total_operations == 0 {
            0.0
        } else {
            self.success as f64 / total_operations as f64 * 100.0
        };
        let throughput_ops_sec = if duration_secs > 0.0 {
            self.attempted as f64 / duration_secs
        } else {
            0.0
        };
        let open_loop = self.open.as_ref().map(|open| OpenLoopSummary {
            target_rate: open.target_rate,
            run_target_rate: open.run_target_rate,
            achieved_rate: throughput_ops_sec,
            planned: open.planned,
            sent: open.sent,
            late: open.late,
            late_slack_ms,
            dropped: self.errors.dropped,
            uncorrected: LatencySummary::from_histogram(&open.uncorrected),
            uncorrected_curve: percentile_curve(&open.uncorrected),
        });
        PerformanceMetrics {
            operation_type: name.to_string(),
            mode: if self.open.is_some() {
                RunMode::Open
            } else {
                RunMode::Closed
            },
            clients,
            ops_per_client,
            total_operations,
            duration_secs,
            success_count: self.success,
            error_count: self.errors.total(),
            errors: self.errors.clone(),
            success_rate_pct,
            throughput_ops_sec,
            latency: LatencySummary::from_histogram(&self.latency),
            connect: LatencySummary::from_histogram(&self.connect),
            latency_curve: percentile_curve(&self.latency),
            open_loop,
            peak_memory_mb: resources.as_ref().and_then(|r| r.peak_rss_mb),
            avg_cpu_percent: resources.as_ref().and_then(|r| r.avg_cpu_percent),
            resources,
            throughput_series: self.per_second.clone(),
            timeline: self.timeline.clone(),
            setup,
            content_checks: self.content_checks.clone(),
            fanout: None,
            stages: self.stages.clone(),
        }
    }
}
