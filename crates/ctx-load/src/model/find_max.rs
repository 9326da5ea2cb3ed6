//! A saturation search (`--find-max`): the open-loop rates tried, what each
//! measured, and the highest rate that met the SLO (`find_max` in
//! report.json). Plain data: [`crate::runner`] searches,
//! [`crate::scenarios::decide`] judges, [`crate::report`] renders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the search ended (`find_max.end` in report.json).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SearchEnd {
    /// The highest rate that met the SLO and the lowest that broke it are
    /// within the search's precision of each other.
    Converged,
    /// The time budget ran out between a rate that met the SLO and one that
    /// broke it, further apart than the precision: the maximum lies between.
    BudgetSpent,
    /// The SLO held at every rate tried: the capacity is higher.
    NeverBroken,
    /// Even the lowest rate tried broke the SLO.
    NeverMet,
}

/// Which part of the search a step belongs to.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    /// Doubling the rate until the SLO breaks (halving, when the first rate broke it).
    Ramp,
    /// Halving the interval between the best rate that met it and the lowest that broke it.
    Bisect,
    /// The same rate again, after it broke the SLO once: it broke the SLO
    /// only if it breaks it again.
    Confirm,
}

/// One rate tried: an open loop at `rate_per_sec` for the step's duration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchStep {
    /// 1-based, in the order they ran.
    pub step: usize,
    pub phase: StepPhase,
    pub rate_per_sec: f64,
    pub achieved_rate: f64,
    pub requests: u64,
    pub success_rate_pct: f64,
    /// Corrected latency (from the intended send time).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub met_slo: bool,
    /// The SLO checks that failed, as `metric actual (limit)`; empty when met.
    pub broken: Vec<String>,
    /// Seconds from the start of the search when the step started.
    pub started_secs: f64,
    pub duration_secs: f64,
}

/// The search and its answer (`find_max` in report.json).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FindMax {
    /// The highest rate that met the SLO; null when none did.
    pub max_rate_per_sec: Option<f64>,
    /// The lowest rate that broke it; null when none did.
    pub broke_at_rate_per_sec: Option<f64>,
    /// The SLO as given: metric → limit (the `--threshold` metric names).
    pub slo: BTreeMap<String, f64>,
    pub end: SearchEnd,
    /// Every step, in the order they ran (sort by rate for the curve).
    pub steps: Vec<SearchStep>,
    /// The search stops when the bracket is narrower than this share of the
    /// best rate, percent.
    pub precision_pct: f64,
    pub step_secs: f64,
    /// The time budget (`--max-duration`).
    pub max_duration_secs: f64,
    /// How long the search took.
    pub elapsed_secs: f64,
}

impl FindMax {
    /// The SLO as a reader writes it: `p99_ms <= 50, success_rate >= 99.9`.
    pub fn slo_text(&self) -> String {
        let parts: Vec<String> = self
            .slo
            .iter()
            .map(|(metric, limit)| {
                let op = if metric == "success_rate" { ">=" } else { "<=" };
                format!("{metric} {op} {limit}")
            })
            .collect();
        parts.join(", ")
    }
}
