//! `ctx load merge A.json B.json …`: combines the reports of several
//! processes (the workers of a distributed run, or the same run started on
//! several machines) into one, exactly where exactness is possible:
//! - latency, connect and uncorrected histograms are **added** (decoded from
//!   each report's `hdr`), so every percentile, min, max, mean and stdev is
//!   that of all requests together, as if one process had recorded them;
//! - counters are summed: clients, requests (planned, sent, late), successes,
//!   errors by kind, set-up requests, per-second completions (by second of
//!   each process's own run);
//! - the duration is the longest process's, so throughput is all requests
//!   over the longest process's run (the processes run side by side);
//! - an open loop's target rate, and a staged run's levels, are those the
//!   workers of one run were given when all of them are merged, otherwise
//!   the sum of the processes' (a worker's is its share, `rate / N`);
//! - server resources are those of the process that sampled the most (only a
//!   worker on the server's machine, with `--server-pid`, can measure them);
//! - a staged run's stages are merged the same way, stage by stage
//!   ([`stages`]: counts summed, per-stage histograms added).
//!
//! The merged figures are then judged by [`crate::scenarios::judge_run`],
//! the same thresholds, verdict and advice as a single run.

mod compatible;
mod input;
mod stages;

use std::path::{Path, PathBuf};
use std::time::Duration;

use compatible::{Compatible, check_compatible};

use crate::engine::{OpenLoopResult, RunResult};
use crate::error::LoadError;
use crate::model::{
    Baseline, ContentCheckTally, ErrorBreakdown, MergedInput, ModeInfo, OpenLoopSummary, Profile,
    RunReport, ScenarioReport, SecondBucket, ServerInfo, SetupSummary, Timeline, decode_histogram,
    new_histogram,
};
use crate::scenarios::{self, RunFacts, ScenarioFigures};

/// A merged report and what the caller should be told about it.
#[derive(Debug)]
pub struct Merged {
    pub report: RunReport,
    /// E.g. workers missing from a distributed run's set.
    pub warnings: Vec<String>,
}

/// Reads, checks and combines the reports at `paths` into one judged report
/// (compared with `baseline`, when given, as a run is).
pub fn merge(paths: &[PathBuf], baseline: Option<Baseline>) -> Result<Merged, LoadError> {
    if paths.is_empty() {
        return Err(LoadError::InvalidOption(
            "merge needs at least one report.json".into(),
        ));
    }
    let inputs = paths
        .iter()
        .map(|p| input::read(p).map(|r| (p.as_path(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    // Every worker of one distributed run: its requested rate is known exactly.
    let Compatible {
        whole_run,
        mut warnings,
    } = check_compatible(&inputs)?;
    let scenario_count = inputs[0].1.scenarios.len();
    let scenarios = (0..scenario_count)
        .map(|i| {
            let parts: Vec<(&Path, &ScenarioReport)> =
                inputs.iter().map(|(p, r)| (*p, &r.scenarios[i])).collect();
            let staged = stages::merge_stages(&parts, whole_run)?;
            warnings.extend(staged.dropped.clone());
            merge_scenario(&parts, whole_run, staged)
        })
        .collect::<Result<Vec<ScenarioReport>, LoadError>>()?;
    let facts = RunFacts {
        baseline,
        ..facts(&inputs)
    };
    let report = scenarios::judge_run(facts, scenarios);
    Ok(Merged { report, warnings })
}

/// The merged open loop's target rate (see [`merged_rate`]).
fn merged_target_rate(parts: &[&OpenLoopSummary], whole_run: bool) -> f64 {
    let rates: Vec<_> = parts
        .iter()
        .map(|o| (o.target_rate, o.run_target_rate))
        .collect();
    merged_rate(&rates, whole_run)
}

/// A rate of the merged run from each input's `(own, run's)`: a whole
/// distributed run's is the rate its workers were given (each records it, so
/// it is exact: N shares of `rate / N` do not always add up to `rate` in
/// floating point); otherwise (some workers missing, or whole runs side by
/// side) the sum of the inputs' own. The one rule for an open loop's target
/// rate and a stage's levels.
fn merged_rate(rates: &[(f64, Option<f64>)], whole_run: bool) -> f64 {
    match rates.first().and_then(|(_, run)| *run) {
        Some(rate) if whole_run && rates.iter().all(|(_, run)| *run == Some(rate)) => rate,
        _ => rates.iter().map(|(own, _)| own).sum(),
    }
}

/// One scenario of every input, combined and judged, with its stages merged
/// apart; `whole_run`: the inputs are every worker of one distributed run.
fn merge_scenario(
    parts: &[(&Path, &ScenarioReport)],
    whole_run: bool,
    staged: stages::MergedStages,
) -> Result<ScenarioReport, LoadError> {
    let first = parts[0].1;
    let mut latency = new_histogram();
    let mut connect = new_histogram();
    let mut uncorrected = new_histogram();
    let mut errors = ErrorBreakdown::default();
    let mut per_second: Vec<SecondBucket> = Vec::new();
    let (mut attempted, mut success, mut clients) = (0, 0, 0);
    let mut longest = 0.0f64;
    let mut setup: Option<SetupSummary> = None;
    let mut content_checks: Vec<ContentCheckTally> = Vec::new();
    for (path, part) in parts {
        let bad = |why: String| {
            LoadError::InvalidOption(format!("{}: scenario {}: {why}", path.display(), part.name))
        };
        let hdr = part
            .hdr
            .as_ref()
            .ok_or_else(|| bad("no raw histograms".into()))?;
        let add = |into: &mut hdrhistogram::Histogram<u64>, text: &str, which: &str| {
            let h = decode_histogram(text).map_err(|e| bad(format!("hdr.{which}: {e}")))?;
            into.add(&h)
                .map_err(|e| bad(format!("hdr.{which}: cannot add: {e:?}")))
        };
        add(&mut latency, &hdr.latency, "latency")?;
        add(&mut connect, &hdr.connect, "connect")?;
        if let Some(text) = &hdr.uncorrected {
            add(&mut uncorrected, text, "uncorrected")?;
        }
        let m = &part.metrics;
        attempted += m.attempted();
        success += m.success_count;
        clients += m.clients;
        longest = longest.max(m.duration_secs);
        errors.merge(&m.errors);
        if per_second.len() < m.throughput_series.len() {
            per_second.resize_with(m.throughput_series.len(), SecondBucket::default);
        }
        for (acc, bucket) in per_second.iter_mut().zip(&m.throughput_series) {
            acc.ok += bucket.ok;
            acc.errors += bucket.errors;
        }
        for tally in &m.content_checks {
            match content_checks.iter_mut().find(|t| t.name == tally.name) {
                Some(total) => total.add(tally),
                None => content_checks.push(tally.clone()),
            }
        }
        if let Some(s) = &m.setup {
            let acc = setup.get_or_insert(SetupSummary {
                requests: 0,
                failures: 0,
                first_error: None,
            });
            acc.requests += s.requests;
            acc.failures += s.failures;
            if acc.first_error.is_none() {
                acc.first_error.clone_from(&s.first_error);
            }
        }
    }
    for (i, bucket) in per_second.iter_mut().enumerate() {
        bucket.second = i as u64;
    }
    let open_parts: Vec<_> = parts
        .iter()
        .filter_map(|(_, p)| p.metrics.open_loop.as_ref())
        .collect();
    let open = (!open_parts.is_empty()).then(|| OpenLoopResult {
        target_rate: merged_target_rate(&open_parts, whole_run),
        run_target_rate: None,
        planned: open_parts.iter().map(|o| o.planned).sum(),
        sent: open_parts.iter().map(|o| o.sent).sum(),
        late: open_parts.iter().map(|o| o.late).sum(),
        uncorrected,
    });
    let late_slack_ms = open_parts.first().map_or(0.0, |o| o.late_slack_ms);
    let target_rate = open.as_ref().map(|o| o.target_rate);
    let ops_per_client = first.metrics.ops_per_client.filter(|ops| {
        parts
            .iter()
            .all(|(_, p)| p.metrics.ops_per_client == Some(*ops))
    });
    let resources = parts
        .iter()
        .filter_map(|(_, p)| p.metrics.resources.as_ref())
        .max_by_key(|r| r.samples.len())
        .cloned();
    let timelines: Vec<&Timeline> = parts.iter().map(|(_, p)| &p.metrics.timeline).collect();
    let run = RunResult {
        attempted,
        success,
        errors,
        latency,
        connect,
        elapsed: Duration::try_from_secs_f64(longest).unwrap_or_default(),
        per_second,
        timeline: Timeline::combine(&timelines),
        open,
        content_checks,
        stages: staged.figures,
        stage_latency: staged.latency,
    };
    let metrics = run.metrics(
        &first.name,
        clients,
        ops_per_client,
        late_slack_ms,
        resources,
        setup,
    );
    Ok(scenarios::judge_scenario(ScenarioFigures {
        name: first.name.clone(),
        description: first.description.clone(),
        thresholds: first.thresholds.clone(),
        metrics,
        target_rate,
        // Kept, so merged reports merge further (e.g. per region, then all).
        hdr: crate::runner::raw_histograms(&run),
    }))
}

/// The merged run's facts: the earliest start, every target, the combined
/// shape; not a worker, but merged from the inputs.
fn facts(inputs: &[(&Path, RunReport)]) -> RunFacts {
    let first = &inputs[0].1;
    let reports = || inputs.iter().map(|(_, r)| r);
    let mut targets: Vec<&str> = Vec::new();
    for r in reports() {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
    }
    let workers = first.worker.is_some();
    // Workers were all given the run's total rate and clients; separate
    // whole runs add up.
    let total = |value: fn(&ModeInfo) -> Option<f64>| {
        if workers {
            value(&first.mode)
        } else {
            reports().map(|r| value(&r.mode)).sum::<Option<f64>>()
        }
    };
    let mode = ModeInfo {
        kind: first.mode.kind,
        rate: total(|m| m.rate),
        duration_secs: reports()
            .filter_map(|r| r.mode.duration_secs)
            .reduce(f64::max),
        scale: first.mode.scale,
        clients_override: total(|m| m.clients_override.map(|c| c as f64)).map(|c| c as u64),
        timeout_secs: first.mode.timeout_secs,
        stages: first.mode.stages.clone(),
        think_time_ms: first.mode.think_time_ms,
    };
    let profile = if reports().any(|r| r.profile == Profile::Quick) {
        Profile::Quick
    } else if reports().all(|r| r.profile == first.profile) {
        first.profile
    } else {
        Profile::Custom
    };
    // The PID whose samples were kept (see merge_scenario).
    let monitored = reports()
        .filter(|r| r.server.pid.is_some())
        .max_by_key(|r| {
            r.scenarios
                .iter()
                .filter_map(|s| s.metrics.resources.as_ref())
                .map(|res| res.samples.len())
                .sum::<usize>()
        });
    RunFacts {
        started_at: reports()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default(),
        aborted: None,
        target: targets.join(", "),
        server: ServerInfo {
            started_by_load: reports().all(|r| r.server.started_by_load),
            pid: monitored.and_then(|r| r.server.pid),
            stop_note: None,
        },
        mode,
        profile,
        worker: None,
        baseline: None,
        merged_from: Some(
            inputs
                .iter()
                .map(|(path, r)| MergedInput {
                    file: path.display().to_string(),
                    started_at: r.started_at.clone(),
                    target: r.target.clone(),
                    worker: r.worker,
                })
                .collect(),
        ),
        find_max: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LatencySummary;

    fn share(workers: u32, rate: f64) -> Vec<OpenLoopSummary> {
        (0..workers)
            .map(|_| OpenLoopSummary {
                target_rate: rate / f64::from(workers),
                run_target_rate: Some(rate),
                achieved_rate: 0.0,
                planned: 0,
                sent: 0,
                late: 0,
                late_slack_ms: 0.0,
                dropped: 0,
                uncorrected: LatencySummary::default(),
                uncorrected_curve: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_whole_worker_set_gets_exactly_the_requested_rate() {
        // 6 × (7 / 6) is 7.000000000000001 in floating point.
        let parts = share(6, 7.0);
        let naive: f64 = parts.iter().map(|o| o.target_rate).sum();
        assert_ne!(naive, 7.0, "the case this guards against");
        let refs: Vec<&OpenLoopSummary> = parts.iter().collect();
        assert_eq!(merged_target_rate(&refs, true), 7.0);
        // Workers missing: the rate the merged ones were given, their sum.
        let given: f64 = refs[..3].iter().map(|o| o.target_rate).sum();
        assert_eq!(merged_target_rate(&refs[..3], false), given);
    }

    #[test]
    fn whole_runs_side_by_side_add_their_rates() {
        let runs = [
            OpenLoopSummary {
                run_target_rate: None,
                ..share(1, 100.0).remove(0)
            },
            OpenLoopSummary {
                run_target_rate: None,
                ..share(1, 50.0).remove(0)
            },
        ];
        let refs: Vec<&OpenLoopSummary> = runs.iter().collect();
        assert_eq!(merged_target_rate(&refs, false), 150.0);
    }
}
