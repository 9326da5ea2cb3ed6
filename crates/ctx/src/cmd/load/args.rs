//! The flags of `ctx load` and `ctx load merge`: their doc comments are the `--help` text.

use std::path::PathBuf;

use crate::cmd::client::ApiKeyOption;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadArgs {
    #[command(subcommand)]
    pub(super) command: Option<LoadCommand>,
    /// Base URL of a running server (e.g. http://127.0.0.1:8080, or https://). Without it,
    /// `ctx load` starts its own server on a free port with a throw-away data directory.
    #[arg(long, value_name = "URL")]
    pub(super) target: Option<String>,
    /// For an https:// --target: also trust this CA (PEM), e.g. a self-signed certificate.
    #[arg(long, env = "CTX_CACERT", value_name = "PEM")]
    pub(super) cacert: Option<PathBuf>,
    /// Send this header on every request and /ws upgrade, e.g. 'Authorization: Bearer KEY';
    /// repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub(super) headers: Vec<String>,
    #[command(flatten)]
    pub(super) auth: ApiKeyOption,
    /// PID of the --target server, to measure its memory and CPU (else "not measured").
    #[arg(long, value_name = "PID")]
    pub(super) server_pid: Option<u32>,
    /// Scenario to run; repeatable. Default: the six seed scenarios (ws_fanout only when named).
    #[arg(long = "scenario", value_name = "NAME")]
    pub(super) scenarios: Vec<String>,
    /// TOML file with your own scenarios (see docs/load.md); select them with --scenario.
    #[arg(long, value_name = "FILE")]
    pub(super) scenario_file: Option<PathBuf>,
    /// Multiply each scenario's operations per client by F (at least 1 op).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub(super) scale: f64,
    /// Use N concurrent clients in every scenario instead of the scenario's own count
    /// (ws_fanout: N subscribers).
    #[arg(long, value_name = "N")]
    pub(super) clients: Option<u64>,
    /// Override a threshold, e.g. concurrent_reads.p99_ms=50 (or *.p99_ms=50, or =off); repeatable.
    #[arg(long = "threshold", value_name = "SCENARIO.METRIC=VALUE")]
    pub(super) thresholds: Vec<String>,
    /// Report directory [default: ./ctx-report/<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    pub(super) report_dir: Option<PathBuf>,
    /// Do not write a report directory.
    #[arg(long)]
    pub(super) no_report: bool,
    /// Open loop: send R requests per second in total (timed from the intended send time);
    /// ws_fanout: R writes per second.
    #[arg(long, value_name = "R")]
    pub(super) rate: Option<f64>,
    /// Seconds per scenario: open loop with --rate [default: 10 with --rate]; without
    /// --rate, closed loop for this long (each client repeating its op sequence).
    #[arg(long, value_name = "SECS")]
    pub(super) duration: Option<f64>,
    /// Compare every figure with an earlier run's report.json; a figure worse beyond
    /// --tolerance fails the run (exit 1). See docs/load.md for the rules.
    #[arg(long, value_name = "OLD/report.json")]
    pub(super) baseline: Option<PathBuf>,
    /// With --baseline: the relative change within which a figure counts as the same.
    #[arg(long, value_name = "PCT", default_value = "10%", requires = "baseline")]
    pub(super) tolerance: String,
    /// Open loop in stages: the total arrival rate ramps linearly from the previous stage's
    /// target (0 before the first) to each stage's, e.g. 10s:100,30s:1000,10s:0.
    #[arg(long, value_name = "DUR:RATE,...", conflicts_with_all = ["rate", "duration", "client_stages"])]
    pub(super) stages: Option<String>,
    /// Closed loop in stages: the number of active clients ramps linearly to each stage's,
    /// e.g. 10s:5,30s:50,10s:0 (as many connections as the peak).
    #[arg(long, value_name = "DUR:CLIENTS,...", conflicts_with_all = ["rate", "duration", "clients"])]
    pub(super) client_stages: Option<String>,
    /// Closed loop: each client pauses this long after each answer, e.g. 100ms, 1s.
    #[arg(long, value_name = "DURATION")]
    pub(super) think_time: Option<String>,
    /// Saturation search: step the open-loop rate up from --rate [100] (then bisect) until
    /// the --slo breaks, each rate for --duration [5] seconds, and report the highest rate
    /// that met it. One scenario [default: mixed_workload].
    #[arg(long, requires = "slo", conflicts_with_all = ["stages", "client_stages", "think_time"])]
    pub(super) find_max: bool,
    /// With --find-max: a limit each step must meet, METRIC=VALUE (p50_ms, p90_ms, p95_ms,
    /// p99_ms, p999_ms, avg_ms, success_rate); repeatable.
    #[arg(long, value_name = "METRIC=VALUE", requires = "find_max")]
    pub(super) slo: Vec<String>,
    /// With --find-max: the search's time budget in seconds; no step starts that would end
    /// after it.
    #[arg(long, value_name = "SECS", requires = "find_max", default_value_t = ctx_load::FIND_MAX_BUDGET_SECS as f64)]
    pub(super) max_duration: f64,
    /// Print the run's summary as one JSON document on stdout (verdict, totals, the
    /// scenario table's rows, the report.json path) instead of the table.
    #[arg(long)]
    pub(super) json: bool,
    /// Smoke run: the seed's sizes, about a second of load. Its verdict is never better
    /// than inconclusive (exit 6); the default run (about a minute) can be conclusive.
    #[arg(long)]
    pub(super) quick: bool,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub(super) timeout: f64,
    /// List the scenarios (seed, and from --scenario-file) and exit.
    #[arg(long)]
    pub(super) list: bool,
    /// Distributed run: this process is one of N workers that together offer the load
    /// (clients, rate and keys split without a coordinator; see docs/load.md).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "worker_index")]
    pub(super) workers: u64,
    /// Distributed run: which worker this is, 0 .. N-1 (e.g. $JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I", requires = "workers")]
    pub(super) worker_index: Option<u64>,
}

#[derive(clap::Subcommand)]
pub(super) enum LoadCommand {
    /// Combine the report.json of several processes (the workers of a distributed run)
    /// into one report: histograms added, counters summed, judged as one run.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
pub(super) struct MergeArgs {
    /// The report.json files to combine.
    #[arg(required = true, value_name = "REPORT.json")]
    pub(super) reports: Vec<PathBuf>,
    /// Report directory [default: ./ctx-report/<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    pub(super) report_dir: Option<PathBuf>,
    /// Compare every figure with an earlier run's report.json; a figure worse beyond
    /// --tolerance fails the run (exit 1). See docs/load.md for the rules.
    #[arg(long, value_name = "OLD/report.json")]
    pub(super) baseline: Option<PathBuf>,
    /// With --baseline: the relative change within which a figure counts as the same.
    #[arg(long, value_name = "PCT", default_value = "10%", requires = "baseline")]
    pub(super) tolerance: String,
    /// Print the merged summary as one JSON document on stdout, as `ctx load --json`.
    #[arg(long)]
    pub(super) json: bool,
}
