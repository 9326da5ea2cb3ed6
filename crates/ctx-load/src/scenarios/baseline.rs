//! `--baseline OLD/report.json [--tolerance 10%]`: this run's figures against
//! an earlier run's, scenario by scenario (matched by name). The rules:
//!
//! - **Figures**: throughput, p50, p99, success rate, the server's peak RSS and
//!   its CPU time per 1000 requests (average CPU ÷ throughput, so serving more
//!   requests with proportionally more CPU is not a regression).
//! - **Direction**: throughput and success rate are better higher; latency,
//!   memory and CPU lower.
//! - **Tolerance**: a figure is the *same* when its relative change is within
//!   the tolerance, *better* or *worse* beyond it. Every *worse* figure is a
//!   regression and fails the run ([`super::decide`]).
//! - **Noise floors**: latency changes of at most 0.05 ms and memory changes of
//!   at most 1 MB are the same whatever their relative size (a 0.1 ms p50
//!   becoming 0.14 ms is timer noise, not +40 %). The success rate is judged
//!   on its failure rate: worse when failures rose by more than the tolerance
//!   of the baseline's failure rate and by more than 0.1 percentage point
//!   (100 % → 99.95 % is the same; 100 % → 99 % is worse).
//! - **Not compared**: a figure not measured on both sides (no server PID, no
//!   answered request); a scenario that ran in another mode, at another rate
//!   or with another client count (its figures answer another question).
//!   Scenarios in only one of the runs are listed, not failed.

use std::path::Path;

use crate::error::LoadError;
use crate::model::{
    Baseline, BaselineComparison, BaselineRun, BaselineScenario, Change, Figure, FigureComparison,
    FigureValues, PerformanceMetrics, ReportReadError, RunReport, ScenarioComparison,
    ScenarioReport,
};

/// The default `--tolerance`, in %.
pub const DEFAULT_TOLERANCE_PCT: f64 = 10.0;
/// Latency changes up to this are noise (ms).
pub const LATENCY_FLOOR_MS: f64 = 0.05;
/// Peak-memory changes up to this are noise (MB).
pub const MEMORY_FLOOR_MB: f64 = 1.0;
/// Failure-rate changes up to this are noise (percentage points).
pub const FAILURE_FLOOR_PP: f64 = 0.1;

/// Parses `--tolerance`: `10%` or `10`, from 0 to 1000.
pub fn parse_tolerance(text: &str) -> Result<f64, LoadError> {
    let number = text.trim().trim_end_matches('%').trim();
    number
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && (0.0..=1000.0).contains(t))
        .ok_or_else(|| {
            LoadError::InvalidOption(format!(
                "--tolerance {text:?}: expected a percentage from 0 to 1000, e.g. 10%"
            ))
        })
}

/// The figures compared, from a scenario's metrics (this run's or the baseline's).
fn figure_values(m: &PerformanceMetrics) -> FigureValues {
    let latency = |ms: f64| (m.latency.count > 0).then_some(ms);
    let throughput = m.throughput_ops_sec;
    FigureValues {
        throughput_ops_sec: Some(throughput),
        p50_ms: latency(m.latency.p50_ms),
        p99_ms: latency(m.latency.p99_ms),
        success_rate_pct: Some(m.success_rate_pct),
        peak_memory_mb: m.peak_memory_mb,
        // CPU % of one core × 10 000 / (requests/s) = CPU ms per 1000 requests.
        cpu_ms_per_1000_requests: m
            .avg_cpu_percent
            .filter(|_| throughput > 0.0)
            .map(|cpu| cpu * 10_000.0 / throughput),
    }
}

/// The rate a scenario was offered: open loop's, or ws_fanout's write rate.
fn target_rate(m: &PerformanceMetrics) -> Option<f64> {
    match (&m.open_loop, &m.fanout) {
        (Some(open), _) => Some(open.target_rate),
        (None, Some(fanout)) => Some(fanout.write_rate_target),
        (None, None) => None,
    }
}

/// Reads an earlier run's report.json as a baseline. Errors (exit 2) say
/// what is wrong: unreadable, not a report, or a schema this version does
/// not compare with.
pub fn read(path: &Path, tolerance_pct: f64) -> Result<Baseline, LoadError> {
    let bad =
        |why: String| LoadError::InvalidOption(format!("--baseline {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let report = RunReport::from_json(&text).map_err(|e| {
        bad(match e {
            ReportReadError::TooOld(_) => format!("{e}; run the baseline again with this ctx load"),
            ReportReadError::TooNew(_) => {
                format!("{e}; compare with the ctx version that wrote it")
            }
            _ => e.to_string(),
        })
    })?;
    let scenarios = report
        .scenarios
        .iter()
        .map(|s| BaselineScenario {
            name: s.name.clone(),
            mode: s.metrics.mode,
            clients: s.metrics.clients,
            target_rate: target_rate(&s.metrics),
            figures: figure_values(&s.metrics),
        })
        .collect();
    Ok(Baseline {
        run: BaselineRun {
            file: path.display().to_string(),
            started_at: report.started_at,
            target: report.target,
            complete: report.complete,
            scenarios,
        },
        tolerance_pct,
    })
}

/// How one figure moved, by the rules above.
pub fn judge_change(figure: Figure, baseline: f64, current: f64, tolerance_pct: f64) -> Change {
    if figure == Figure::SuccessRatePct {
        let (was, is) = (100.0 - baseline, 100.0 - current);
        let allowed = FAILURE_FLOOR_PP.max(tolerance_pct / 100.0 * was);
        return if is - was > allowed {
            Change::Worse
        } else if was - is > allowed {
            Change::Better
        } else {
            Change::Same
        };
    }
    let floor = match figure {
        Figure::P50Ms | Figure::P99Ms => LATENCY_FLOOR_MS,
        Figure::PeakMemoryMb => MEMORY_FLOOR_MB,
        _ => 0.0,
    };
    let delta = current - baseline;
    if delta.abs() <= floor {
        return Change::Same;
    }
    let relative_pct = if baseline > 0.0 {
        delta.abs() / baseline * 100.0
    } else {
        f64::INFINITY
    };
    if relative_pct <= tolerance_pct {
        Change::Same
    } else if (delta > 0.0) == figure.higher_is_better() {
        Change::Better
    } else {
        Change::Worse
    }
}

/// Why a scenario's figures answer another question than the baseline's, if they do.
fn not_comparable(then: &BaselineScenario, now: &ScenarioReport) -> Option<String> {
    let m = &now.metrics;
    if then.mode != m.mode {
        return Some(format!(
            "ran in {} mode in the baseline, {} now",
            then.mode.name(),
            m.mode.name()
        ));
    }
    let rate = target_rate(m);
    if let (Some(was), Some(is)) = (then.target_rate, rate)
        && (was - is).abs() > 1e-9 * was.abs().max(is.abs())
    {
        return Some(format!(
            "ran at {was} req/s in the baseline, {is} req/s now"
        ));
    }
    if then.clients != m.clients {
        return Some(format!(
            "ran with {} clients in the baseline, {} now",
            then.clients, m.clients
        ));
    }
    None
}

/// Compares this run's scenarios with the baseline's.
pub fn compare(baseline: &Baseline, scenarios: &[ScenarioReport]) -> BaselineComparison {
    let run = &baseline.run;
    let mut compared = Vec::new();
    let mut only_in_current = Vec::new();
    for now in scenarios {
        let Some(then) = run.scenarios.iter().find(|s| s.name == now.name) else {
            only_in_current.push(now.name.clone());
            continue;
        };
        let reason = not_comparable(then, now);
        let figures = if reason.is_some() {
            Vec::new()
        } else {
            let values = figure_values(&now.metrics);
            Figure::ALL
                .iter()
                .map(|&figure| {
                    let (was, is) = (then.figures.get(figure), values.get(figure));
                    let change = match (was, is) {
                        (Some(was), Some(is)) => {
                            judge_change(figure, was, is, baseline.tolerance_pct)
                        }
                        _ => Change::NotCompared,
                    };
                    FigureComparison {
                        figure,
                        baseline: was,
                        current: is,
                        change_pct: was
                            .zip(is)
                            .filter(|(was, _)| *was != 0.0)
                            .map(|(was, is)| (is - was) / was * 100.0),
                        change,
                    }
                })
                .collect()
        };
        compared.push(ScenarioComparison {
            scenario: now.name.clone(),
            not_comparable: reason,
            figures,
        });
    }
    let only_in_baseline = run
        .scenarios
        .iter()
        .filter(|then| !scenarios.iter().any(|now| now.name == then.name))
        .map(|then| then.name.clone())
        .collect();
    BaselineComparison {
        file: run.file.clone(),
        baseline_started_at: run.started_at.clone(),
        baseline_target: run.target.clone(),
        baseline_complete: run.complete,
        tolerance_pct: baseline.tolerance_pct,
        regressions: compared.iter().map(|s| s.regressions().count()).sum(),
        scenarios: compared,
        only_in_baseline,
        only_in_current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_of_the_first_schema_2_version_reads_as_a_baseline() {
        // Written by `ctx load --scenario concurrent_reads --scenario
        // mixed_workload --rate 100 --duration 1` built at 396f4f9, the commit
        // that made schema 2: none of the fields added since (timeline,
        // content_checks, stages, hdr, run_target_rate, worker, ...).
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/report-schema2-396f4f9.json");
        let text = std::fs::read_to_string(&path).expect("the fixture");
        let raw: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let report = RunReport::from_json(&text).expect("a schema-2 report reads");
        assert_eq!(report.scenarios.len(), 2);
        assert!(report.worker.is_none() && report.merged_from.is_none());
        for (scenario, written) in report
            .scenarios
            .iter()
            .zip(raw["scenarios"].as_array().expect("scenarios"))
        {
            let m = &scenario.metrics;
            assert_eq!(scenario.name, written["name"]);
            assert_eq!(
                Some(m.throughput_ops_sec),
                written["metrics"]["throughput_ops_sec"].as_f64()
            );
            assert_eq!(
                Some(m.latency.p99_ms),
                written["metrics"]["latency"]["p99_ms"].as_f64()
            );
            assert!(m.timeline.buckets.is_empty() && m.content_checks.is_empty());
            assert!(m.stages.is_empty() && scenario.hdr.is_none());
            let open = m.open_loop.as_ref().expect("open loop");
            assert_eq!((open.target_rate, open.run_target_rate), (100.0, None));
        }
        let baseline = read(&path, DEFAULT_TOLERANCE_PCT).expect("reads as a baseline");
        let first = &baseline.run.scenarios[0];
        assert_eq!(
            (first.name.as_str(), first.mode, first.target_rate),
            ("concurrent_reads", crate::model::RunMode::Open, Some(100.0))
        );
        // The figures are the written ones (not figure_values of the same
        // parsed report, which would prove nothing about reading).
        let written = &raw["scenarios"][0]["metrics"];
        let throughput = written["throughput_ops_sec"].as_f64().expect("throughput");
        let cpu = written["avg_cpu_percent"].as_f64().expect("CPU");
        assert_eq!(
            first.figures,
            FigureValues {
                throughput_ops_sec: Some(throughput),
                p50_ms: written["latency"]["p50_ms"].as_f64(),
                p99_ms: written["latency"]["p99_ms"].as_f64(),
                success_rate_pct: written["success_rate_pct"].as_f64(),
                peak_memory_mb: written["peak_memory_mb"].as_f64(),
                cpu_ms_per_1000_requests: Some(cpu * 10_000.0 / throughput),
            }
        );
        assert_eq!(first.figures.p50_ms, Some(0.713), "the fixture's p50");
        assert!(
            first.figures.peak_memory_mb.is_some(),
            "{:?}",
            first.figures
        );
    }

    #[test]
    fn the_tolerance_reads_as_a_percentage() {
        assert_eq!(parse_tolerance("10%").unwrap(), 10.0);
        assert_eq!(parse_tolerance(" 2.5 ").unwrap(), 2.5);
        assert_eq!(parse_tolerance("0%").unwrap(), 0.0);
        for bad in ["", "%", "ten", "-1%", "1001", "NaN", "inf"] {
            assert!(parse_tolerance(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_figure_is_judged_in_its_direction_beyond_the_tolerance() {
        use Change::*;
        let judge = |figure, was, is| judge_change(figure, was, is, 10.0);
        assert_eq!(judge(Figure::ThroughputOpsSec, 1000.0, 950.0), Same);
        assert_eq!(judge(Figure::ThroughputOpsSec, 1000.0, 850.0), Worse);
        assert_eq!(judge(Figure::ThroughputOpsSec, 1000.0, 1200.0), Better);
        assert_eq!(judge(Figure::ThroughputOpsSec, 0.0, 5.0), Better);
        assert_eq!(judge(Figure::P99Ms, 10.0, 10.9), Same);
        assert_eq!(judge(Figure::P99Ms, 10.0, 11.5), Worse);
        assert_eq!(judge(Figure::P99Ms, 10.0, 8.0), Better);
        // Below the noise floor, however large in relative terms.
        assert_eq!(judge(Figure::P50Ms, 0.10, 0.14), Same);
        assert_eq!(judge(Figure::P50Ms, 0.10, 0.20), Worse);
        assert_eq!(judge(Figure::PeakMemoryMb, 5.0, 5.9), Same);
        assert_eq!(judge(Figure::PeakMemoryMb, 50.0, 60.0), Worse);
        assert_eq!(judge(Figure::CpuMsPer1000Requests, 100.0, 125.0), Worse);
        // Success: judged on the failure rate, with a 0.1 pp floor.
        assert_eq!(judge(Figure::SuccessRatePct, 100.0, 99.95), Same);
        assert_eq!(judge(Figure::SuccessRatePct, 100.0, 99.0), Worse);
        assert_eq!(judge(Figure::SuccessRatePct, 90.0, 89.5), Same);
        assert_eq!(judge(Figure::SuccessRatePct, 90.0, 88.0), Worse);
        assert_eq!(judge(Figure::SuccessRatePct, 90.0, 99.0), Better);
        // No tolerance: any change beyond the floors counts.
        assert_eq!(
            judge_change(Figure::ThroughputOpsSec, 100.0, 99.0, 0.0),
            Worse
        );
    }
}
