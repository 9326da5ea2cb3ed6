//! The whole run as `report.json` holds it: the scenarios' figures and
//! checks, the run's settings, the summary and the verdict. Plain data;
//! [`crate::report`] renders it. The same types read a report.json back
//! (`--baseline`, `ctx load merge`): every field added since schema 2 is an
//! `Option` or has a serde default, so every schema-2 report still reads
//! (the one meaning changed since is converted as it is read, `read.rs`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    BaselineComparison, FindMax, MergedInput, PerformanceMetrics, RawHistograms, RunMode,
    StagePlan, ThresholdCheck, Thresholds, Verdict, WorkerShare,
};

/// Bumped whenever a field of `report.json` changes meaning or disappears
/// (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 3;

/// How a run was shaped (`profile` in report.json).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// `--quick`: the seed's sizes, about a second of load; never conclusive.
    Quick,
    /// The default run: the seed scenarios for a few seconds each, then a
    /// sustained phase long enough for the leak check.
    Full,
    /// A shape you chose (scenarios, scale, rate, duration...).
    Custom,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerInfo {
    /// true when `ctx load` started the server itself.
    pub started_by_load: bool,
    /// PID whose RSS/CPU were sampled; None = resources not measured.
    pub pid: Option<u32>,
    /// How stopping our server went, when it was not clean.
    pub stop_note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModeInfo {
    /// Closed or open (ws_fanout runs its writes in open loop either way).
    pub kind: RunMode,
    pub rate: Option<f64>,
    pub duration_secs: Option<f64>,
    pub scale: f64,
    pub clients_override: Option<u64>,
    pub timeout_secs: f64,
    /// `--stages` / `--client-stages`: the run's load shape (a file
    /// scenario's own stages are in its `metrics.stages`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<StagePlan>,
    /// `--think-time`, in milliseconds; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_ms: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamedFigure {
    pub scenario: String,
    pub value: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenario_count: usize,
    pub total_operations: u64,
    pub success_count: u64,
    pub overall_success_rate_pct: f64,
    /// Mean of the scenarios' throughputs (the seed's "average throughput").
    pub mean_throughput_ops_sec: f64,
    pub best_throughput: Option<NamedFigure>,
    pub slowest_average: Option<NamedFigure>,
    /// Highest server RSS over all scenarios; None = not measured.
    pub peak_memory_mb: Option<f64>,
    /// Mean of the scenarios' average CPU; None = not measured.
    pub avg_cpu_percent: Option<f64>,
    /// total_operations / peak_memory_mb (the seed's "memory efficiency").
    pub ops_per_mb: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub criteria: String,
    pub issues: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub thresholds: Thresholds,
    pub checks: Vec<ThresholdCheck>,
    /// No check failed (skipped checks do not fail).
    pub passed: bool,
    pub metrics: PerformanceMetrics,
    /// The raw histograms behind `metrics`, so reports of several machines
    /// combine exactly (`ctx load merge`); null for ws_fanout.
    pub hdr: Option<RawHistograms>,
}

/// Everything `report.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub tool: String,
    /// When the run started (before the server was started or reached), RFC 3339 UTC.
    pub started_at: String,
    /// When the report was made (after the last scenario), RFC 3339, UTC.
    pub generated_at: String,
    /// false when the run was aborted: the figures cover only the scenarios listed.
    pub complete: bool,
    pub aborted_reason: Option<AbortReason>,
    pub target: String,
    pub server: ServerInfo,
    pub mode: ModeInfo,
    pub summary: Summary,
    /// The run's one verdict; `readiness`, the exit code and every rendering follow it.
    pub verdict: Verdict,
    /// How the run was shaped: a smoke run, the default full run, or your own.
    pub profile: Profile,
    pub readiness: Readiness,
    /// Data-driven advice (errors, memory trend, saturation, coverage gaps).
    pub recommendations: Vec<String>,
    pub all_thresholds_passed: bool,
    pub scenarios: Vec<ScenarioReport>,
    /// A worker of a distributed run (`--workers N --worker-index I`): its
    /// share of the load; null otherwise.
    pub worker: Option<WorkerShare>,
    /// A merged report (`ctx load merge`): the reports it combines; null otherwise.
    pub merged_from: Option<Vec<MergedInput>>,
    /// `--baseline`: every figure compared with the earlier run's; null otherwise.
    pub baseline: Option<BaselineComparison>,
    /// A saturation search (`--find-max`): the rates tried and the highest
    /// that met the SLO; absent otherwise. `scenarios` then holds the step at
    /// that rate (or, when none met it, the lowest rate tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub find_max: Option<FindMax>,
}

/// Why a run stopped before every scenario finished (`aborted_reason` in
/// report.json, as its sentence).
#[derive(Clone, Debug, PartialEq)]
pub enum AbortReason {
    /// Ctrl-C.
    Interrupted { scenario: String },
    /// Our own server died, during a scenario or between two.
    ServerExited {
        status: String,
        scenario: String,
        during: bool,
        /// The last lines it wrote on stderr.
        stderr: String,
    },
    /// The engine itself failed (a worker task panicked...).
    EngineFailed { scenario: String, error: String },
    /// Read back from a report.json (`ctx load merge`, `--baseline`): the
    /// sentence it holds, which is all the file keeps of the reason.
    Recorded(String),
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::Interrupted { scenario } => write!(f, "interrupted during {scenario}"),
            AbortReason::ServerExited {
                status,
                scenario,
                during,
                stderr,
            } => {
                let when = if *during { "during" } else { "after" };
                write!(
                    f,
                    "the server exited ({status}) {when} {scenario}; stderr: {stderr}"
                )
            }
            AbortReason::EngineFailed { error, .. } => write!(f, "{error}"),
            AbortReason::Recorded(sentence) => write!(f, "{sentence}"),
        }
    }
}

impl Serialize for AbortReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AbortReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(AbortReason::Recorded)
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (count, sum) = values.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (count > 0).then(|| sum / count as f64)
}

impl Summary {
    /// The run's totals and highlights, from its scenarios.
    pub fn of(scenarios: &[ScenarioReport]) -> Summary {
        let all: Vec<&PerformanceMetrics> = scenarios.iter().map(|s| &s.metrics).collect();
        let total_operations: u64 = all.iter().map(|m| m.total_operations).sum();
        let success_count: u64 = all.iter().map(|m| m.success_count).sum();
        let overall_success_rate_pct = if total_operations == 0 {
            0.0
        } else {
            success_count as f64 / total_operations as f64 * 100.0
        };
        let best_throughput = all
            .iter()
            .max_by(|a, b| a.throughput_ops_sec.total_cmp(&b.throughput_ops_sec))
            .map(|m| NamedFigure {
                scenario: m.operation_type.clone(),
                value: m.throughput_ops_sec,
            });
        let slowest_average = all
            .iter()
            .max_by(|a, b| a.latency.avg_ms.total_cmp(&b.latency.avg_ms))
            .map(|m| NamedFigure {
                scenario: m.operation_type.clone(),
                value: m.latency.avg_ms,
            });
        let peak_memory_mb = all.iter().filter_map(|m| m.peak_memory_mb).reduce(f64::max);
        Summary {
            scenario_count: scenarios.len(),
            total_operations,
            success_count,
            overall_success_rate_pct,
            mean_throughput_ops_sec: mean(all.iter().map(|m| m.throughput_ops_sec)).unwrap_or(0.0),
            best_throughput,
            slowest_average,
            peak_memory_mb,
            avg_cpu_percent: mean(all.iter().filter_map(|m| m.avg_cpu_percent)),
            ops_per_mb: peak_memory_mb
                .filter(|p| *p > 0.0)
                .map(|p| total_operations as f64 / p),
        }
    }
}
