//! `--find-max`: the saturation search's runs. Each step is the scenario in
//! open loop at one rate for the step's duration, judged against the SLO
//! alone (with the open-loop rules: a rate that was not offered was not
//! met); [`crate::search::Bracket`] picks the next rate.

use std::time::Instant;

use crate::engine::{OpenLoop, Target};
use crate::model::{AbortReason, CheckStatus, FindMax, ScenarioReport, SearchStep, StepPhase};
use crate::scenarios::Scenario;
use crate::search::{Bracket, Next, PRECISION};
use crate::server::ChildServer;
use crate::{LoadOptions, SearchPlan, progress};

/// What a search leaves for the report.
pub(super) struct Searched {
    pub find_max: FindMax,
    /// The step at the highest rate that met the SLO (its full figures), or,
    /// when none did, the lowest rate tried: the report's one scenario.
    pub shown: Option<ScenarioReport>,
    pub aborted: Option<AbortReason>,
}

/// One step's line in `find_max.steps`.
fn step_of(
    number: usize,
    phase: StepPhase,
    rate: f64,
    report: &ScenarioReport,
    started_secs: f64,
) -> SearchStep {
    let m = &report.metrics;
    SearchStep {
        step: number,
        phase,
        rate_per_sec: rate,
        achieved_rate: m.throughput_ops_sec,
        requests: m.total_operations,
        success_rate_pct: m.success_rate_pct,
        p50_ms: m.latency.p50_ms,
        p99_ms: m.latency.p99_ms,
        met_slo: report.passed,
        broken: report
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| {
                let actual = c
                    .actual
                    .map_or("not measured".into(), |a| format!("{a:.2}"));
                format!("{} {actual} (limit {} {})", c.metric, c.op, c.limit)
            })
            .collect(),
        started_secs,
        duration_secs: m.duration_secs,
    }
}

/// Searches for the highest rate of `scenario` that meets the SLO, within
/// the time budget.
pub(super) async fn find_max(
    opts: &LoadOptions,
    spec: &SearchPlan,
    scenario: &Scenario,
    target: &Target,
    pid: Option<u32>,
    child: &mut Option<ChildServer>,
) -> Searched {
    let started = Instant::now();
    let mut bracket = Bracket::new(spec.step.as_secs_f64());
    let mut steps = Vec::new();
    let mut best: Option<ScenarioReport> = None;
    let mut lowest: Option<(f64, ScenarioReport)> = None;
    let mut aborted = None;
    let (mut rate, mut phase) = (spec.start_rate, StepPhase::Ramp);
    let end = loop {
        // A step lasts at least its duration (longer while a saturated
        // server drains its queue): start one only if it fits the budget.
        if started.elapsed() + spec.step > spec.max_duration {
            break bracket.out_of_time();
        }
        let mut step = scenario.clone();
        step.open_loop = Some(OpenLoop {
            rate,
            duration: spec.step,
        });
        step.thresholds = spec.slo.clone();
        let number = steps.len() + 1;
        let heading = progress::Heading {
            // At most: the search may end sooner.
            then: spec.max_duration.checked_sub(started.elapsed() + spec.step),
            ..progress::Heading::new(format!(
                "[find-max step {number}] {} at {rate:.1} req/s",
                scenario.name
            ))
        };
        let started_secs = started.elapsed().as_secs_f64();
        let report = match super::run_guarded(opts, &step, target, pid, child, heading).await {
            Ok(report) => report,
            Err(reason) => {
                aborted = Some(reason);
                break bracket.out_of_time();
            }
        };
        steps.push(step_of(number, phase, rate, &report, started_secs));
        // A rate that broke the SLO once is tried again before the search
        // believes it, unless its median too is past the SLO's latency
        // limit (a saturated server, not a blip): a stall of the machine
        // (another process, a GC, a disk flush) breaks one step's p99 as a
        // saturated server would, but seldom two in a row (measured on a
        // loaded 2-core machine: a 200 req/s step broke a 50 ms p99 at 87 ms
        // while the server's p50 was 0.5 ms).
        let saturated = spec
            .tightest_latency_ms()
            .is_some_and(|limit| report.metrics.latency.p50_ms > limit);
        if !report.passed && !saturated && phase != StepPhase::Confirm {
            phase = StepPhase::Confirm;
            continue;
        }
        bracket.record(rate, report.passed);
        if report.passed && bracket.met == Some(rate) {
            best = Some(report);
        } else if !report.passed && lowest.as_ref().is_none_or(|(low, _)| rate < *low) {
            lowest = Some((rate, report));
        }
        match bracket.next() {
            Next::Try {
                rate: next,
                phase: next_phase,
            } => (rate, phase) = (next, next_phase),
            Next::Done(end) => break end,
        }
    };
    let shown = match (best, bracket.met) {
        (Some(mut report), Some(max)) => {
            report.description = format!(
                "{} — at {max:.1} req/s, the highest rate that met the SLO",
                scenario.description
            );
            Some(report)
        }
        _ => lowest.map(|(low, mut report)| {
            report.description = format!(
                "{} — at {low:.1} req/s, the lowest rate tried (it broke the SLO)",
                scenario.description
            );
            report
        }),
    };
    Searched {
        find_max: FindMax {
            max_rate_per_sec: bracket.met,
            broke_at_rate_per_sec: bracket.broke,
            slo: spec.slo_given.clone(),
            end,
            steps,
            precision_pct: PRECISION * 100.0,
            step_secs: spec.step.as_secs_f64(),
            max_duration_secs: spec.max_duration.as_secs_f64(),
            elapsed_secs: started.elapsed().as_secs_f64(),
        },
        shown,
        aborted,
    }
}
