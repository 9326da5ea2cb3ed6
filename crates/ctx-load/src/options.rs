//! What a run is asked to do ([`LoadOptions`], as `ctx load`'s flags or a
//! test set them; the default run and the smoke run) and what a run carried
//! out to the end gives back ([`RunOutcome`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{self, LeakRule, Outcome, Profile, StagePlan, WorkerShare};
use crate::{
    FULL_RUN_SCENARIO_SECS, FindMaxOptions, Launcher, OpenLoop, RunReport, SUSTAINED_RATE,
    SUSTAINED_SECS,
};

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
