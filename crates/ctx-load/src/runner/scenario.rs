//! One scenario's run, phase by phase: its set-up requests, the engine's
//! configuration for this process's share, the progress line and the
//! server's monitor around the load, the load itself (engine or fan-out),
//! and its figures, judged. [`run_guarded`] ends it early on Ctrl-C or when
//! our server dies.

use std::sync::Arc;

use crate::engine::{self, EngineConfig, Mode, Progress, RequestGenerator, Target, monitor};
use crate::model::{
    AbortReason, PerformanceMetrics, RawHistograms, ResourceUsage, ScenarioReport, SetupSummary,
    StageKind, StagePlan,
};
use crate::scenarios::{self, Scenario, ScenarioFigures};
use crate::server::ChildServer;
use crate::{LoadOptions, fanout, progress};

/// Runs one scenario, unless Ctrl-C or the death of our server stops it
/// (which it reports as the reason the run ends).
pub(crate) async fn run_guarded(
    opts: &LoadOptions,
    scenario: &Scenario,
    target: &Target,
    pid: Option<u32>,
    child: &mut Option<ChildServer>,
    heading: progress::Heading,
) -> Result<ScenarioReport, AbortReason> {
    let one = run_one(opts, scenario, target, pid, heading);
    // A server of ours that dies mid-scenario ends the run at once,
    // rather than after every remaining request has failed.
    let died = async {
        match child.as_mut() {
            Some(c) => c.wait_exit().await,
            None => std::future::pending().await,
        }
    };
    let name = scenario.name.clone();
    let result = tokio::select! {
        r = one => r.map_err(|error| AbortReason::EngineFailed { scenario: name, error }),
        _ = tokio::signal::ctrl_c() => Err(AbortReason::Interrupted { scenario: name }),
        status = died => Err(AbortReason::ServerExited {
            status,
            scenario: name,
            during: true,
            stderr: child.as_ref().map(|c| c.stderr_tail()).unwrap_or_default(),
        }),
    };
    let report = match result {
        Ok(report) => report,
        Err(reason) => {
            if opts.progress {
                eprintln!();
            }
            return Err(reason);
        }
    };
    if let Some(c) = child.as_mut()
        && let Some(status) = c.exited()
    {
        return Err(AbortReason::ServerExited {
            status,
            scenario: scenario.name.clone(),
            during: false,
            stderr: c.stderr_tail(),
        });
    }
    Ok(report)
}

async fn run_one(
    opts: &LoadOptions,
    scenario: &Scenario,
    target: &Target,
    pid: Option<u32>,
    mut heading: progress::Heading,
) -> Result<ScenarioReport, String> {
    let setup = run_setup(opts, scenario, target).await;
    // A worker of a distributed run runs its block of the scenario's clients
    // (global ids, so its keys are theirs) and its share of the schedule.
    let client_ids = opts.share.clients(scenario.clients);
    let clients = client_ids.end - client_ids.start;
    let cfg = engine_config(opts, scenario, target, clients);
    let counters = Arc::new(Progress::default());
    if let Some(plan) = cfg.mode.plan() {
        heading.stages = stage_headings(opts, plan);
    }
    let label = heading.label.clone();
    let ticker = opts
        .progress
        .then(|| progress::spawn(heading, counters.clone()));
    // Sampling starts before the first request and stops after the last one.
    let monitor = pid.and_then(|pid| {
        monitor::Monitor::start(pid, opts.monitor_interval)
            .inspect_err(|e| tracing::warn!("cannot monitor PID {pid}: {e}"))
            .ok()
    });
    let generator = generator_for(scenario, &cfg.mode, client_ids.start);
    let run = match &scenario.fanout {
        Some(spec) => fanout::run(
            target,
            spec,
            scenario.clients,
            opts.timeout,
            counters.clone(),
        )
        .await
        .map(|run| Measured::Fanout(Box::new(run))),
        None => engine::run(&cfg, generator, counters.clone())
            .await
            .map(|run| Measured::Engine(Box::new(run))),
    };
    let resources = match monitor {
        Some(sampler) => Some(sampler.stop(&opts.leak_rule).await),
        None => None,
    };
    if let Some(t) = ticker {
        t.finish().await;
    }
    let run = run.map_err(|e| e.to_string())?;
    let (metrics, hdr) = figures(opts, scenario, &cfg, clients, setup, resources, run);
    let target_rate = match &scenario.fanout {
        Some(f) => Some(f.rate),
        None => metrics.open_loop.as_ref().map(|o| o.target_rate),
    };
    let report = scenarios::judge_scenario(ScenarioFigures {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        thresholds: scenario.thresholds.clone(),
        metrics,
        target_rate,
        hdr,
    });
    if opts.progress {
        progress::print_done(&label, &report);
    }
    Ok(report)
}

/// The scenario's set-up requests (file_dumps' writes), unmeasured; None
/// when it has none.
async fn run_setup(
    opts: &LoadOptions,
    scenario: &Scenario,
    target: &Target,
) -> Option<SetupSummary> {
    if scenario.setup.is_empty() {
        return None;
    }
    let (failures, first_error) = engine::run_setup(target, &scenario.setup, opts.timeout).await;
    Some(SetupSummary {
        requests: scenario.setup.len() as u64,
        failures,
        first_error,
    })
}

/// The engine's configuration for this process's `clients` of the scenario.
fn engine_config(
    opts: &LoadOptions,
    scenario: &Scenario,
    target: &Target,
    clients: u64,
) -> EngineConfig {
    let mut cfg = EngineConfig::new(target.clone(), mode_of(opts, scenario, clients));
    cfg.timeout = opts.timeout;
    if !cfg.mode.is_open() {
        cfg.think_time = opts.think_time.or(scenario.think_time);
    }
    cfg.inspection = scenarios::checks::inspection(&scenario.checks).map(Arc::new);
    cfg.share = opts.share;
    cfg
}

/// The progress line's stage marks: when each stage ends and what it ramps to.
fn stage_headings(opts: &LoadOptions, plan: &StagePlan) -> Vec<(f64, String)> {
    let count = plan.stages.len();
    plan.spans()
        .into_iter()
        .enumerate()
        .map(|(i, (_, end, _, to))| {
            let unit = plan.ramps.unit();
            // A worker ramps to its share of the rate (client stages do not split).
            let to = match plan.ramps {
                StageKind::Rate => opts.share.rate(to),
                StageKind::Clients => to,
            };
            // Whole numbers, as the line's other rates (a third of 100 req/s
            // printed as 33.333333333333336).
            (end, format!("stage {}/{count} → {to:.0} {unit}", i + 1))
        })
        .collect()
}

/// The scenario's requests as this process's clients (ids from
/// `first_client` on) ask for them.
///
/// A run for a duration, not an op count: each client repeats the
/// scenario's own op sequence (op ids cycle through 0..ops_per_client), so
/// the request mix and the key set stay those of the scenario however long
/// the run. Without this, a sustained memory_stress would write ever new
/// keys and "RSS still growing" would only measure the growing data set.
fn generator_for(scenario: &Scenario, mode: &Mode, first_client: u64) -> RequestGenerator {
    match mode {
        Mode::Open { .. }
        | Mode::ClosedFor { .. }
        | Mode::OpenStaged { .. }
        | Mode::ClosedStaged { .. } => {
            let inner = scenario.generator.clone();
            let cycle = scenario.ops_per_client.max(1);
            Arc::new(move |c, o| inner(first_client + c, o % cycle)) as RequestGenerator
        }
        Mode::Closed { .. } if first_client > 0 => {
            let inner = scenario.generator.clone();
            Arc::new(move |c, o| inner(first_client + c, o)) as RequestGenerator
        }
        Mode::Closed { .. } => scenario.generator.clone(),
    }
}

/// The load's figures, and (of an engine run) the raw histograms behind them.
fn figures(
    opts: &LoadOptions,
    scenario: &Scenario,
    cfg: &EngineConfig,
    clients: u64,
    setup: Option<SetupSummary>,
    resources: Option<ResourceUsage>,
    run: Measured,
) -> (PerformanceMetrics, Option<RawHistograms>) {
    let late_slack_ms = cfg.late_slack.as_secs_f64() * 1000.0;
    match run {
        Measured::Fanout(run) => (
            run.metrics(&scenario.name, scenario.clients, late_slack_ms, resources),
            None,
        ),
        Measured::Engine(run) => {
            let ops_per_client =
                matches!(cfg.mode, Mode::Closed { .. }).then_some(scenario.ops_per_client);
            let mut metrics = run.metrics(
                &scenario.name,
                clients,
                ops_per_client,
                late_slack_ms,
                resources,
                setup,
            );
            // The engine reports the plan's stage levels; a worker's report
            // sets its share beside what it achieved, as its open loop's
            // target_rate is its share.
            metrics.stages = std::mem::take(&mut metrics.stages)
                .into_iter()
                .map(|stage| stage.share_of(opts.share))
                .collect();
            (metrics, raw_histograms(&run))
        }
    }
}

/// How one scenario's load is offered, with `clients` connections: the one
/// place that weighs the command line's shape against the scenario's own.
/// The sustained phase is always open loop; then `--stages`/`--client-stages`,
/// `--rate`, `--duration` (closed loop for a time), the scenario file's
/// `stages`, and last the scenario's own op count.
pub(crate) fn mode_of(opts: &LoadOptions, scenario: &Scenario, clients: u64) -> Mode {
    let staged = |plan: &StagePlan| match plan.ramps {
        StageKind::Rate => Mode::OpenStaged {
            clients,
            plan: plan.clone(),
        },
        StageKind::Clients => Mode::ClosedStaged { plan: plan.clone() },
    };
    if let Some(ol) = scenario.open_loop.as_ref() {
        return Mode::Open {
            clients,
            rate: ol.rate,
            duration: ol.duration,
        };
    }
    if let Some(plan) = &opts.stages {
        return staged(plan);
    }
    if let Some(ol) = &opts.open_loop {
        return Mode::Open {
            clients,
            rate: ol.rate,
            duration: ol.duration,
        };
    }
    if let Some(duration) = opts.closed_duration {
        return Mode::ClosedFor { clients, duration };
    }
    match &scenario.stages {
        Some(plan) => staged(plan),
        None => Mode::Closed {
            clients,
            ops_per_client: scenario.ops_per_client,
        },
    }
}

/// The run's histograms for report.json; None (with a warning) if one
/// cannot be encoded, which loses mergeability but not the run.
pub(crate) fn raw_histograms(run: &engine::RunResult) -> Option<RawHistograms> {
    run.raw_histograms()
        .inspect_err(|e| tracing::warn!("report.json without raw histograms: {e}"))
        .ok()
}

/// What one scenario's load produced, before it becomes figures.
enum Measured {
    Engine(Box<engine::RunResult>),
    Fanout(Box<fanout::FanoutRun>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Stage, WorkerShare};

    #[test]
    fn a_workers_stage_share_is_shown_as_a_whole_rate() {
        let opts = LoadOptions {
            share: WorkerShare {
                index: 0,
                workers: 3,
            },
            ..LoadOptions::default()
        };
        let plan = StagePlan {
            ramps: StageKind::Rate,
            stages: vec![Stage {
                duration_secs: 10.0,
                target: 100.0,
            }],
        };
        let headings = stage_headings(&opts, &plan);
        assert_eq!(headings, [(10.0, "stage 1/1 → 33 req/s".to_string())]);
    }
}
