//! Tables of a run's load shape, built once from the model like [`super::rows`]:
//! each stage's figures, and the steps of a saturation search.

use super::table::{Cell, Table, Tone};
use crate::model::{FindMax, ScenarioReport, SearchEnd, SearchStep, StageFigures, StepPhase};

fn level(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// What a stage ramps, e.g. `0 → 100 req/s` or `50 clients`.
pub fn stage_target(stage: &StageFigures) -> String {
    let span = &stage.span;
    let unit = span.ramps.unit();
    if span.from == span.to {
        format!("{} {unit}", level(span.to))
    } else {
        format!("{} → {} {unit}", level(span.from), level(span.to))
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
            Cell::new(stage.span.stage.to_string()),
            Cell::new(format!(
                "{:.1}–{:.1}",
                stage.span.start_secs, stage.span.end_secs
            )),
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

/// The search's answer in one line, e.g. `highest rate that met the SLO
/// (p99_ms <= 50): 205.3 req/s (broke at 212.5 req/s, converged)`.
pub fn find_max_line(search: &FindMax) -> String {
    let end = match search.end {
        SearchEnd::Converged => format!("within {}%", search.precision_pct),
        SearchEnd::BudgetSpent => "time budget spent before the precision was reached".into(),
        SearchEnd::NeverBroken => "the SLO never broke: the capacity is higher".into(),
        SearchEnd::NeverMet => "no rate met the SLO".into(),
    };
    let max = search
        .max_rate_per_sec
        .map_or("none".into(), |rate| format!("{rate:.1} req/s"));
    let broke = search
        .broke_at_rate_per_sec
        .map(|rate| format!(", broke at {rate:.1} req/s"))
        .unwrap_or_default();
    format!(
        "highest rate that met the SLO ({}): {max}{broke} — {end}; {} steps in {:.0} s",
        search.slo_text(),
        search.steps.len(),
        search.elapsed_secs
    )
}

/// The rate-versus-latency curve: one row per rate tried, lowest first.
pub fn find_max_table(search: &FindMax) -> Table {
    let mut table = Table::new(vec![
        "rate req/s",
        "achieved",
        "requests",
        "success",
        "p50 ms",
        "p99 ms",
        "step",
        "SLO",
    ]);
    table.text_last = true;
    let mut steps: Vec<&SearchStep> = search.steps.iter().collect();
    steps.sort_by(|a, b| a.rate_per_sec.total_cmp(&b.rate_per_sec));
    for step in steps {
        let slo = if step.met_slo {
            Cell::toned("met", Tone::Pass)
        } else {
            Cell::toned(format!("broken: {}", step.broken.join("; ")), Tone::Fail)
        };
        let number = match step.phase {
            StepPhase::Confirm => format!("{} (again)", step.step),
            StepPhase::Ramp | StepPhase::Bisect => step.step.to_string(),
        };
        table.rows.push(vec![
            Cell::new(format!("{:.1}", step.rate_per_sec)),
            Cell::new(format!("{:.1}", step.achieved_rate)),
            Cell::new(step.requests.to_string()),
            Cell::new(format!("{:.2}%", step.success_rate_pct)),
            Cell::new(format!("{:.2}", step.p50_ms)),
            Cell::new(format!("{:.2}", step.p99_ms)),
            Cell::new(number),
            slo,
        ]);
    }
    table
}
