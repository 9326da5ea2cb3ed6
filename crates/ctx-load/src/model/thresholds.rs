//! Thresholds (the limits a scenario is held to) and their judged checks.
//! Plain data: [`crate::scenarios::thresholds`] parses and evaluates them.

use serde::{Deserialize, Serialize};

/// Pass/fail limits of one scenario. `None` = not checked.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Thresholds {
    /// success_rate: minimum success rate, percent.
    pub min_success_rate_pct: Option<f64>,
    /// avg_ms: maximum average latency.
    pub max_avg_ms: Option<f64>,
    /// p50_ms, p90_ms, p95_ms, p99_ms, p999_ms: maximum percentile latencies.
    pub max_p50_ms: Option<f64>,
    pub max_p90_ms: Option<f64>,
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub max_p999_ms: Option<f64>,
    /// ops_per_sec: minimum throughput.
    pub min_ops_per_sec: Option<f64>,
    /// peak_memory_mb: maximum server peak RSS (skipped when not measured).
    pub max_peak_memory_mb: Option<f64>,
    /// leak: fail when the RSS trend is "growing" (skipped when not measured or inconclusive).
    pub fail_on_leak: bool,
    /// delivered_pct (ws_fanout): minimum share of expected events delivered, percent.
    pub min_delivered_pct: Option<f64>,
    /// duplicates, out_of_order, disconnects, bad_frames (ws_fanout): maximum counts.
    pub max_duplicates: Option<f64>,
    pub max_out_of_order: Option<f64>,
    pub max_disconnects: Option<f64>,
    pub max_bad_frames: Option<f64>,
    /// rate_pct (open loop): minimum achieved rate, percent of the requested one.
    pub min_rate_pct: Option<f64>,
    /// late_pct (open loop): maximum share of requests sent late, percent.
    pub max_late_pct: Option<f64>,
    /// checks_pct: minimum share of answers that pass each content check, percent.
    pub min_checks_pct: Option<f64>,
}

/// An open loop that delivers under 95 % of its rate, or sends over 5 % of
/// its requests late, did not offer the load asked of it: its figures
/// describe another load.
impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_success_rate_pct: None,
            max_avg_ms: None,
            max_p50_ms: None,
            max_p90_ms: None,
            max_p95_ms: None,
            max_p99_ms: None,
            max_p999_ms: None,
            min_ops_per_sec: None,
            max_peak_memory_mb: None,
            fail_on_leak: false,
            min_delivered_pct: None,
            max_duplicates: None,
            max_out_of_order: None,
            max_disconnects: None,
            max_bad_frames: None,
            min_rate_pct: Some(95.0),
            max_late_pct: Some(5.0),
            min_checks_pct: Some(100.0),
        }
    }
}

/// The threshold metrics of one load's latency and success figures: also
/// what a `--find-max` SLO may limit (`search::SLO_METRICS`).
pub const STEP_METRICS: [&str; 7] = [
    "success_rate",
    "avg_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
];

/// The threshold metrics a saturation step does not judge by: throughput,
/// the server's memory, fan-out delivery, the open loop's pace and checks.
const OTHER_METRICS: [&str; 11] = [
    "ops_per_sec",
    "peak_memory_mb",
    "leak",
    "delivered_pct",
    "duplicates",
    "out_of_order",
    "disconnects",
    "bad_frames",
    "rate_pct",
    "late_pct",
    "checks_pct",
];

/// The metric names accepted by [`Thresholds::set`], for error messages and docs.
pub const THRESHOLD_METRICS: [&str; 18] = concat(STEP_METRICS, OTHER_METRICS);

/// `a` then `b` (`N` must be `A + B`: checked at compile time).
const fn concat<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    assert!(A + B == N);
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Not failed, but not established either: the figure was not measured
    /// (no server PID), the leak analysis could not judge the run, or the
    /// figure rests on too few samples or too short a run. Makes the run's
    /// verdict inconclusive.
    Inconclusive,
    /// Does not apply to this scenario (a fan-out limit on another scenario).
    Skipped,
}

/// One threshold, judged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ThresholdCheck {
    pub metric: String,
    /// `">="` or `"<="` (`"=="` for the leak verdict).
    pub op: String,
    pub limit: f64,
    pub actual: Option<f64>,
    pub status: CheckStatus,
    pub note: Option<String>,
}
