//! `ctx-load`: the performance and load suite for any server that speaks the
//! ctx HTTP API (ours, or the old Framework0 Python server). It knows only the
//! HTTP API and the `/ws` wire messages (`ctx-wire`): no server or store code.
//!
//! The components, arrows pointing one way (each uses only those above it):
//! - [`model`]: the figures — latency summaries and curves, per-scenario
//!   metrics, fan-out summary, the run report. Plain data, no rendering.
//! - [`engine`]: target URL, keep-alive HTTP clients, the per-worker recorder,
//!   closed and open loops, server-process sampling ([`engine::monitor`]).
//!   Produces the model.
//! - [`fanout`]: the `/ws` fan-out scenario (subscribers, writers through the
//!   engine, completeness). Produces the model.
//! - [`scenarios`]: the seed scenarios, custom TOML ones, thresholds; judges
//!   the model (checks, verdict, advice).
//! - [`search`]: the saturation search's options and arithmetic (which
//!   rate next); [`runner`] runs its steps.
//! - [`report`]: renders the model — one row model as Markdown, HTML,
//!   terminal table and JSON.
//! - [`server`] (starting our own server), [`progress`] (the live line) and
//!   [`runner`] (the whole run: [`run`]) sit on top; so does [`merge`] (one
//!   report from several processes' reports, judged as one run). The
//!   `ctx load` command is a thin wrapper.

pub mod engine;
pub mod error;
pub mod fanout;
pub mod merge;
pub mod model;
pub mod progress;
pub mod report;
mod runner;
pub mod scenarios;
pub mod search;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

pub use engine::{Mode, OpenLoop, Request, RequestGenerator, Target};
pub use error::LoadError;
pub use model::{PerformanceMetrics, RunReport};
pub use runner::run;
pub use scenarios::Scenario;
pub(crate) use search::SearchPlan;
pub use search::{
    FIND_MAX_BUDGET_SECS, FIND_MAX_MIN_CLIENTS, FIND_MAX_START_RATE, FIND_MAX_STEP_SECS,
    FindMaxOptions, SLO_METRICS,
};
pub use server::Launcher;

use model::{LeakRule, Outcome, Profile, StageKind, StagePlan, WorkerShare};

/// Upper bound on the requests one scenario may plan (a typo guard: at
/// 100 000 req/s this is still over a day of load).
pub const MAX_REQUESTS_PER_SCENARIO: u64 = 10_000_000_000;

/// The default run's seed phase: each seed scenario in closed loop for this
/// long (its op sequence repeated): thousands of samples for each, at least
/// a second for each throughput.
pub const FULL_RUN_SCENARIO_SECS: u64 = 3;
/// The default run's sustained phase: memory_stress's mix in open loop at
/// this rate for [`SUSTAINED_SECS`] — long enough for the leak rule (28 s and
/// 112 samples after warm-up), slow enough for a modest server.
pub const SUSTAINED_RATE: f64 = 100.0;
pub const SUSTAINED_SECS: u64 = 40;
/// The sustained phase's scenario name.
pub const SUSTAINED_SCENARIO: &str = "memory_sustained";

/// Everything a run needs. [`LoadOptions::default`] is the seed suite against
/// a server we start ourselves (which needs `launcher`).
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Base URL of an existing server. None: start one with `launcher`.
    pub target: Option<String>,
    /// For an `https://` target: which certificates to trust.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// Sent on every request and `/ws` upgrade (`--header`, the API key);
    /// see [`engine::parse_header`].
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    /// How to start our server when no target is given.
    pub launcher: Option<Launcher>,
    /// PID of an external server to monitor (ignored when we start the server).
    pub server_pid: Option<u32>,
    /// Scenario names to run, in this order; empty = the six seed scenarios
    /// (`ws_fanout` runs only when named).
    pub scenarios: Vec<String>,
    /// User scenarios (TOML, see [`scenarios`]); they join the known names.
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
    /// Closed loop for this long per scenario (the op sequence repeated)
    /// instead of the scenario's op count. Ignored in open loop.
    pub closed_duration: Option<Duration>,
    /// Every scenario in stages (`--stages`: a ramping arrival rate,
    /// `--client-stages`: ramping clients), instead of a file scenario's own
    /// `stages` and of the other shapes.
    pub stages: Option<StagePlan>,
    /// Closed loop: each client's pause after each answer (`--think-time`),
    /// instead of a file scenario's own `think_time`.
    pub think_time: Option<Duration>,
    /// After the selected scenarios, the sustained phase: memory_stress's mix
    /// in open loop at this rate and duration, with the leak check (which
    /// then leaves memory_stress itself).
    pub sustained: Option<OpenLoop>,
    /// How the run was shaped (the report says so; a quick run is a smoke run).
    pub profile: Profile,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Server sampling period.
    pub monitor_interval: Duration,
    pub leak_rule: LeakRule,
    /// Print the live progress line on stderr.
    pub progress: bool,
    /// `--baseline`: compare every figure with this earlier run's (read with
    /// [`scenarios::baseline::read`]); a regression fails the run.
    pub baseline: Option<model::Baseline>,
    /// `--find-max`: a saturation search of the one selected scenario
    /// instead of a run of each.
    pub find_max: Option<FindMaxOptions>,
    /// This process's part of a distributed run (`--workers`, `--worker-index`;
    /// see [`model::WorkerShare`]); `WHOLE` = the whole load.
    pub share: WorkerShare,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            target: None,
            tls: None,
            headers: Vec::new(),
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
            closed_duration: None,
            stages: None,
            think_time: None,
            sustained: None,
            profile: Profile::Custom,
            timeout: Duration::from_secs(30),
            monitor_interval: Duration::from_millis(250),
            leak_rule: LeakRule::default(),
            progress: false,
            find_max: None,
            share: WorkerShare::WHOLE,
            baseline: None,
        }
    }
}

impl LoadOptions {
    /// The default run: the six seed scenarios for [`FULL_RUN_SCENARIO_SECS`]
    /// each, then the sustained phase: about a minute of load, enough for a
    /// conclusive verdict.
    pub fn full_run() -> Self {
        LoadOptions {
            closed_duration: Some(Duration::from_secs(FULL_RUN_SCENARIO_SECS)),
            sustained: Some(OpenLoop {
                rate: SUSTAINED_RATE,
                duration: Duration::from_secs(SUSTAINED_SECS),
            }),
            profile: Profile::Full,
            ..LoadOptions::default()
        }
    }

    /// `--quick`: the seed's sizes, about a second of load — a smoke run,
    /// whose verdict is never better than inconclusive.
    pub fn quick() -> Self {
        LoadOptions {
            profile: Profile::Quick,
            ..LoadOptions::default()
        }
    }
}

/// The result of a run that was carried out to the end.
#[derive(Debug)]
pub struct RunOutcome {
    /// No check of any scenario failed (inconclusive ones did not fail either).
    pub all_passed: bool,
    /// The run's verdict (also `report.verdict`): what the exit code follows.
    pub outcome: Outcome,
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
    search::check_run(opts)?;
    if let Some(plan) = &opts.stages {
        scenarios::stages::check(plan).map_err(LoadError::InvalidOption)?;
        if opts.open_loop.is_some() {
            return Err(LoadError::InvalidOption(
                "--stages/--client-stages replace --rate: give one load shape".into(),
            ));
        }
    }
    if let Some(think) = opts.think_time {
        if think.is_zero() || think > Duration::from_secs(3600) {
            return Err(LoadError::InvalidOption(
                "--think-time must be more than 0 and at most 1h".into(),
            ));
        }
        let open = opts.open_loop.is_some()
            || opts
                .stages
                .as_ref()
                .is_some_and(|p| p.ramps == StageKind::Rate);
        if open {
            return Err(LoadError::InvalidOption(
                "--think-time applies to closed loop (clients that wait for each answer); \
                 an open loop's arrivals are scheduled by its rate"
                    .into(),
            ));
        }
    }
    let mut all = scenarios::builtin_scenarios();
    if let Some(path) = &opts.scenario_file {
        for s in scenarios::load_file(path)? {
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
        if opts.find_max.is_some() {
            if s.fanout.is_some() {
                return Err(LoadError::InvalidOption(format!(
                    "--find-max searches an HTTP scenario's rate, not {}'s",
                    s.name
                )));
            }
            if opts.clients.is_none() {
                s.clients = s.clients.max(FIND_MAX_MIN_CLIENTS);
            }
        }
        if s.fanout.is_some() && (opts.stages.is_some() || opts.think_time.is_some()) {
            return Err(LoadError::InvalidOption(format!(
                "{} writes at --rate for --duration: --stages, --client-stages and --think-time \
                 do not apply to it",
                s.name
            )));
        }
        if opts.sustained.is_some() && s.name == "memory_stress" {
            // Judged where it can be: in the sustained phase.
            s.thresholds.fail_on_leak = false;
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
    if let Some(sustained) = &opts.sustained {
        let mut s = scenarios::memory_stress();
        s.name = SUSTAINED_SCENARIO.into();
        s.description = format!(
            "memory_stress's mix in open loop at {} req/s for {} s: the leak check",
            sustained.rate,
            sustained.duration.as_secs_f64()
        );
        s.open_loop = Some(sustained.clone());
        selected.push(s);
    }
    if let Some(d) = opts.closed_duration
        && d.is_zero()
    {
        return Err(LoadError::InvalidOption(
            "--duration must be positive".into(),
        ));
    }
    let mut known = known;
    if opts.sustained.is_some() {
        known.push(SUSTAINED_SCENARIO.into());
    }
    scenarios::apply_overrides(&mut selected, &known, &opts.thresholds)?;
    check_share(&selected, opts)?;
    Ok(selected)
}

/// A worker needs at least one client of each scenario, and `ws_fanout`
/// (whose subscribers must see every write) does not split.
fn check_share(selected: &[Scenario], opts: &LoadOptions) -> Result<(), LoadError> {
    let share = opts.share;
    if share.is_whole() {
        return Ok(());
    }
    for s in selected {
        if matches!(
            runner::mode_of(opts, s, s.clients),
            Mode::ClosedStaged { .. }
        ) {
            return Err(LoadError::InvalidOption(format!(
                "{}: ramping clients (--client-stages, or the scenario's stages) do not split \
                 over --workers yet; ramp the arrival rate (--stages) instead",
                s.name
            )));
        }
        if s.fanout.is_some() {
            return Err(LoadError::InvalidOption(format!(
                "{} does not split over --workers (every subscriber must see every write); \
                 run it from one process",
                s.name
            )));
        }
        if s.clients < share.workers {
            return Err(LoadError::InvalidOption(format!(
                "{} has {} clients, fewer than --workers {}: each worker needs at least one \
                 (raise --clients)",
                s.name, s.clients, share.workers
            )));
        }
    }
    Ok(())
}
