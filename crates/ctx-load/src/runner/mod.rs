//! One whole run: reach or start the server, run each scenario (engine or
//! fan-out, with the monitor and the progress line: [`scenario`]) or a
//! saturation search ([`search`]), judge it, and write the report.

mod scenario;
mod search;

pub(crate) use scenario::{mode_of, raw_histograms, run_guarded};

use std::time::Duration;

use crate::engine::{Target, monitor};
use crate::error::LoadError;
use crate::model::{AbortReason, ModeInfo, RunMode, ScenarioReport, ServerInfo, StageKind};
use crate::scenarios::{self, RunFacts, Scenario};
use crate::server::ChildServer;
use crate::{LoadOptions, RunOutcome, prepare_scenarios, progress, report};

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
