//! The terminal summary (stdout): the scenario table, the fan-out lines and
//! one closing line with the run's verdict.

use std::fmt::Write as _;

use std::path::Path;

use serde_json::json;

use super::{baseline, rows, shape_rows};
use crate::model::RunReport;

/// Reasons of the verdict the terminal shows (all are in the report).
const TERMINAL_REASONS: usize = 4;

/// The summary printed at the end of a run.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    if let Some(search) = &report.find_max {
        let _ = writeln!(out, "saturation search, rate by rate:");
        out.push_str(&shape_rows::find_max_table(search).terminal());
        let _ = writeln!(out, "{}", shape_rows::find_max_line(search));
    }
    out.push_str(&rows::scenario_table(report).terminal());
    for scenario in &report.scenarios {
        if let Some(stages) = shape_rows::stage_table(scenario) {
            let _ = writeln!(out, "{} by stage:", scenario.name);
            out.push_str(&stages.terminal());
        }
        if let Some(fanout) = &scenario.metrics.fanout {
            let _ = writeln!(
                out,
                "  {}: {}",
                scenario.name,
                rows::delivery_line(fanout, &scenario.metrics.latency)
            );
        }
    }
    let _ = writeln!(
        out,
        "{} scenario(s), {} operations, {:.1}% success; checks: {}{}",
        report.summary.scenario_count,
        report.summary.total_operations,
        report.summary.overall_success_rate_pct,
        rows::check_tally(report),
        if report.complete {
            ""
        } else {
            " — INCOMPLETE RUN"
        }
    );
    if let Some(line) = rows::provenance(report) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(comparison) = &report.baseline {
        let _ = writeln!(out, "{}", baseline::headline(comparison));
        out.push_str(&baseline::changes_table(comparison).terminal());
        for note in baseline::notes(comparison) {
            let _ = writeln!(out, "{note}");
        }
    }
    let _ = writeln!(out, "verdict: {}", report.verdict.line(TERMINAL_REASONS));
    out
}

/// The same summary as one JSON document (`ctx load --json`): the verdict,
/// the totals, the baseline comparison's rows, and the scenario table's rows (the row model's JSON rendering,
/// the cells exactly as the table shows them). Every figure with full
/// precision is in report.json, whose path this gives.
pub fn summary_json(report: &RunReport, report_dir: Option<&Path>) -> serde_json::Value {
    json!({
        "schema_version": report.schema_version,
        "verdict": report.verdict,
        "profile": report.profile,
        "complete": report.complete,
        "target": report.target,
        "summary": report.summary,
        "checks": rows::check_tally(report),
        "scenarios": rows::scenario_table(report).json(),
        "baseline": report.baseline.as_ref().map(|comparison| json!({
            "file": comparison.file,
            "tolerance_pct": comparison.tolerance_pct,
            "regressions": comparison.regressions,
            "changes": baseline::changes_table(comparison).json(),
            "notes": baseline::notes(comparison),
        })),
        "find_max": report.find_max.as_ref().map(|search| json!({
            "max_rate_per_sec": search.max_rate_per_sec,
            "end": search.end,
            "steps": shape_rows::find_max_table(search).json(),
        })),
        "report_json": report_dir.map(|d| d.join("report.json")),
    })
}
