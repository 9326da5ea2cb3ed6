//! What `ctx load merge` reads of a report.json: the run's facts and, per
//! scenario, the counters and raw histograms that recombine exactly. Other
//! fields (the derived figures, checks, verdict) are ignored: they are
//! recomputed from these.

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;
use crate::model::{
    ContentCheckTally, ErrorBreakdown, ModeInfo, Profile, RawHistograms, ResourceUsage, RunMode,
    SCHEMA_VERSION, SecondBucket, ServerInfo, SetupSummary, Thresholds, Timeline, WorkerShare,
};

#[derive(Debug, Deserialize)]
pub(super) struct InputReport {
    pub schema_version: u32,
    pub started_at: String,
    pub complete: bool,
    pub aborted_reason: Option<String>,
    pub target: String,
    pub server: ServerInfo,
    pub mode: ModeInfo,
    pub profile: Profile,
    #[serde(default)]
    pub worker: Option<WorkerShare>,
    pub scenarios: Vec<InputScenario>,
}

#[derive(Debug, Deserialize)]
pub(super) struct InputScenario {
    pub name: String,
    pub description: String,
    pub thresholds: Thresholds,
    pub metrics: InputMetrics,
    #[serde(default)]
    pub hdr: Option<RawHistograms>,
}

#[derive(Debug, Deserialize)]
pub(super) struct InputMetrics {
    pub mode: RunMode,
    pub clients: u64,
    pub ops_per_client: Option<u64>,
    pub total_operations: u64,
    pub duration_secs: f64,
    pub success_count: u64,
    pub errors: ErrorBreakdown,
    pub throughput_series: Vec<SecondBucket>,
    /// Absent in reports written before the timeline existed.
    #[serde(default)]
    pub timeline: Timeline,
    pub open_loop: Option<InputOpenLoop>,
    pub resources: Option<ResourceUsage>,
    pub setup: Option<SetupSummary>,
    /// Absent in reports written before content checks existed.
    #[serde(default)]
    pub content_checks: Vec<ContentCheckTally>,
}

#[derive(Debug, Deserialize)]
pub(super) struct InputOpenLoop {
    pub target_rate: f64,
    #[serde(default)]
    pub run_target_rate: Option<f64>,
    pub planned: u64,
    pub sent: u64,
    pub late: u64,
    pub late_slack_ms: f64,
}

impl InputMetrics {
    /// Requests attempted (what throughput counts): all of them in closed
    /// loop, those sent in open loop (dropped ones never were).
    pub fn attempted(&self) -> u64 {
        match &self.open_loop {
            Some(open) => open.sent,
            None => self.total_operations,
        }
    }
}

/// Reads and checks one report.json: a finished run, of a schema this
/// version understands, with raw histograms in every scenario.
pub(super) fn read(path: &Path) -> Result<InputReport, LoadError> {
    let bad = |why: String| LoadError::InvalidOption(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let report: InputReport =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a ctx load report.json: {e}")))?;
    if report.schema_version > SCHEMA_VERSION {
        return Err(bad(format!(
            "schema_version {} is newer than this ctx load understands ({SCHEMA_VERSION}); \
             merge with the ctx version that wrote it",
            report.schema_version
        )));
    }
    if !report.complete {
        return Err(bad(format!(
            "an incomplete run ({}) cannot be merged exactly; rerun that worker",
            report.aborted_reason.as_deref().unwrap_or("aborted")
        )));
    }
    if let Some(s) = report.scenarios.iter().find(|s| s.hdr.is_none()) {
        return Err(bad(format!(
            "scenario {} has no raw histograms (ws_fanout, or a report written before \
             ctx load kept them): it cannot be merged",
            s.name
        )));
    }
    Ok(report)
}
