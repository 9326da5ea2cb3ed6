//! One whole run: reach or start the server, run each scenario (engine or
//! fan-out, with the monitor and the progress line) or a saturation search
//! ([`search`]), judge it, and write the report.

mod search;

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{self, EngineConfig, Mode, Progress, RequestGenerator, Target, monitor};
use crate::error::LoadError;
use crate::model::{
    AbortReason, ModeInfo, RawHistograms, RunMode, ScenarioReport, ServerInfo, SetupSummary,
    StageKind, StagePlan,
};
use crate::scenarios::{self, RunFacts, Scenario, ScenarioFigures};
use crate::server::ChildServer;
use crate::{LoadOptions, RunOutcome, fanout, prepare_scenarios, progress, report};

/// Runs the selected scenarios and writes the report.
///
/// Errors mean the run could not be carried out (bad input, unreachable
/// target, server would not start, run aborted); a finished run whose
/// thresholds failed is `Ok` with `all_passed == false`.
pub async fn run(opts: LoadOptions) -> Result<RunOutcome, LoadError> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let selected = prepare_scenarios(&opts)?;
    let explicit_target = match &opts.target {
        Some(url) => {
            Some(Target::parse_with_tls(url, opts.tls.as_ref())?.with_headers(opts.headers.clone()))
        }
        None => None,
    };
    if explicit_target.is_none() && opts.launcher.is_none() {
        return Err(LoadError::InvalidOption(
            "no --target given and no way to start a server".into(),
        ));
    }
    if let (Some(_), Some(pid)) = (&explicit_target, opts.server_pid)
        && !monitor::process_exists(pid)
    {
        return Err(LoadError::CouldNotRun(format!(
            "--server-pid {pid}: no such process (or not readable)"
        )));
    }

    // Start (or reach) the server.
    let mut child = None;
    let target = match explicit_target {
        Some(t) => {
            preflight(&t).await?;
            t
        }
        None => {
            let launcher = opts
                .launcher
                .as_ref()
                .ok_or_else(|| LoadError::Internal("launcher vanished".into()))?;
            let server = ChildServer::start(launcher).await?;
            let t = Target::parse(server.url())?.with_headers(opts.headers.clone());
            child = Some(server);
            t
        }
    };
    let pid = child.as_ref().map(|c| c.pid()).or(opts.server_pid);

    let mut reports = Vec::new();
    let mut find_max = None;
    let aborted = match (&opts.find_max, selected.first()) {
        (Some(spec), Some(scenario)) => {
            let plan = spec.plan()?;
            let searched = search::find_max(&opts, &plan, scenario, &target, pid, &mut child).await;
            reports.extend(searched.shown);
            find_max = Some(searched.find_max);
            searched.aborted
        }
        _ => run_scenarios(&opts, &selected, &target, pid, &mut child, &mut reports).await,
    };
    let stop_note = match child {
        Some(c) => c.stop().await,
        None => None,
    };

    let facts = RunFacts {
        started_at,
        aborted: aborted.clone(),
        target: target.to_string(),
        server: ServerInfo {
            started_by_load: opts.target.is_none(),
            pid,
            stop_note,
        },
        mode: ModeInfo {
            kind: if opts.open_loop.is_some()
                || opts.find_max.is_some()
                || opts
                    .stages
                    .as_ref()
                    .is_some_and(|p| p.ramps == StageKind::Rate)
            {
                RunMode::Open
            } else {
                RunMode::Closed
            },
            rate: opts.open_loop.as_ref().map(|o| o.rate),
            duration_secs: opts
                .open_loop
                .as_ref()
                .map(|o| o.duration)
                .or(opts.closed_duration)
                .map(|d| d.as_secs_f64()),
            scale: opts.scale,
            clients_override: opts.clients,
            timeout_secs: opts.timeout.as_secs_f64(),
            stages: opts.stages.clone(),
            think_time_ms: opts.think_time.map(|t| t.as_secs_f64() * 1000.0),
        },
        profile: opts.profile,
        worker: (!opts.share.is_whole()).then_some(opts.share),
        merged_from: None,
        baseline: opts.baseline.clone(),
        find_max,
    };
    let report = scenarios::judge_run(facts, reports);

    let report_dir = if opts.write_report && (aborted.is_none() || !report.scenarios.is_empty()) {
        let dir = opts
            .report_dir
            .clone()
            .unwrap_or_else(report::default_report_dir);
        report::write(&dir, &report).map_err(|source| LoadError::Report {
            dir: dir.clone(),
            source,
        })?;
        Some(dir)
    } else {
        None
    };
    if let Some(reason) = aborted {
        return Err(LoadError::Aborted { reason, report_dir });
    }
    let summary_table = report::summary_table(&report);
    Ok(RunOutcome {
        all_passed: report.all_thresholds_passed,
        outcome: report.verdict.outcome,
        report_dir,
        report,
        summary_table,
    })
}

/// Checks that something accepts connections at the target (with a TLS handshake for
/// `https://`), so an unreachable or untrusted target is one clear error instead of
/// 100 % connect failures.
async fn preflight(target: &Target) -> Result<(), LoadError> {
    match tokio::time::timeout(Duration::from_secs(5), target.open()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e @ crate::engine::OpenError::Tls(..))) => {
            Err(LoadError::CouldNotRun(format!("target {target}: {e}")))
        }
        Ok(Err(e)) => Err(LoadError::CouldNotRun(format!(
            "target {target} is unreachable: {e}"
        ))),
        Err(_) => Err(LoadError::CouldNotRun(format!(
            "target {target} is unreachable: connect timed out"
        ))),
    }
}

/// Runs each scenario in turn, pushing its report. Returns why the run
/// stopped early (Ctrl-C, our server died), if it did.
async fn run_scenarios(
    opts: &LoadOptions,
    selected: &[Scenario],
    target: &Target,
    pid: Option<u32>,
    child: &mut Option<ChildServer>,
    reports: &mut Vec<ScenarioReport>,
) -> Option<AbortReason> {
    let total = selected.len();
    // The load each scenario plans (None: bounded by a request count).
    let lengths: Vec<Option<Duration>> = selected
        .iter()
        .map(|s| mode_of(opts, s, s.clients).planned_duration())
        .collect();
    for (i, scenario) in selected.iter().enumerate() {
        let heading = progress::Heading {
            then: lengths[i + 1..].iter().copied().sum(),
            ..progress::Heading::new(format!("[{}/{total}] {}", i + 1, scenario.name))
        };
        match run_guarded(opts, scenario, target, pid, child, heading).await {
            Ok(rep) => reports.push(rep),
            Err(reason) => return Some(reason),
        }
    }
    None
}

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
    let setup = if scenario.setup.is_empty() {
        None
    } else {
        let (failures, first_error) =
            engine::run_setup(target, &scenario.setup, opts.timeout).await;
        Some(SetupSummary {
            requests: scenario.setup.len() as u64,
            failures,
            first_error,
        })
    };
    // A worker of a distributed run runs its block of the scenario's clients
    // (global ids, so its keys are theirs) and its share of the schedule.
    let client_ids = opts.share.clients(scenario.clients);
    let clients = client_ids.end - client_ids.start;
    let mode = mode_of(opts, scenario, clients);
    let mut cfg = EngineConfig::new(target.clone(), mode);
    cfg.timeout = opts.timeout;
    if !cfg.mode.is_open() {
        cfg.think_time = opts.think_time.or(scenario.think_time);
    }
    cfg.inspection = scenarios::checks::inspection(&scenario.checks).map(Arc::new);
    cfg.share = opts.share;
    let late_slack_ms = cfg.late_slack.as_secs_f64() * 1000.0;
    let counters = Arc::new(Progress::default());
    if let Some(plan) = cfg.mode.plan() {
        let count = plan.stages.len();
        heading.stages = plan
            .spans()
            .into_iter()
            .enumerate()
            .map(|(i, (_, end, _, to))| {
                let unit = plan.ramps.unit();
                // A worker ramps to its share of the rate (client stages do not split).
                let to = match plan.ramps {
                    StageKind::Rate => opts.share.rate(to),
                    StageKind::Clients => to,
                };
                (end, format!("stage {}/{count} → {to} {unit}", i + 1))
            })
            .collect();
    }
    let label = heading.label.clone();
    let ticker = opts
        .progress
        .then(|| progress::spawn(heading, counters.clone()));
    // Sampling starts before the first request and stops after the last one.
    let monitor = match pid {
        Some(pid) => match monitor::Monitor::start(pid, opts.monitor_interval) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!("cannot monitor PID {pid}: {e}");
                None
            }
        },
        None => None,
    };
    // A run for a duration, not an op count: each client repeats the
    // scenario's own op sequence (op ids cycle through 0..ops_per_client), so
    // the request mix and the key set stay those of the scenario however long
    // the run. Without this, a sustained memory_stress would write ever new
    // keys and "RSS still growing" would only measure the growing data set.
    let first_client = client_ids.start;
    let generator = match cfg.mode {
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
    };
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
    let (metrics, hdr) = match run.map_err(|e| e.to_string())? {
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
    };
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
