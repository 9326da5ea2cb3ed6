//! `ctx load`: the performance and load suite (the seed's six scenarios, or
//! your own), against `--target URL` or against a server it starts itself.
//!
//! A thin shell over `ctx_load::run`: parse flags, build the options, print
//! the summary table, map the run's verdict to an exit code (see `exit.rs`):
//! 0 pass, 1 fail, 6 inconclusive (nothing failed, but not enough evidence:
//! a smoke run, a figure not measured, too few samples), 2 a usage error (bad
//! URL, unknown scenario, malformed threshold or scenario file, bad option
//! value), 3 the run could not be carried out (unreachable target, server
//! would not start, interrupted) — with one line on stderr.
//!
//! Without flags that shape the run, it is the default full run (the seed
//! scenarios for a few seconds each, then the sustained phase: about a
//! minute); `--quick` is the seed-sized smoke run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ctx_load::model::{Outcome, StageKind};
use ctx_load::scenarios::stages;
use ctx_load::{Launcher, LoadError, LoadOptions, OpenLoop};

use crate::cmd::client::{API_KEY_HEADER, ApiKeyOption};
use crate::exit;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadArgs {
    #[command(subcommand)]
    command: Option<LoadCommand>,
    /// Base URL of a running server (e.g. http://127.0.0.1:8080, or https://). Without it,
    /// `ctx load` starts its own server on a free port with a throw-away data directory.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// For an https:// --target: also trust this CA (PEM), e.g. a self-signed certificate.
    #[arg(long, env = "CTX_CACERT", value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// Send this header on every request and /ws upgrade, e.g. 'Authorization: Bearer KEY';
    /// repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    #[command(flatten)]
    auth: ApiKeyOption,
    /// PID of the --target server, to measure its memory and CPU (else "not measured").
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Scenario to run; repeatable. Default: the six seed scenarios (ws_fanout only when named).
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// TOML file with your own scenarios (see docs/load.md); select them with --scenario.
    #[arg(long, value_name = "FILE")]
    scenario_file: Option<PathBuf>,
    /// Multiply each scenario's operations per client by F (at least 1 op).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    scale: f64,
    /// Use N concurrent clients in every scenario instead of the scenario's own count
    /// (ws_fanout: N subscribers).
    #[arg(long, value_name = "N")]
    clients: Option<u64>,
    /// Override a threshold, e.g. concurrent_reads.p99_ms=50 (or *.p99_ms=50, or =off); repeatable.
    #[arg(long = "threshold", value_name = "SCENARIO.METRIC=VALUE")]
    thresholds: Vec<String>,
    /// Report directory [default: ./ctx-report/<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Do not write a report directory.
    #[arg(long)]
    no_report: bool,
    /// Open loop: send R requests per second in total (timed from the intended send time);
    /// ws_fanout: R writes per second.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Seconds per scenario: open loop with --rate [default: 10 with --rate]; without
    /// --rate, closed loop for this long (each client repeating its op sequence).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Compare every figure with an earlier run's report.json; a figure worse beyond
    /// --tolerance fails the run (exit 1). See docs/load.md for the rules.
    #[arg(long, value_name = "OLD/report.json")]
    baseline: Option<PathBuf>,
    /// With --baseline: the relative change within which a figure counts as the same.
    #[arg(long, value_name = "PCT", default_value = "10%", requires = "baseline")]
    tolerance: String,
    /// Open loop in stages: the total arrival rate ramps linearly from the previous stage's
    /// target (0 before the first) to each stage's, e.g. 10s:100,30s:1000,10s:0.
    #[arg(long, value_name = "DUR:RATE,...", conflicts_with_all = ["rate", "duration", "client_stages"])]
    stages: Option<String>,
    /// Closed loop in stages: the number of active clients ramps linearly to each stage's,
    /// e.g. 10s:5,30s:50,10s:0 (as many connections as the peak).
    #[arg(long, value_name = "DUR:CLIENTS,...", conflicts_with_all = ["rate", "duration", "clients"])]
    client_stages: Option<String>,
    /// Closed loop: each client pauses this long after each answer, e.g. 100ms, 1s.
    #[arg(long, value_name = "DURATION")]
    think_time: Option<String>,
    /// Saturation search: step the open-loop rate up from --rate [100] (then bisect) until
    /// the --slo breaks, each rate for --duration [5] seconds, and report the highest rate
    /// that met it. One scenario [default: mixed_workload].
    #[arg(long, requires = "slo", conflicts_with_all = ["stages", "client_stages", "think_time"])]
    find_max: bool,
    /// With --find-max: a limit each step must meet, METRIC=VALUE (p50_ms, p90_ms, p95_ms,
    /// p99_ms, p999_ms, avg_ms, success_rate); repeatable.
    #[arg(long, value_name = "METRIC=VALUE", requires = "find_max")]
    slo: Vec<String>,
    /// With --find-max: the search's time budget in seconds; no step starts that would end
    /// after it.
    #[arg(long, value_name = "SECS", requires = "find_max", default_value_t = ctx_load::FIND_MAX_BUDGET_SECS as f64)]
    max_duration: f64,
    /// Print the run's summary as one JSON document on stdout (verdict, totals, the
    /// scenario table's rows, the report.json path) instead of the table.
    #[arg(long)]
    json: bool,
    /// Smoke run: the seed's sizes, about a second of load. Its verdict is never better
    /// than inconclusive (exit 6); the default run (about a minute) can be conclusive.
    #[arg(long)]
    quick: bool,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
    /// List the scenarios (seed, and from --scenario-file) and exit.
    #[arg(long)]
    list: bool,
    /// Distributed run: this process is one of N workers that together offer the load
    /// (clients, rate and keys split without a coordinator; see docs/load.md).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "worker_index")]
    workers: u64,
    /// Distributed run: which worker this is, 0 .. N-1 (e.g. $JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I", requires = "workers")]
    worker_index: Option<u64>,
}

#[derive(clap::Subcommand)]
enum LoadCommand {
    /// Combine the report.json of several processes (the workers of a distributed run)
    /// into one report: histograms added, counters summed, judged as one run.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The report.json files to combine.
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    /// Report directory [default: ./ctx-report/<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Compare every figure with an earlier run's report.json; a figure worse beyond
    /// --tolerance fails the run (exit 1). See docs/load.md for the rules.
    #[arg(long, value_name = "OLD/report.json")]
    baseline: Option<PathBuf>,
    /// With --baseline: the relative change within which a figure counts as the same.
    #[arg(long, value_name = "PCT", default_value = "10%", requires = "baseline")]
    tolerance: String,
    /// Print the merged summary as one JSON document on stdout, as `ctx load --json`.
    #[arg(long)]
    json: bool,
}

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
fn read_baseline(
    path: Option<&std::path::Path>,
    tolerance: &str,
) -> Result<Option<ctx_load::model::Baseline>, LoadError> {
    let tolerance = ctx_load::scenarios::baseline::parse_tolerance(tolerance)?;
    path.map(|path| ctx_load::scenarios::baseline::read(path, tolerance))
        .transpose()
}

fn build_options(args: LoadArgs) -> Result<LoadOptions, LoadError> {
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

fn list(opts: &LoadOptions) -> ExitCode {
    let all = LoadOptions {
        scenarios: Vec::new(),
        ..opts.clone()
    };
    let mut names: Vec<String> = ctx_load::scenarios::SEED_SCENARIOS
        .iter()
        .chain(&ctx_load::scenarios::EXTRA_SCENARIOS)
        .map(|s| s.to_string())
        .collect();
    if let Some(path) = &all.scenario_file {
        match ctx_load::scenarios::load_file(path) {
            Ok(extra) => names.extend(extra.into_iter().map(|s| s.name)),
            Err(e) => return fail(&e),
        }
    }
    let chosen = LoadOptions {
        scenarios: names,
        ..all
    };
    match ctx_load::prepare_scenarios(&chosen) {
        Ok(scenarios) => {
            for s in scenarios {
                println!("{:<22} {:<36} {}", s.name, s.size_label(), s.description);
            }
            exit::code(exit::OK)
        }
        Err(e) => fail(&e),
    }
}

/// One stderr line and the exit code for the kind of error: bad input is a usage error.
fn fail(error: &LoadError) -> ExitCode {
    eprintln!("ctx load: {error}");
    match error {
        LoadError::InvalidOption(_) => exit::code(exit::USAGE),
        _ => exit::code(exit::COULD_NOT_RUN),
    }
}

/// The exit code of a verdict.
fn verdict_code(outcome: Outcome) -> ExitCode {
    exit::code(match outcome {
        Outcome::Pass => exit::OK,
        Outcome::Fail => exit::NEGATIVE,
        Outcome::Inconclusive => exit::INCONCLUSIVE,
    })
}

/// A run's (or a merge's) summary on stdout: the table and the report path,
/// or one JSON document with `--json`.
fn print_summary(report: &ctx_load::model::RunReport, dir: Option<&std::path::Path>, json: bool) {
    if json {
        println!("{}", ctx_load::report::summary_json(report, dir));
        return;
    }
    print!("{}", ctx_load::report::summary_table(report));
    if let Some(dir) = dir {
        println!("report: {}", dir.join("report.md").display());
    }
}

/// `ctx load merge`: one report from several, judged as one run; the exit
/// code follows its verdict as for a run.
fn merge(args: MergeArgs) -> ExitCode {
    let merged = match read_baseline(args.baseline.as_deref(), &args.tolerance)
        .and_then(|baseline| ctx_load::merge::merge(&args.reports, baseline))
    {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    for warning in &merged.warnings {
        eprintln!("ctx load merge: warning: {warning}");
    }
    let dir = args
        .report_dir
        .unwrap_or_else(ctx_load::report::default_report_dir);
    if let Err(source) = ctx_load::report::write(&dir, &merged.report) {
        return fail(&LoadError::Report { dir, source });
    }
    print_summary(&merged.report, Some(&dir), args.json);
    verdict_code(merged.report.verdict.outcome)
}

pub fn run(args: LoadArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(LoadCommand::Merge(merge_args)) = args.command {
        return merge(merge_args);
    }
    let listing = args.list;
    let as_json = args.json;
    let opts = match build_options(args) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    if listing {
        return list(&opts);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctx load: cannot start the async runtime: {e}");
            return exit::code(exit::COULD_NOT_RUN);
        }
    };
    match runtime.block_on(ctx_load::run(opts)) {
        Ok(outcome) => {
            print_summary(&outcome.report, outcome.report_dir.as_deref(), as_json);
            // A worker's verdict judges only its share (a throughput floor
            // meant for the whole load fails on a third of it): the run's
            // verdict and exit code are `ctx load merge`'s. A worker that ran
            // to the end succeeded, so a Kubernetes Job does not retry it.
            if outcome.report.worker.is_some() {
                return exit::code(exit::OK);
            }
            verdict_code(outcome.outcome)
        }
        Err(e) => fail(&e),
    }
}
