//! A run compared with an earlier one (`--baseline OLD/report.json`): what
//! was kept of the earlier run, and the figure-by-figure comparison that
//! report.json holds under `baseline`. Plain data; the rules are in
//! [`crate::scenarios::baseline`].

use serde::{Deserialize, Serialize};

use super::RunMode;

/// The figures a comparison looks at, in the order every rendering shows them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Requests completed per second (`throughput_ops_sec`).
    ThroughputOpsSec,
    P50Ms,
    P99Ms,
    SuccessRatePct,
    /// The server's peak RSS (`peak_memory_mb`).
    PeakMemoryMb,
    /// The server's CPU time per 1000 requests, in ms: average CPU over the
    /// run divided by throughput, so a run that serves more requests with
    /// proportionally more CPU is not a regression.
    CpuMsPer1000Requests,
}

impl Figure {
    pub const ALL: [Figure; 6] = [
        Figure::ThroughputOpsSec,
        Figure::P50Ms,
        Figure::P99Ms,
        Figure::SuccessRatePct,
        Figure::PeakMemoryMb,
        Figure::CpuMsPer1000Requests,
    ];

    /// The name report.json uses.
    pub fn key(self) -> &'static str {
        match self {
            Figure::ThroughputOpsSec => "throughput_ops_sec",
            Figure::P50Ms => "p50_ms",
            Figure::P99Ms => "p99_ms",
            Figure::SuccessRatePct => "success_rate_pct",
            Figure::PeakMemoryMb => "peak_memory_mb",
            Figure::CpuMsPer1000Requests => "cpu_ms_per_1000_requests",
        }
    }

    /// The short column label the tables use.
    pub fn label(self) -> &'static str {
        match self {
            Figure::ThroughputOpsSec => "ops/s",
            Figure::P50Ms => "p50 ms",
            Figure::P99Ms => "p99 ms",
            Figure::SuccessRatePct => "success %",
            Figure::PeakMemoryMb => "peak MB",
            Figure::CpuMsPer1000Requests => "CPU ms/1k req",
        }
    }

    /// Higher is better (throughput, success), or lower (latency, memory, CPU).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Figure::ThroughputOpsSec | Figure::SuccessRatePct)
    }
}

/// One figure's figures on one side of the comparison; None = not measured
/// (no server PID, no answered request).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FigureValues {
    pub throughput_ops_sec: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub success_rate_pct: Option<f64>,
    pub peak_memory_mb: Option<f64>,
    pub cpu_ms_per_1000_requests: Option<f64>,
}

impl FigureValues {
    pub fn get(&self, figure: Figure) -> Option<f64> {
        match figure {
            Figure::ThroughputOpsSec => self.throughput_ops_sec,
            Figure::P50Ms => self.p50_ms,
            Figure::P99Ms => self.p99_ms,
            Figure::SuccessRatePct => self.success_rate_pct,
            Figure::PeakMemoryMb => self.peak_memory_mb,
            Figure::CpuMsPer1000Requests => self.cpu_ms_per_1000_requests,
        }
    }
}

/// One scenario of the baseline run: how it ran, and its figures.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineScenario {
    pub name: String,
    pub mode: RunMode,
    pub clients: u64,
    /// Open loop (or fan-out writes): the rate asked for.
    pub target_rate: Option<f64>,
    pub figures: FigureValues,
}

/// What `--baseline` keeps of the earlier run's report.json.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineRun {
    /// The file as given.
    pub file: String,
    pub started_at: String,
    pub target: String,
    /// false: the baseline run was aborted; it has only the scenarios it finished.
    pub complete: bool,
    pub scenarios: Vec<BaselineScenario>,
}

/// A baseline and the tolerance it is compared with.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    pub run: BaselineRun,
    /// Relative change (in %) within which a figure counts as the same.
    pub tolerance_pct: f64,
}

/// How a figure moved.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Beyond the tolerance, in the good direction.
    Better,
    /// Within the tolerance (or its noise floor): the same.
    Same,
    /// Beyond the tolerance, in the bad direction: a regression, which fails the run.
    Worse,
    /// Not measured on one side (or both): no claim.
    NotCompared,
}

impl Change {
    /// The word the reports use.
    pub fn word(self) -> &'static str {
        match self {
            Change::Better => "better",
            Change::Same => "same",
            Change::Worse => "WORSE",
            Change::NotCompared => "not compared",
        }
    }
}

/// One figure of one scenario, then and now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FigureComparison {
    pub figure: Figure,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// (current − baseline) / baseline × 100; None when either is missing or the baseline is 0.
    pub change_pct: Option<f64>,
    pub change: Change,
}

/// One scenario present in both runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioComparison {
    pub scenario: String,
    /// Why its figures were not compared (ran in another mode or at another
    /// rate); None when they were.
    pub not_comparable: Option<String>,
    /// Every figure of [`Figure::ALL`], in that order (empty when not comparable).
    pub figures: Vec<FigureComparison>,
}

impl ScenarioComparison {
    pub fn regressions(&self) -> impl Iterator<Item = &FigureComparison> {
        self.figures.iter().filter(|f| f.change == Change::Worse)
    }
}

/// The whole comparison (`baseline` in report.json).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BaselineComparison {
    /// The baseline's report.json, as given.
    pub file: String,
    pub baseline_started_at: String,
    pub baseline_target: String,
    /// false: the baseline run was aborted (its missing scenarios are listed below).
    pub baseline_complete: bool,
    pub tolerance_pct: f64,
    /// Figures that got worse beyond the tolerance, over all scenarios.
    pub regressions: usize,
    pub scenarios: Vec<ScenarioComparison>,
    /// Scenarios of the baseline this run did not have: listed, not failed.
    pub only_in_baseline: Vec<String>,
    /// Scenarios of this run the baseline did not have: listed, not failed.
    pub only_in_current: Vec<String>,
}
