//! Tables of a run's load shape, built once from the model like [`super::rows`]:
//! each stage's figures.

use super::table::{Cell, Table};
use crate::model::{ScenarioReport, StageFigures};

fn level(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// What a stage ramps, e.g. `0 → 100 req/s` or `50 clients`.
pub fn stage_target(stage: &StageFigures) -> String {
    let unit = stage.ramps.unit();
    if stage.from == stage.to {
        format!("{} {unit}", level(stage.to))
    } else {
        format!("{} → {} {unit}", level(stage.from), level(stage.to))
    }
}

/// One row per stage of a staged scenario; None when it was not staged.
pub fn stage_table(scenario: &ScenarioReport) -> Option<Table> {
    let stages = &scenario.metrics.stages;
    if stages.is_empty() {
        return None;
    }
    let mut table = Table::new(vec![
        "stage", "time s", "target", "requests", "req/s", "success", "p50 ms", "p99 ms",
    ]);
    for stage in stages {
        table.rows.push(vec![
            Cell::new(stage.stage.to_string()),
            Cell::new(format!("{:.1}–{:.1}", stage.start_secs, stage.end_secs)),
            Cell::new(stage_target(stage)),
            Cell::new(stage.requests.to_string()),
            Cell::new(format!("{:.1}", stage.achieved_rate)),
            Cell::new(format!("{:.1}%", stage.success_rate_pct)),
            Cell::new(format!("{:.2}", stage.latency.p50_ms)),
            Cell::new(format!("{:.2}", stage.latency.p99_ms)),
        ]);
    }
    Some(table)
}
