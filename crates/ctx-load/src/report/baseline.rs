//! The comparison with `--baseline`, as tables and lines: built once here,
//! rendered by [`Table`] in the terminal, report.md, report.html and `--json`.

use super::table::{Cell, Table, Tone};
use crate::model::{BaselineComparison, Change, Figure, FigureComparison, ScenarioComparison};

/// A figure's value as the tables show it.
fn value(figure: Figure, value: Option<f64>) -> String {
    match (figure, value) {
        (_, None) => "n/m".into(),
        (Figure::P50Ms | Figure::P99Ms, Some(v)) => format!("{v:.2}"),
        (Figure::SuccessRatePct, Some(v)) => format!("{v:.2}%"),
        (_, Some(v)) => format!("{v:.1}"),
    }
}

/// How a figure moved: "+12.3%" (the success rate in percentage points,
/// the unit it is judged in), or "from 0".
fn change_text(f: &FigureComparison) -> String {
    match (f.figure, f.baseline, f.current, f.change_pct) {
        (Figure::SuccessRatePct, Some(was), Some(is), _) => format!("{:+.2} pp", is - was),
        (_, _, _, Some(pct)) => format!("{pct:+.1}%"),
        (_, Some(_), Some(_), None) => "from 0".into(),
        _ => "—".into(),
    }
}

fn tone(change: Change) -> Tone {
    match change {
        Change::Better => Tone::Pass,
        Change::Worse => Tone::Fail,
        Change::Same | Change::NotCompared => Tone::Plain,
    }
}

/// "+173.2% WORSE", "-3.0% same", "n/m".
fn change_cell(f: &FigureComparison) -> Cell {
    if f.change == Change::NotCompared {
        return Cell::new("n/m");
    }
    Cell::toned(
        format!("{} {}", change_text(f), f.change.word()),
        tone(f.change),
    )
}

fn columns(first: &'static str) -> Vec<&'static str> {
    std::iter::once(first)
        .chain(Figure::ALL.iter().map(|f| f.label()))
        .collect()
}

fn compact_row(scenario: &ScenarioComparison) -> Vec<Cell> {
    let mut row = vec![Cell::new(&scenario.scenario)];
    if scenario.not_comparable.is_some() {
        row.extend(Figure::ALL.iter().map(|_| Cell::new("not compared")));
    } else {
        row.extend(scenario.figures.iter().map(change_cell));
    }
    row
}

/// One row per scenario in both runs, one column per figure: how it moved
/// against the baseline (the terminal, `--json`, the top of the reports).
pub fn changes_table(comparison: &BaselineComparison) -> Table {
    let mut table = Table::new(columns("vs baseline"));
    table.rows = comparison.scenarios.iter().map(compact_row).collect();
    table
}

/// One row per figure: the baseline's value, this run's, the change (report.md, report.html).
pub fn figures_table(comparison: &BaselineComparison) -> Table {
    let mut table = Table::new(vec!["scenario", "figure", "baseline", "this run", "change"]);
    table.text_last = true;
    for scenario in &comparison.scenarios {
        for f in &scenario.figures {
            table.rows.push(vec![
                Cell::new(&scenario.scenario),
                Cell::new(f.figure.key()),
                Cell::new(value(f.figure, f.baseline)),
                Cell::new(value(f.figure, f.current)),
                change_cell(f),
            ]);
        }
    }
    table
}

/// What the comparison was against and what it found, e.g. "Baseline:
/// old/report.json (run 2026-12-01T18:00:00Z), tolerance 10%: 1 regression.".
pub fn headline(comparison: &BaselineComparison) -> String {
    let regressions = match comparison.regressions {
        0 => "no regression".to_string(),
        1 => "1 regression".to_string(),
        n => format!("{n} regressions"),
    };
    format!(
        "Baseline: {} (run {}{}), tolerance {}%: {regressions}.",
        comparison.file,
        comparison.baseline_started_at,
        if comparison.baseline_complete {
            ""
        } else {
            ", incomplete"
        },
        comparison.tolerance_pct
    )
}

/// Scenarios not compared (in one run only, or run differently): listed, never failed.
pub fn notes(comparison: &BaselineComparison) -> Vec<String> {
    let mut notes = Vec::new();
    if !comparison.only_in_baseline.is_empty() {
        notes.push(format!(
            "Only in the baseline (not compared): {}.",
            comparison.only_in_baseline.join(", ")
        ));
    }
    if !comparison.only_in_current.is_empty() {
        notes.push(format!(
            "Only in this run (not compared): {}.",
            comparison.only_in_current.join(", ")
        ));
    }
    for scenario in &comparison.scenarios {
        if let Some(why) = &scenario.not_comparable {
            notes.push(format!("{} not compared: it {why}.", scenario.scenario));
        }
    }
    notes
}
