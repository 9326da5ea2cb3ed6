//! The one place that decides a run's verdict. Every output (terminal,
//! report.md, report.html, report.json, the exit code) shows what [`decide`]
//! returns, and the production-readiness assessment is that verdict.
//!
//! - **fail**: a check failed (a threshold, an open loop that missed its
//!   rate, a content check), a scenario missed the seed's readiness
//!   criteria (success ≥ 95 %, p99 ≤ 2000 ms), or a figure got worse than
//!   the `--baseline` run's beyond the tolerance ([`super::baseline`]);
//! - **inconclusive**: nothing failed, but a check could not be established
//!   (not measured, too few samples, too short, leak trend undecided), or no
//!   scenario finished; it says what to run for a conclusive verdict;
//! - **pass**: everything else — every check held on enough evidence.
//!
//! A saturation search (`--find-max`) is judged by the same rules over the
//! step at the highest rate that met the SLO, and by how it ended: **fail**
//! when no rate met the SLO, **inconclusive** when the SLO held at every rate
//! tried (the capacity was not reached), **pass** when a rate met it and a
//! higher one broke it.

use crate::model::{
    BaselineComparison, CheckStatus, FindMax, Outcome, Readiness, ScenarioReport, SearchEnd,
    Verdict,
};

/// The seed's production-readiness criteria: every scenario with a success
/// rate ≥ 95 % and p99 ≤ 2000 ms.
pub const READY_MIN_SUCCESS_PCT: f64 = 95.0;
pub const READY_MAX_P99_MS: f64 = 2000.0;

/// What the verdict is told about the run besides its scenarios.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunContext<'a> {
    /// A `--quick` smoke run (seed sizes, about a second).
    pub smoke: bool,
    /// The comparison with `--baseline`: each regression fails the run.
    pub baseline: Option<&'a BaselineComparison>,
    /// A saturation search, and how it ended.
    pub search: Option<&'a FindMax>,
}

/// One reason per figure that got worse than the baseline's.
fn regressions(comparison: &BaselineComparison, reasons: &mut Vec<String>) {
    for scenario in &comparison.scenarios {
        for figure in scenario.regressions() {
            reasons.push(format!(
                "{}: {} {} vs {} in the baseline ({}, beyond the {}% tolerance)",
                scenario.scenario,
                figure.figure.key(),
                actual(figure.current),
                actual(figure.baseline),
                figure
                    .change_pct
                    .map_or_else(|| "from 0".to_string(), |pct| format!("{pct:+.1}%")),
                comparison.tolerance_pct
            ));
        }
    }
}

fn seed_criteria(scenario: &ScenarioReport, reasons: &mut Vec<String>) {
    let m = &scenario.metrics;
    if m.success_rate_pct < READY_MIN_SUCCESS_PCT {
        reasons.push(format!(
            "{}: success rate {:.1}% is below the readiness criterion {READY_MIN_SUCCESS_PCT}%",
            scenario.name, m.success_rate_pct
        ));
    }
    if m.latency.p99_ms > READY_MAX_P99_MS {
        reasons.push(format!(
            "{}: p99 {:.1} ms is above the readiness criterion {READY_MAX_P99_MS} ms",
            scenario.name, m.latency.p99_ms
        ));
    }
}

fn actual(value: Option<f64>) -> String {
    value.map_or_else(|| "not measured".into(), |v| format!("{v:.2}"))
}

/// What to run for a conclusive verdict, from what was missing.
fn next_step(inconclusive: &[&str], context: RunContext) -> String {
    if context.smoke {
        return "this was a smoke run (--quick: the seed's sizes, about a second of load); run \
                `ctx load` without --quick (about a minute of load) for a conclusive verdict"
            .into();
    }
    let mut steps = Vec::new();
    if inconclusive
        .iter()
        .any(|why| why.contains("held at every rate"))
    {
        steps.push(
            "search higher: start from a higher --rate, or give the search more time with --max-duration",
        );
    }
    if inconclusive.iter().any(|why| why.contains("no server PID")) {
        steps.push("pass --server-pid with --target so the server's memory is measured");
    }
    if inconclusive.iter().any(|why| why.contains("run too short")) {
        steps.push(
            "run the leak check longer, e.g. `ctx load --scenario memory_stress --rate 100 --duration 40`",
        );
    }
    if inconclusive
        .iter()
        .any(|why| why.contains("samples") || why.contains("requests") || why.contains("lasted"))
    {
        steps.push(if context.search.is_some() {
            // A search's --duration is each step's: 5 s at 200 req/s gives a p99 its 1000 answers.
            "longer steps: --duration SECS per rate (a p99 needs 1000 answers at the rate found)"
        } else {
            "run longer: --duration SECS (closed loop for a time) or --scale N"
        });
    }
    if steps.is_empty() {
        steps.push("run `ctx load` (the default run) for a conclusive verdict");
    }
    steps.join("; ")
}

/// When the server refused requests (401/403), the likely cause of a
/// failure is the run's credentials, not the server's performance: say so.
fn refused_hint(scenarios: &[ScenarioReport]) -> Option<String> {
    let refused = |code: u16| -> u64 {
        scenarios
            .iter()
            .filter_map(|s| s.metrics.errors.status.get(&code))
            .sum()
    };
    let (unauthorized, forbidden) = (refused(401), refused(403));
    if unauthorized > 0 {
        Some(format!(
            "the server refused {unauthorized} request(s) with 401 Unauthorized: it wants an API key; \
             pass --api-key KEY (or CTX_API_KEY), or --header 'Authorization: Bearer KEY'"
        ))
    } else if forbidden > 0 {
        Some(format!(
            "the server refused {forbidden} request(s) with 403 Forbidden: the API key's role does \
             not allow them (writes need role write, creating dumps role admin)"
        ))
    } else {
        None
    }
}

/// The verdict of a run from its finished scenarios.
pub fn decide(scenarios: &[ScenarioReport], context: RunContext) -> Verdict {
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    let mut gap_notes: Vec<&str> = Vec::new();
    for scenario in scenarios {
        for check in &scenario.checks {
            let note = check.note.as_deref().unwrap_or("");
            match check.status {
                CheckStatus::Fail => failures.push(format!(
                    "{}: {} {} (limit {} {}){}",
                    scenario.name,
                    check.metric,
                    actual(check.actual),
                    check.op,
                    check.limit,
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(", {note}")
                    }
                )),
                CheckStatus::Inconclusive => {
                    gaps.push(format!("{}: {}: {note}", scenario.name, check.metric));
                    gap_notes.push(note);
                }
                CheckStatus::Pass | CheckStatus::Skipped => {}
            }
        }
        seed_criteria(scenario, &mut failures);
    }
    if let Some(comparison) = context.baseline {
        regressions(comparison, &mut failures);
    }
    let mut search_note = String::new();
    if let Some(search) = context.search {
        let slo = search.slo_text();
        match (search.end, search.steps.iter().map(|s| s.rate_per_sec).reduce(f64::max)) {
            (SearchEnd::NeverMet, _) => failures.push(format!(
                "saturation search: no rate met the SLO ({slo}); the lowest tried, {:.1} req/s, broke it \
                 (a step of {:.0} s needs at least {} requests, so the search goes no lower)",
                search.broke_at_rate_per_sec.unwrap_or(0.0),
                search.step_secs,
                crate::search::MIN_STEP_REQUESTS
            )),
            (SearchEnd::NeverBroken, Some(highest)) => {
                search_note = format!(
                    "saturation search: the SLO ({slo}) held at every rate tried, up to {highest:.1} req/s: the capacity is higher"
                );
            }
            (SearchEnd::NeverBroken, None) => {
                search_note = "saturation search: no step fitted in --max-duration (held at every rate tried: none)".into();
            }
            (SearchEnd::Converged | SearchEnd::BudgetSpent, _) => {}
        }
    }
    if !search_note.is_empty() {
        gaps.push(search_note.clone());
        gap_notes.push(&search_note);
    }
    if !failures.is_empty() {
        return Verdict {
            outcome: Outcome::Fail,
            reasons: failures,
            next_step: refused_hint(scenarios),
        };
    }
    if scenarios.is_empty() {
        return Verdict {
            outcome: Outcome::Inconclusive,
            reasons: vec!["no scenario finished".into()],
            next_step: Some("run `ctx load`".into()),
        };
    }
    if context.smoke || !gaps.is_empty() {
        if gaps.is_empty() {
            gaps.push("a smoke run is not evidence of readiness".into());
        }
        return Verdict {
            outcome: Outcome::Inconclusive,
            reasons: gaps,
            next_step: Some(next_step(&gap_notes, context)),
        };
    }
    Verdict {
        outcome: Outcome::Pass,
        reasons: Vec::new(),
        next_step: None,
    }
}

/// The seed report's readiness assessment: exactly the verdict.
pub fn readiness(verdict: &Verdict) -> Readiness {
    let mut issues = verdict.reasons.clone();
    if let Some(next) = &verdict.next_step {
        issues.push(match verdict.outcome {
            Outcome::Inconclusive => format!("For a conclusive verdict: {next}."),
            _ => format!("Next: {next}."),
        });
    }
    Readiness {
        ready: verdict.outcome == Outcome::Pass,
        criteria: format!(
            "the run's verdict is pass: every threshold held on enough evidence (samples, duration, \
             a conclusive leak check where one is asked), and every scenario has success rate >= \
             {READY_MIN_SUCCESS_PCT}% and p99 <= {READY_MAX_P99_MS}ms"
        ),
        issues,
    }
}
