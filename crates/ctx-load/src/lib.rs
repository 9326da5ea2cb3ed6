//! `ctx-load`: the performance and load suite for any server that speaks the
//! ctx HTTP API (ours, or the old Framework0 Python server).
//!
//! It knows only the HTTP API: no server or store internals. The modules, one
//! concern each:
//! - [`engine`]: concurrent keep-alive clients, closed and open loop, HDR histograms;
//! - [`metrics`]: the figures of one scenario run;
//! - [`monitor`]: server-process RSS/CPU sampling and leak detection;
//! - [`scenarios`]: the six seed scenarios and `ws_fanout`, scaling, thresholds as data;
//! - [`fanout`]: the `/ws` fan-out scenario (subscribers, writers, completeness);
//! - [`custom`]: user scenarios from a TOML file;
//! - [`server`]: starting our own server as a child process;
//! - [`report`] and [`html`]: the report directory;
//! - [`progress`]: the live progress line.
//!
//! [`run`] ties them together; the `ctx load` command is a thin wrapper.

pub mod custom;
pub mod engine;
pub mod error;
pub mod fanout;
pub mod html;
pub mod metrics;
pub mod monitor;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use engine::{Mode, Request, RequestGenerator, Target};
pub use error::LoadError;
pub use metrics::PerformanceMetrics;
pub use report::RunReport;
pub use scenarios::{Scenario, Thresholds};
pub use server::Launcher;

use engine::{EngineConfig, Progress};
use metrics::SetupSummary;
use monitor::{LeakRule, Monitor};
use report::{ModeInfo, ScenarioReport, ServerInfo};
use scenarios::CheckStatus;
use server::ChildServer;

/// Upper bound on the requests one scenario may plan (a typo guard: at
/// 100 000 req/s this is still over a day of load).
pub const MAX_REQUESTS_PER_SCENARIO: u64 = 10_000_000_000;

/// Open-loop settings: `rate` requests per second in total for `duration`.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    pub rate: f64,
    pub duration: Duration,
}

/// Everything a run needs. [`LoadOptions::default`] is the seed suite against
/// a server we start ourselves (which needs `launcher`).
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Base URL of an existing server. None: start one with `launcher`.
    pub target: Option<String>,
    /// How to start our server when no target is given.
    pub launcher: Option<Launcher>,
    /// PID of an external server to monitor (ignored when we start the server).
    pub server_pid: Option<u32>,
    /// Scenario names to run, in this order; empty = the six seed scenarios
    /// (`ws_fanout` runs only when named).
    pub scenarios: Vec<String>,
    /// User scenarios (TOML, see [`custom`]); they join the known names.
    pub scenario_file: Option<PathBuf>,
    /// Multiplies operations per client (see [`Scenario::scaled`]).
    pub scale: f64,
    /// Overrides every scenario's client count.
    pub clients: Option<u64>,
    /// `SCENARIO.METRIC=VALUE` threshold overrides.
    pub thresholds: Vec<String>,
    /// Where to write the report; None = `./ctx-report/<UTC timestamp>/`.
    pub report_dir: Option<PathBuf>,
    /// Write the report at all.
    pub write_report: bool,
    /// Run every scenario in open loop instead of the seed's closed loop
    /// (for `ws_fanout`: its write rate and duration).
    pub open_loop: Option<OpenLoop>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Server sampling period.
    pub monitor_interval: Duration,
    pub leak_rule: LeakRule,
    /// Print the live progress line on stderr.
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            target: None,
            launcher: None,
            server_pid: None,
            scenarios: Vec::new(),
            scenario_file: None,
            scale: 1.0,
            clients: None,
            thresholds: Vec::new(),
            report_dir: None,
            write_report: true,
            open_loop: None,
            timeout: Duration::from_secs(30),
            monitor_interval: Duration::from_millis(250),
            leak_rule: LeakRule::default(),
            progress: false,
        }
    }
}

/// The result of a run that was carried out to the end.
#[derive(Debug)]
pub struct RunOutcome {
    /// Every threshold of every scenario held (skipped checks do not fail).
    pub all_passed: bool,
    /// Where the report was written (None when `write_report` was false).
    pub report_dir: Option<PathBuf>,
    pub report: RunReport,
    /// The terminal summary table.
    pub summary_table: String,
}

/// Builds the scenario list from the options: seed + file scenarios, the
/// selection, scaling, client override and threshold overrides. All input
/// errors surface here, before any server is started or request sent.
pub fn prepare_scenarios(opts: &LoadOptions) -> Result<Vec<Scenario>, LoadError> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(LoadError::InvalidOption(format!(
            "--scale must be a positive number, got {}",
            opts.scale
        )));
    }
    if opts.clients == Some(0) {
        return Err(LoadError::InvalidOption(
            "--clients must be at least 1".into(),
        ));
    }
    if opts.timeout.is_zero() {
        return Err(LoadError::InvalidOption(
            "--timeout must be positive".into(),
        ));
    }
    if let Some(ol) = &opts.open_loop {
        if !(ol.rate.is_finite() && ol.rate > 0.0) {
            return Err(LoadError::InvalidOption(format!(
                "--rate must be a positive number, got {}",
                ol.rate
            )));
        }
        if ol.duration.is_zero() {
            return Err(LoadError::InvalidOption(
                "--duration must be positive".into(),
            ));
        }
        let planned = ol.rate * ol.duration.as_secs_f64();
        if planned < 1.0 {
            return Err(LoadError::InvalidOption(
                "--rate × --duration plans no request at all".into(),
            ));
        }
        if planned > MAX_REQUESTS_PER_SCENARIO as f64 {
            return Err(LoadError::InvalidOption(format!(
                "--rate × --duration plans more than {MAX_REQUESTS_PER_SCENARIO} requests per scenario"
            )));
        }
    }
    let mut all = scenarios::builtin_scenarios();
    if let Some(path) = &opts.scenario_file {
        for s in custom::load_file(path)? {
            if all.iter().any(|a| a.name == s.name) {
                return Err(LoadError::InvalidOption(format!(
                    "{}: scenario {:?} is defined twice (or shadows a seed scenario)",
                    path.display(),
                    s.name
                )));
            }
            all.push(s);
        }
    }
    let known: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let wanted: Vec<String> = if opts.scenarios.is_empty() {
        scenarios::SEED_SCENARIOS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        opts.scenarios.clone()
    };
    let mut selected = Vec::new();
    for name in &wanted {
        let s = all.iter().find(|s| &s.name == name).ok_or_else(|| {
            LoadError::InvalidOption(format!(
                "unknown scenario {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        let mut s = s.clone();
        if let Some(ol) = &opts.open_loop {
            s = s.with_write_schedule(ol.rate, ol.duration);
        }
        let mut s = s.scaled(opts.scale);
        if let Some(c) = opts.clients {
            s = s.with_clients(c);
        }
        if s.clients
            .checked_mul(s.ops_per_client)
            .is_none_or(|n| n > MAX_REQUESTS_PER_SCENARIO)
        {
            return Err(LoadError::InvalidOption(format!(
                "{}: {} clients × {} ops is more than {MAX_REQUESTS_PER_SCENARIO} requests",
                s.name, s.clients, s.ops_per_client
            )));
        }
        selected.push(s);
    }
    scenarios::apply_overrides(&mut selected, &known, &opts.thresholds)?;
    Ok(selected)
}

/// Runs the selected scenarios and writes the report.
///
/// Errors mean the run could not be carried out (bad input, unreachable
/// target, server would not start, run aborted); a finished run whose
/// thresholds failed is `Ok` with `all_passed == false`.
pub async fn run(opts: LoadOptions) -> Result<RunOutcome, LoadError> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let selected = prepare_scenarios(&opts)?;
    let explicit_target = match &opts.target {
        Some(url) => Some(Target::parse(url)?),
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
            let t = Target::parse(server.url())?;
            child = Some(server);
            t
        }
    };
    let pid = child.as_ref().map(|c| c.pid()).or(opts.server_pid);

    let mut reports = Vec::new();
    let aborted = run_scenarios(&opts, &selected, &target, pid, &mut child, &mut reports).await;
    let stop_note = match child {
        Some(c) => c.stop().await,
        None => None,
    };

    let (summary, readiness, all_passed) = report::summarise(&reports);
    let recommendations =
        report::recommendations(&reports, pid.is_some(), opts.open_loop.is_some());
    let report = RunReport {
        schema_version: report::SCHEMA_VERSION,
        tool: format!("ctx-load {}", env!("CARGO_PKG_VERSION")),
        started_at,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        complete: aborted.is_none(),
        aborted_reason: aborted.clone(),
        target: target.to_string(),
        server: ServerInfo {
            started_by_load: opts.target.is_none(),
            pid,
            stop_note,
        },
        mode: ModeInfo {
            kind: if opts.open_loop.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            rate: opts.open_loop.as_ref().map(|o| o.rate),
            duration_secs: opts.open_loop.as_ref().map(|o| o.duration.as_secs_f64()),
            scale: opts.scale,
            clients_override: opts.clients,
            timeout_secs: opts.timeout.as_secs_f64(),
        },
        summary,
        readiness,
        recommendations,
        all_thresholds_passed: all_passed && aborted.is_none(),
        scenarios: reports,
    };

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
        report_dir,
        report,
        summary_table,
    })
}

/// Checks that something accepts TCP connections at the target, so an
/// unreachable target is one clear error instead of 100 % connect failures.
async fn preflight(target: &Target) -> Result<(), LoadError> {
    let addr = (target.host().to_string(), target.port());
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(LoadError::CouldNotRun(format!(
            "target {target} is unreachable: {e}"
        ))),
        Err(_) => Err(LoadError::CouldNotRun(format!(
            "target {target} is unreachable: connect timed out"
        ))),
    }
}

/// Runs each scenario in turn, pushing its report. Returns the abort reason
/// if the run stopped early (Ctrl-C, or our server died).
async fn run_scenarios(
    opts: &LoadOptions,
    selected: &[Scenario],
    target: &Target,
    pid: Option<u32>,
    child: &mut Option<ChildServer>,
    reports: &mut Vec<ScenarioReport>,
) -> Option<String> {
    let total = selected.len();
    for (i, scenario) in selected.iter().enumerate() {
        let one = run_one(opts, scenario, target, pid, i + 1, total);
        // A server of ours that dies mid-scenario ends the run at once,
        // rather than after every remaining request has failed.
        let died = async {
            match child.as_mut() {
                Some(c) => c.wait_exit().await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = one => r,
            _ = tokio::signal::ctrl_c() => Err(format!("interrupted during {}", scenario.name)),
            status = died => Err(format!("the server exited ({status}) during {}", scenario.name)),
        };
        let result = result.map_err(|reason| match child.as_ref() {
            Some(c) if reason.starts_with("the server exited") => {
                format!("{reason}; stderr: {}", c.stderr_tail())
            }
            _ => reason,
        });
        match result {
            Ok(rep) => reports.push(rep),
            Err(reason) => {
                if opts.progress {
                    eprintln!();
                }
                return Some(reason);
            }
        }
        if let Some(c) = child.as_mut()
            && let Some(status) = c.exited()
        {
            return Some(format!(
                "the server exited ({status}) after {}; stderr: {}",
                scenario.name,
                c.stderr_tail()
            ));
        }
    }
    None
}

async fn run_one(
    opts: &LoadOptions,
    scenario: &Scenario,
    target: &Target,
    pid: Option<u32>,
    index: usize,
    of: usize,
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
    let mode = match &opts.open_loop {
        Some(ol) => Mode::Open {
            clients: scenario.clients,
            rate: ol.rate,
            duration: ol.duration,
        },
        None => Mode::Closed {
            clients: scenario.clients,
            ops_per_client: scenario.ops_per_client,
        },
    };
    let mut cfg = EngineConfig::new(target.clone(), mode);
    cfg.timeout = opts.timeout;
    let late_slack_ms = cfg.late_slack.as_secs_f64() * 1000.0;
    let counters = Arc::new(Progress::default());
    let label = format!("[{index}/{of}] {}", scenario.name);
    let ticker = opts
        .progress
        .then(|| progress::spawn(label.clone(), counters.clone()));
    // Sampling starts before the first request and stops after the last one.
    let monitor = match pid {
        Some(pid) => match Monitor::start(pid, opts.monitor_interval) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!("cannot monitor PID {pid}: {e}");
                None
            }
        },
        None => None,
    };
    // Open loop runs for a duration, not an op count: each client repeats the
    // scenario's own op sequence (op ids cycle through 0..ops_per_client), so
    // the request mix and the key set stay those of the scenario however long
    // the run. Without this, a sustained memory_stress would write ever new
    // keys and "RSS still growing" would only measure the growing data set.
    let generator = match &opts.open_loop {
        Some(_) => {
            let inner = scenario.generator.clone();
            let cycle = scenario.ops_per_client.max(1);
            Arc::new(move |c, o| inner(c, o % cycle)) as RequestGenerator
        }
        None => scenario.generator.clone(),
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
        .map(|f| (f.writes, Some((f.delivery, f.summary)))),
        None => engine::run(&cfg, generator, counters.clone())
            .await
            .map(|r| (r, None)),
    };
    let resources = match monitor {
        Some(m) => Some(m.stop(&opts.leak_rule).await),
        None => None,
    };
    if let Some(t) = ticker {
        t.finish().await;
    }
    let (run, fanout) = run.map_err(|e| e.to_string())?;
    let ops_per_client = opts.open_loop.is_none().then_some(scenario.ops_per_client);
    let mut metrics = PerformanceMetrics::from_run(
        &scenario.name,
        scenario.clients,
        ops_per_client,
        &run,
        late_slack_ms,
        resources,
        setup,
    );
    if let Some((delivery, summary)) = fanout {
        metrics = metrics.with_fanout(&delivery, summary);
    }
    let rate = match &scenario.fanout {
        Some(f) => Some(f.rate),
        None => opts.open_loop.as_ref().map(|o| o.rate),
    };
    let checks = scenarios::evaluate(&scenario.thresholds, &metrics, rate);
    let passed = checks.iter().all(|c| c.status != CheckStatus::Fail);
    if opts.progress {
        progress::print_done(&label, &metrics, passed);
    }
    Ok(ScenarioReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        thresholds: scenario.thresholds.clone(),
        checks,
        passed,
        metrics,
    })
}
