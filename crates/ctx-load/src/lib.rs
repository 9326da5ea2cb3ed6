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
//!   [`runner`] (the whole run: [`run`], of [`LoadOptions`] checked and
//!   turned into scenarios by [`prepare_scenarios`]) sit on top; so does
//!   [`merge`] (one report from several processes' reports, judged as one
//!   run). The `ctx load` command is a thin wrapper.

pub mod engine;
pub mod error;
pub mod fanout;
pub mod merge;
pub mod model;
mod options;
mod prepare;
pub mod progress;
pub mod report;
mod runner;
pub mod scenarios;
pub mod search;
pub mod server;

pub use engine::{Mode, OpenLoop, Request, RequestGenerator, Target};
pub use error::LoadError;
pub use model::{PerformanceMetrics, RunReport};
pub use options::{LoadOptions, RunOutcome};
pub use prepare::prepare_scenarios;
pub use runner::run;
pub use scenarios::Scenario;
pub(crate) use search::SearchPlan;
pub use search::{
    FIND_MAX_BUDGET_SECS, FIND_MAX_MIN_CLIENTS, FIND_MAX_START_RATE, FIND_MAX_STEP_SECS,
    FindMaxOptions, SLO_METRICS,
};
pub use server::Launcher;

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
