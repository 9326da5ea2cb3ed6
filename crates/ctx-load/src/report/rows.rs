//! The report's tables, built once from the model: each figure is formatted
//! here and nowhere else, then rendered by [`Table`] in every format.

use super::table::{Cell, Table, Tone};
use crate::model::{
    CheckStatus, FanoutSummary, LatencySummary, Outcome, RunReport, ScenarioReport,
    SubscriberSummary, ThresholdCheck,
};

/// Rows of the subscriber problem table the Markdown and HTML reports show,
/// at most (all are in report.json).
pub const MAX_PROBLEM_ROWS: usize = 20;

/// A figure that may not have been measured.
pub fn measured(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(value) => format!("{value:.1}{unit}"),
        None => "not measured".to_string(),
    }
}

/// `concurrent_reads` → `Concurrent Reads`, the seed report's section titles.
pub fn title_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn metrics_with(scenario: &ScenarioReport, status: CheckStatus) -> String {
    let metrics: Vec<&str> = scenario
        .checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.metric.as_str())
        .collect();
    metrics.join(", ")
}

/// How many checks passed, failed, were inconclusive, e.g. "14 passed, 1 failed, 2 inconclusive".
pub fn check_tally(report: &RunReport) -> String {
    let count = |status: CheckStatus| {
        report
            .scenarios
            .iter()
            .flat_map(|s| &s.checks)
            .filter(|c| c.status == status)
            .count()
    };
    format!(
        "{} passed, {} failed, {} inconclusive",
        count(CheckStatus::Pass),
        count(CheckStatus::Fail),
        count(CheckStatus::Inconclusive)
    )
}

/// The readiness headline: what the verdict means for production.
pub fn readiness_headline(report: &RunReport) -> Cell {
    match report.verdict.outcome {
        Outcome::Pass => Cell::toned(
            "PRODUCTION READY: every check held, on enough evidence",
            Tone::Pass,
        ),
        Outcome::Fail => Cell::toned("NOT READY: performance issues detected", Tone::Fail),
        Outcome::Inconclusive => Cell::new("INCONCLUSIVE: not enough evidence to call it ready"),
    }
}

/// The verdict cell: PASS, FAIL or INCONCLUSIVE.
pub fn verdict_cell(report: &RunReport) -> Cell {
    let word = report.verdict.outcome.word();
    match report.verdict.outcome {
        Outcome::Pass => Cell::toned(word, Tone::Pass),
        Outcome::Fail => Cell::toned(word, Tone::Fail),
        Outcome::Inconclusive => Cell::new(word),
    }
}

/// A scenario's result cell: `FAIL (failed metrics)`, `inconclusive (the
/// metrics without enough evidence)`, or `pass`.
pub fn result_cell(scenario: &ScenarioReport) -> Cell {
    if !scenario.passed {
        let failed = metrics_with(scenario, CheckStatus::Fail);
        return Cell::toned(format!("FAIL ({failed})"), Tone::Fail);
    }
    let unproven = metrics_with(scenario, CheckStatus::Inconclusive);
    if unproven.is_empty() {
        Cell::toned("pass", Tone::Pass)
    } else {
        Cell::new(format!("inconclusive ({unproven})"))
    }
}

/// Average connection set-up, "—" when no connection was opened.
fn connect_cell(connect: &LatencySummary) -> String {
    if connect.count == 0 {
        "—".into()
    } else {
        format!("{:.2}", connect.avg_ms)
    }
}

/// One row per scenario: the figures people compare first.
pub fn scenario_table(report: &RunReport) -> Table {
    let mut table = Table::new(vec![
        "scenario",
        "ops",
        "success",
        "ops/s",
        "avg ms",
        "p95 ms",
        "p99 ms",
        "connect ms",
        "peak MB",
        "avg CPU",
        "result",
    ]);
    table.text_last = true;
    for scenario in &report.scenarios {
        let m = &scenario.metrics;
        table.rows.push(vec![
            Cell::new(&scenario.name),
            Cell::new(m.total_operations.to_string()),
            Cell::new(format!("{:.1}%", m.success_rate_pct)),
            Cell::new(format!("{:.1}", m.throughput_ops_sec)),
            Cell::new(format!("{:.2}", m.latency.avg_ms)),
            Cell::new(format!("{:.2}", m.latency.p95_ms)),
            Cell::new(format!("{:.2}", m.latency.p99_ms)),
            Cell::new(connect_cell(&m.connect)),
            Cell::new(m.peak_memory_mb.map_or("n/m".into(), |v| format!("{v:.1}"))),
            Cell::new(
                m.avg_cpu_percent
                    .map_or("n/m".into(), |v| format!("{v:.1}%")),
            ),
            result_cell(scenario),
        ]);
    }
    table
}

fn check_status_cell(check: &ThresholdCheck) -> Cell {
    let note = check
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    match check.status {
        CheckStatus::Pass => Cell::toned(format!("pass{note}"), Tone::Pass),
        CheckStatus::Fail => Cell::toned(format!("FAIL{note}"), Tone::Fail),
        CheckStatus::Inconclusive => Cell::new(format!("inconclusive{note}")),
        CheckStatus::Skipped => Cell::new(format!("skipped{note}")),
    }
}

/// One row per scenario: its result and the checks that failed, with figures.
pub fn verdicts_table(report: &RunReport) -> Table {
    let mut table = Table::new(vec!["scenario", "result", "failed checks"]);
    // The result column holds the failed metrics too: the last column spells them out.
    table.text_last = true;
    for scenario in &report.scenarios {
        let failed: Vec<String> = scenario
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| {
                format!(
                    "{} {} {} (actual {})",
                    c.metric,
                    c.op,
                    c.limit,
                    c.actual.map(|a| format!("{a:.2}")).unwrap_or_default()
                )
            })
            .collect();
        let result = result_cell(scenario);
        let failed = if failed.is_empty() {
            "—".to_string()
        } else {
            failed.join("; ")
        };
        table
            .rows
            .push(vec![Cell::new(&scenario.name), result, Cell::new(failed)]);
    }
    table
}

/// One row per threshold of a scenario: limit, actual figure, result.
pub fn checks_table(scenario: &ScenarioReport) -> Table {
    let mut table = Table::new(vec!["threshold", "limit", "actual", "result"]);
    table.text_last = true;
    for check in &scenario.checks {
        let limit = if check.metric == "leak" {
            "not growing".to_string()
        } else {
            format!("{} {}", check.op, check.limit)
        };
        table.rows.push(vec![
            Cell::new(&check.metric),
            Cell::new(limit),
            Cell::new(check.actual.map_or("—".into(), |a| format!("{a:.2}"))),
            check_status_cell(check),
        ]);
    }
    table
}

/// One row per scenario: the server's memory and CPU, and the memory trend.
pub fn resources_table(report: &RunReport) -> Table {
    let mut table = Table::new(vec![
        "scenario",
        "samples",
        "peak RSS",
        "avg CPU",
        "RSS slope",
        "growth",
        "verdict",
    ]);
    table.text_last = true;
    for scenario in &report.scenarios {
        let row = match &scenario.metrics.resources {
            Some(res) => vec![
                Cell::new(&scenario.name),
                Cell::new(res.samples.len().to_string()),
                Cell::new(measured(res.peak_rss_mb, " MB")),
                Cell::new(measured(res.avg_cpu_percent, " %")),
                Cell::new(
                    res.leak
                        .slope_mb_per_min
                        .map_or("—".into(), |v| format!("{v:+.2} MB/min")),
                ),
                Cell::new(
                    res.leak
                        .growth_pct
                        .map_or("—".into(), |v| format!("{v:+.1} %")),
                ),
                Cell::new(format!("{:?}", res.leak.verdict)),
            ],
            None => vec![
                Cell::new(&scenario.name),
                Cell::new("0"),
                Cell::new("not measured"),
                Cell::new("not measured"),
                Cell::new("—"),
                Cell::new("—"),
                Cell::new("—"),
            ],
        };
        table.rows.push(row);
    }
    table
}

fn problem_row(subscriber: &SubscriberSummary) -> Vec<Cell> {
    let tally = &subscriber.tally;
    vec![
        Cell::new(subscriber.id.to_string()),
        Cell::new(tally.delivered.to_string()),
        Cell::new(tally.missing.to_string()),
        Cell::new(tally.duplicates.to_string()),
        Cell::new(tally.out_of_order.to_string()),
        Cell::new(subscriber.bad_frames.to_string()),
        Cell::new(format!("{:.2}", subscriber.p99_ms)),
        Cell::new(subscriber.disconnect.clone().unwrap_or_else(|| "—".into())),
    ]
}

/// The fan-out's subscribers that missed, repeated or reordered a write, got
/// a bad frame or were disconnected (at most [`MAX_PROBLEM_ROWS`]), and how
/// many more there were.
pub fn problem_table(fanout: &FanoutSummary) -> (Table, usize) {
    let mut table = Table::new(vec![
        "subscriber",
        "delivered",
        "missing",
        "duplicates",
        "out of order",
        "bad frames",
        "p99 ms",
        "disconnected",
    ]);
    table.text_last = true;
    let problems: Vec<&SubscriberSummary> = fanout.problem_subscribers().collect();
    table.rows = problems
        .iter()
        .take(MAX_PROBLEM_ROWS)
        .map(|s| problem_row(s))
        .collect();
    (table, problems.len().saturating_sub(MAX_PROBLEM_ROWS))
}

/// The fan-out's totals, one row.
pub fn fanout_table(fanout: &FanoutSummary) -> Table {
    let mut table = Table::new(vec![
        "writes",
        "target/s",
        "achieved/s",
        "ok",
        "late",
        "POST p99 ms",
        "expected",
        "delivered",
        "missing",
        "duplicates",
        "out of order",
        "disconnected",
        "bad frames",
    ]);
    table.rows.push(vec![
        Cell::new(fanout.writes_planned.to_string()),
        Cell::new(fanout.write_rate_target.to_string()),
        Cell::new(format!("{:.1}", fanout.write_rate_achieved)),
        Cell::new(fanout.writes_ok.to_string()),
        Cell::new(fanout.writes_late.to_string()),
        Cell::new(format!("{:.2}", fanout.write_latency.p99_ms)),
        Cell::new(fanout.expected.to_string()),
        Cell::new(fanout.tally.delivered.to_string()),
        Cell::new(fanout.tally.missing.to_string()),
        Cell::new(fanout.tally.duplicates.to_string()),
        Cell::new(fanout.tally.out_of_order.to_string()),
        Cell::new(fanout.disconnects.to_string()),
        Cell::new(fanout.bad_frames.to_string()),
    ]);
    table
}

/// One line for the terminal and the report, e.g.
/// "delivered 250000/250000 (100.0%), 0 missing, 0 duplicate, 0 out of order, ...".
pub fn delivery_line(fanout: &FanoutSummary, delivery: &LatencySummary) -> String {
    format!(
        "delivered {}/{} ({}), {} missing, {} duplicate, {} out of order, {} disconnected, {} bad frames; \
         delivery p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; writes {:.1}/s of {}/s",
        fanout.tally.delivered,
        fanout.expected,
        fanout
            .delivered_pct
            .map_or_else(|| "n/a".to_string(), |p| format!("{p:.1}%")),
        fanout.tally.missing,
        fanout.tally.duplicates,
        fanout.tally.out_of_order,
        fanout.disconnects,
        fanout.bad_frames,
        delivery.p50_ms,
        delivery.p99_ms,
        delivery.max_ms,
        fanout.write_rate_achieved,
        fanout.write_rate_target
    )
}

/// Where the figures come from, when not from one whole run: a worker's
/// share of a distributed run, or a merge of several reports.
pub fn provenance(r: &RunReport) -> Option<String> {
    if let Some(share) = r.worker {
        return Some(format!(
            "Worker {} of {}: this report holds its share of the load; `ctx load merge` the \
             workers' report.json files for the run's figures and verdict.",
            share.index, share.workers
        ));
    }
    let inputs = r.merged_from.as_ref()?;
    let list: Vec<String> = inputs
        .iter()
        .map(|i| match i.worker {
            Some(w) => format!("{} (worker {} of {})", i.file, w.index, w.workers),
            None => i.file.clone(),
        })
        .collect();
    Some(format!(
        "Merged from {} reports: {}.",
        inputs.len(),
        list.join(", ")
    ))
}
