//! From figures to a judged report: one scenario's checks, then the run's
//! summary, verdict ([`super::decide`]), readiness and advice. A run and
//! `ctx load merge` both go through here, so a merged report is judged by
//! exactly the rules of a single run.

use crate::model::{
    AbortReason, Baseline, CheckStatus, FindMax, MergedInput, ModeInfo, PerformanceMetrics,
    Profile, RawHistograms, RunMode, RunReport, SCHEMA_VERSION, ScenarioReport, ServerInfo,
    Summary, Thresholds, WorkerShare,
};

use super::{RunContext, decide, evaluate, readiness, recommendations};

/// Everything a run's report holds besides its scenarios and what is judged.
#[derive(Clone, Debug)]
pub struct RunFacts {
    pub started_at: String,
    /// Why the run stopped early; None = it finished.
    pub aborted: Option<AbortReason>,
    pub target: String,
    pub server: ServerInfo,
    pub mode: ModeInfo,
    pub profile: Profile,
    pub worker: Option<WorkerShare>,
    pub merged_from: Option<Vec<MergedInput>>,
    /// `--baseline`: the earlier run to compare with.
    pub baseline: Option<Baseline>,
    /// A saturation search (`--find-max`); None otherwise.
    pub find_max: Option<FindMax>,
}

/// What one scenario measured, before it is judged.
#[derive(Clone, Debug)]
pub struct ScenarioFigures {
    pub name: String,
    pub description: String,
    pub thresholds: Thresholds,
    pub metrics: PerformanceMetrics,
    /// The open-loop (or fan-out write) rate asked of this process; None in closed loop.
    pub target_rate: Option<f64>,
    pub hdr: Option<RawHistograms>,
}

/// One scenario's checks against its thresholds.
pub fn judge_scenario(figures: ScenarioFigures) -> ScenarioReport {
    let checks = evaluate(&figures.thresholds, &figures.metrics, figures.target_rate);
    let passed = checks.iter().all(|c| c.status != CheckStatus::Fail);
    ScenarioReport {
        name: figures.name,
        description: figures.description,
        thresholds: figures.thresholds,
        checks,
        passed,
        metrics: figures.metrics,
        hdr: figures.hdr,
    }
}

/// The run's report: its judged scenarios, summary, the one verdict,
/// readiness and advice.
pub fn judge_run(facts: RunFacts, scenarios: Vec<ScenarioReport>) -> RunReport {
    let summary = Summary::of(&scenarios);
    let comparison = facts
        .baseline
        .as_ref()
        .map(|baseline| super::baseline::compare(baseline, &scenarios));
    let verdict = decide(
        &scenarios,
        RunContext {
            smoke: facts.profile == Profile::Quick,
            baseline: comparison.as_ref(),
            search: facts.find_max.as_ref(),
        },
    );
    let readiness = readiness(&verdict);
    let all_passed = scenarios.iter().all(|s| s.passed);
    let recommendations = recommendations(
        &scenarios,
        facts.server.pid.is_some(),
        facts.mode.kind == RunMode::Open,
    );
    RunReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("ctx-load {}", env!("CARGO_PKG_VERSION")),
        started_at: facts.started_at,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        complete: facts.aborted.is_none(),
        all_thresholds_passed: all_passed && facts.aborted.is_none(),
        aborted_reason: facts.aborted,
        target: facts.target,
        server: facts.server,
        mode: facts.mode,
        summary,
        verdict,
        profile: facts.profile,
        readiness,
        recommendations,
        scenarios,
        worker: facts.worker,
        merged_from: facts.merged_from,
        baseline: comparison,
        find_max: facts.find_max,
    }
}
