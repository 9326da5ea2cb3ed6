//! The figures of one scenario run: the seed's `PerformanceMetrics` (operation
//! type, totals, duration, success/error counts, throughput, average / p95 /
//! p99 latency, peak memory, average CPU) and more (error breakdown, full
//! percentile summary, open-loop figures, resource samples, leak analysis,
//! per-second throughput). Plain data, serialised as-is into `report.json`.

use serde::{Deserialize, Serialize};

use super::{
    ErrorBreakdown, FanoutSummary, LatencySummary, PercentilePoint, ResourceUsage, SecondBucket,
    StageFigures, Timeline,
};

/// How a scenario's load was offered (`metrics.mode` in report.json).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Each client sends its next request when the previous answer arrived (the seed's model).
    Closed,
    /// A fixed arrival rate, latency timed from the intended send (wrk2's method).
    Open,
    /// `ws_fanout`: open-loop writes, latency write-to-delivery at the subscribers.
    Fanout,
}

impl RunMode {
    /// The name report.json uses.
    pub fn name(self) -> &'static str {
        match self {
            RunMode::Closed => "closed",
            RunMode::Open => "open",
            RunMode::Fanout => "fanout",
        }
    }
}

/// Open-loop figures: the target versus what was achieved, and the latency
/// a closed-loop tool would have reported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OpenLoopSummary {
    /// The rate this process was asked for (a worker's: its share).
    pub target_rate: f64,
    /// A worker's report (`--workers N`): the whole run's target rate, so
    /// `ctx load merge` gives the requested total exactly (N shares of
    /// `rate / N` do not always add up to `rate` in floating point, e.g.
    /// 6 × (7 / 6) = 7.000000000000001). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_target_rate: Option<f64>,
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

/// One content check (a scenario file's `[[scenario.check]]`) over every answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContentCheckTally {
    pub name: String,
    pub passed: u64,
    pub failed: u64,
    /// What the first failing answer had instead.
    pub first_failure: Option<String>,
}

impl ContentCheckTally {
    pub fn new(name: &str) -> Self {
        ContentCheckTally {
            name: name.to_string(),
            passed: 0,
            failed: 0,
            first_failure: None,
        }
    }

    /// Adds another worker's counts (the first failure seen stays).
    pub fn add(&mut self, other: &ContentCheckTally) {
        self.passed += other.passed;
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure.clone_from(&other.first_failure);
        }
    }
}

/// Set-up requests run before the measured part (file_dumps' 100 writes).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SetupSummary {
    pub requests: u64,
    pub failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// All figures of one scenario run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PerformanceMetrics {
    /// Scenario name (the seed's `operation_type`).
    pub operation_type: String,
    /// ws_fanout ([`RunMode::Fanout`]): the figures below are the writes',
    /// except `latency`, which is write-to-delivery.
    pub mode: RunMode,
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
    /// Connection set-up (TCP connect + TLS handshake for https), one sample per
    /// connection opened; never part of `latency` (k6's `http_req_connecting`).
    pub connect: LatencySummary,
    pub latency_curve: Vec<PercentilePoint>,
    pub open_loop: Option<OpenLoopSummary>,
    /// Peak resident set size of the server process during the run; None = not measured.
    pub peak_memory_mb: Option<f64>,
    /// Average CPU of the server process over the run (100 = one core); None = not measured.
    pub avg_cpu_percent: Option<f64>,
    /// Samples and leak analysis; None = not measured.
    pub resources: Option<ResourceUsage>,
    pub throughput_series: Vec<SecondBucket>,
    /// Completions and p50/p99 latency in sub-second buckets (report.html's
    /// charts over time). Absent in reports written before it existed.
    #[serde(default)]
    pub timeline: Timeline,
    pub setup: Option<SetupSummary>,
    /// The scenario's content checks, counted over every answer (empty without
    /// checks; absent in reports written before they existed).
    #[serde(default)]
    pub content_checks: Vec<ContentCheckTally>,
    /// ws_fanout only: subscribers, writes, completeness.
    pub fanout: Option<FanoutSummary>,
    /// A staged run (`--stages`, `--client-stages`, a scenario's `stages`):
    /// each stage's figures; absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageFigures>,
}

impl PerformanceMetrics {
    /// Requests attempted (what throughput counts): all of them in closed
    /// loop, those sent in open loop (dropped ones never were).
    pub fn attempted(&self) -> u64 {
        match &self.open_loop {
            Some(open) => open.sent,
            None => self.total_operations,
        }
    }
}
