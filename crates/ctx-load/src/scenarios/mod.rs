//! The six seed scenarios, with the request shapes, counts and thresholds of
//! the Framework0 suite (`seed/test_performance_load.md`, `spec/load.md`),
//! the `ws_fanout` live-update scenario (run only when asked for), plus
//! scaling and threshold overrides.
//!
//! A scenario is data: a name, a client count, operations per client, optional
//! set-up requests, a request generator and its [`Thresholds`]. Keeping the
//! thresholds as data (not assertions) is what lets the CLI override them
//! (`--threshold concurrent_reads.p99_ms=50`), the report list every check
//! with its actual figure, and `cargo test` assert exactly the seed's limits.

mod advice;
pub mod baseline;
pub mod checks;
mod custom;
mod judge;
mod seed;
pub mod stages;
mod thresholds;
mod verdict;

use std::time::Duration;

pub use advice::recommendations;
pub use custom::{load_file, parse as parse_scenario_file};
pub use judge::{RunFacts, ScenarioFigures, judge_run, judge_scenario};
pub use seed::{
    concurrent_reads, concurrent_writes, file_dumps, memory_stress, mixed_workload,
    percentile_analysis, seed_scenarios, ws_fanout,
};
pub use thresholds::evaluate;
pub use verdict::{READY_MAX_P99_MS, READY_MIN_SUCCESS_PCT, RunContext, decide, readiness};

use crate::engine::{OpenLoop, Request, RequestGenerator};
use crate::error::LoadError;
use crate::fanout::FanoutSpec;
use crate::model::{StagePlan, Thresholds};
use checks::ContentCheck;

/// Names of the seed scenarios, in the order they run. `file_dumps` runs before the
/// writing scenarios, so it dumps what the seed's suite dumped (a context with a few
/// hundred history entries): after the default run's 3 s of closed-loop writing the
/// history holds ~100 000 entries, and half its dumps include it (measured: 3.1 s per
/// dump, 1.6 GB server peak), which answers another question than the seed's.
pub const SEED_SCENARIOS: [&str; 6] = [
    "concurrent_reads",
    "file_dumps",
    "concurrent_writes",
    "mixed_workload",
    "memory_stress",
    "percentile_analysis",
];

/// Built-in scenarios that are not part of the default (seed) run.
pub const EXTRA_SCENARIOS: [&str; 1] = ["ws_fanout"];

/// One scenario, ready to run.
#[derive(Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub clients: u64,
    pub ops_per_client: u64,
    /// Sent sequentially before the measured part (not measured).
    pub setup: Vec<Request>,
    pub generator: RequestGenerator,
    pub thresholds: Thresholds,
    /// A `/ws` fan-out scenario: `clients` are subscribers, the writes follow
    /// this spec, and `generator`/`setup` are unused.
    pub fanout: Option<FanoutSpec>,
    /// This scenario in open loop whatever the run's mode (the sustained phase).
    pub open_loop: Option<OpenLoop>,
    /// A scenario file's `stages`: its load shape unless the command line gives one.
    pub stages: Option<StagePlan>,
    /// A scenario file's `think_time`: each closed-loop client's pause after
    /// each answer, unless `--think-time` gives one.
    pub think_time: Option<Duration>,
    /// Content checks on every answer (scenario files' `[[scenario.check]]`).
    pub checks: Vec<ContentCheck>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("clients", &self.clients)
            .field("ops_per_client", &self.ops_per_client)
            .field("setup", &self.setup.len())
            .field("thresholds", &self.thresholds)
            .field("fanout", &self.fanout)
            .field("open_loop", &self.open_loop)
            .field("stages", &self.stages)
            .field("think_time", &self.think_time)
            .finish()
    }
}

impl Scenario {
    /// Multiplies the scenario's size by `factor`: operations per client become
    /// `max(1, round(ops_per_client × factor))`; the client count (the
    /// concurrency the seed chose) is kept. Use [`Scenario::with_clients`] to change it.
    /// A fan-out scenario's write duration is multiplied instead (at the same
    /// rate, at least one write).
    pub fn scaled(mut self, factor: f64) -> Self {
        match &mut self.fanout {
            Some(f) => {
                // Just over one write's interval: floor(rate × secs) stays ≥ 1 despite rounding.
                let secs = (f.duration.as_secs_f64() * factor).max(1.000_001 / f.rate);
                f.duration = Duration::try_from_secs_f64(secs).unwrap_or(f.duration);
                self.ops_per_client = f.planned_writes().max(1);
            }
            None => {
                self.ops_per_client = ((self.ops_per_client as f64 * factor).round() as u64).max(1);
            }
        }
        self
    }

    /// A fan-out scenario writes at `rate` per second for `duration` (the
    /// `--rate`/`--duration` flags); other scenarios are unchanged.
    pub fn with_write_schedule(mut self, rate: f64, duration: Duration) -> Self {
        if let Some(f) = &mut self.fanout {
            f.rate = rate;
            f.duration = duration;
            self.ops_per_client = f.planned_writes().max(1);
        }
        self
    }

    /// The size, as `--list` shows it.
    pub fn size_label(&self) -> String {
        match &self.fanout {
            Some(f) => f.describe(self.clients),
            None => format!("{} clients × {}", self.clients, self.ops_per_client),
        }
    }

    pub fn with_clients(mut self, clients: u64) -> Self {
        self.clients = clients.max(1);
        self
    }

    pub fn total_ops(&self) -> u64 {
        self.clients * self.ops_per_client
    }
}

/// Every built-in scenario: the seed six, then [`EXTRA_SCENARIOS`].
pub fn builtin_scenarios() -> Vec<Scenario> {
    let mut all = seed_scenarios();
    all.push(ws_fanout());
    all
}

/// Applies `SCENARIO.METRIC=VALUE` overrides. `SCENARIO` may be `*` (every
/// scenario). An override naming a scenario that does not exist is an error
/// (a typo must not silently leave the default limit in force).
pub fn apply_overrides(
    scenarios: &mut [Scenario],
    known: &[String],
    overrides: &[String],
) -> Result<(), LoadError> {
    for spec in overrides {
        let bad =
            |why: String| LoadError::InvalidOption(format!("malformed threshold {spec:?}: {why}"));
        let (lhs, value) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected SCENARIO.METRIC=VALUE".into()))?;
        let (scen, metric) = lhs
            .trim()
            .rsplit_once('.')
            .ok_or_else(|| bad("expected SCENARIO.METRIC=VALUE".into()))?;
        let metric = metric.trim();
        if scen != "*" && !known.iter().any(|k| k == scen) {
            return Err(bad(format!(
                "unknown scenario {scen:?} (known: {})",
                known.join(", ")
            )));
        }
        // Validate against a scratch copy so a bad value errors even when the
        // named scenario is not selected for this run.
        Thresholds::default().set(metric, value).map_err(bad)?;
        for s in scenarios
            .iter_mut()
            .filter(|s| scen == "*" || s.name == scen)
        {
            s.thresholds.set(metric, value).map_err(bad)?;
        }
    }
    Ok(())
}
