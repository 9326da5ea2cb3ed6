//! From the flags to the engine's `LoadOptions`: durations, stages, the saturation
//! search, TLS, headers and the baseline, each checked before any load is sent
//! (a bad value is `LoadError::InvalidOption`: exit 2).

use std::time::Duration;

use ctx_load::model::StageKind;
use ctx_load::scenarios::stages;
use ctx_load::{Launcher, LoadError, LoadOptions, OpenLoop};

use super::args::LoadArgs;
use crate::cmd::client::API_KEY_HEADER;

/// The scenario a saturation search runs when none is named: the seed's mix
/// of reads and writes.
const FIND_MAX_SCENARIO: &str = "mixed_workload";

fn secs(flag: &str, v: f64) -> Result<Duration, LoadError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            LoadError::InvalidOption(format!(
                "{flag} must be a positive number of seconds, got {v}"
            ))
        })
}

/// Reads `--baseline` (checked before any load is sent: a bad file is exit 2).
pub(super) fn read_baseline(
    path: Option<&std::path::Path>,
    tolerance: &str,
) -> Result<Option<ctx_load::model::Baseline>, LoadError> {
    let tolerance = ctx_load::scenarios::baseline::parse_tolerance(tolerance)?;
    path.map(|path| ctx_load::scenarios::baseline::read(path, tolerance))
        .transpose()
}

pub(super) fn build_options(args: LoadArgs) -> Result<LoadOptions, LoadError> {
    let find_max = if args.find_max {
        Some(ctx_load::FindMaxOptions {
            slo: args.slo.clone(),
            start_rate: args.rate.unwrap_or(ctx_load::FIND_MAX_START_RATE),
            step: secs(
                "--duration",
                args.duration.unwrap_or(ctx_load::FIND_MAX_STEP_SECS as f64),
            )?,
            max_duration: secs("--max-duration", args.max_duration)?,
        })
    } else {
        None
    };
    let (open_loop, closed_duration) = match (args.rate, args.duration) {
        // A search's rate and duration are its first rate and its step.
        _ if find_max.is_some() => (None, None),
        (Some(rate), duration) => (
            Some(OpenLoop {
                rate,
                duration: secs("--duration", duration.unwrap_or(10.0))?,
            }),
            None,
        ),
        (None, Some(duration)) => (None, Some(secs("--duration", duration)?)),
        (None, None) => (None, None),
    };
    let plan = |flag: &str, kind, text: &str| {
        stages::parse_stages(kind, text)
            .map_err(|e| LoadError::InvalidOption(format!("{flag}: {e}")))
    };
    let stages = match (&args.stages, &args.client_stages) {
        (Some(text), _) => Some(plan("--stages", StageKind::Rate, text)?),
        (None, Some(text)) => Some(plan("--client-stages", StageKind::Clients, text)?),
        (None, None) => None,
    };
    let think_time = args
        .think_time
        .as_deref()
        .map(|text| {
            stages::parse_duration(text)
                .map_err(|e| LoadError::InvalidOption(format!("--think-time: {e}")))
        })
        .transpose()?;
    // Flags that choose the run's shape; without any, the default full run.
    let shaped = !args.scenarios.is_empty()
        || args.scale != 1.0
        || args.clients.is_some()
        || args.rate.is_some()
        || args.duration.is_some()
        || stages.is_some()
        || think_time.is_some()
        || find_max.is_some();
    let base = if args.quick {
        LoadOptions::quick()
    } else if shaped {
        LoadOptions::default()
    } else {
        LoadOptions::full_run()
    };
    let share = ctx_load::model::WorkerShare::new(args.workers, args.worker_index.unwrap_or(0))
        .map_err(LoadError::InvalidOption)?;
    if !share.is_whole() && args.no_report {
        return Err(LoadError::InvalidOption(
            "a worker (--workers) must write its report: drop --no-report".into(),
        ));
    }
    let launcher = if args.target.is_none() {
        let exe = std::env::current_exe().map_err(|e| {
            LoadError::CouldNotRun(format!(
                "cannot find the ctx executable to start a server: {e}"
            ))
        })?;
        Some(Launcher::new(exe))
    } else {
        None
    };
    // Trust is the same as for the client commands (system roots + --cacert), and is
    // loaded only for an https:// target.
    let tls = match &args.target {
        Some(url) if url.trim_start().starts_with("https://") => Some(
            crate::tls::client_config(args.cacert.as_deref()).map_err(LoadError::CouldNotRun)?,
        ),
        _ => None,
    };
    // The API key as the other client commands send it, then the --header
    // values (which win over it: a request carries the last one of a name).
    let mut headers = Vec::new();
    if let Some(key) = args.auth.header().map_err(LoadError::InvalidOption)? {
        headers.push((API_KEY_HEADER, key));
    }
    for text in &args.headers {
        headers.push(ctx_load::engine::parse_header(text)?);
    }
    let scenarios = if find_max.is_some() && args.scenarios.is_empty() {
        vec![FIND_MAX_SCENARIO.to_string()]
    } else {
        args.scenarios
    };
    Ok(LoadOptions {
        target: args.target,
        tls,
        headers,
        launcher,
        server_pid: args.server_pid,
        scenarios,
        scenario_file: args.scenario_file,
        scale: args.scale,
        clients: args.clients,
        thresholds: args.thresholds,
        report_dir: args.report_dir,
        write_report: !args.no_report,
        open_loop,
        closed_duration: closed_duration.or(base.closed_duration),
        stages,
        think_time,
        find_max,
        timeout: secs("--timeout", args.timeout)?,
        progress: true,
        share,
        baseline: read_baseline(args.baseline.as_deref(), &args.tolerance)?,
        ..base
    })
}
