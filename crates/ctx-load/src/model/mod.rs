//! The figures: plain data, no rendering, no judging. The engine and the
//! fan-out produce them, the scenarios judge them, the report renders them.
//! Every type here serialises as-is into `report.json` (schema in docs/load.md)
//! and reads back from it ([`RunReport::from_json`]).

mod baseline;
mod errors;
mod fanout;
mod find_max;
mod histogram;
mod latency;
mod metrics;
mod read;
mod resources;
mod run;
mod stages;
mod thresholds;
mod timeline;
mod verdict;
mod worker;

pub use baseline::{
    Baseline, BaselineComparison, BaselineRun, BaselineScenario, Change, Figure, FigureComparison,
    FigureValues, ScenarioComparison,
};
pub use errors::{ErrorBreakdown, SecondBucket};
pub use fanout::{FanoutSummary, SubscriberSummary, Tally};
pub use find_max::{FindMax, SearchEnd, SearchStep, StepPhase};
pub use histogram::{RawHistograms, decode_histogram, encode_histogram};
pub use latency::{LatencySummary, PercentilePoint, new_histogram, percentile_curve, us_between};
pub use metrics::{ContentCheckTally, OpenLoopSummary, PerformanceMetrics, RunMode, SetupSummary};
pub use read::{MIN_READ_SCHEMA, ReportReadError};
pub use resources::{LeakAnalysis, LeakRule, LeakVerdict, ResourceUsage, Sample};
pub use run::{
    AbortReason, ModeInfo, NamedFigure, Profile, Readiness, RunReport, SCHEMA_VERSION,
    ScenarioReport, ServerInfo, Summary,
};
pub use stages::{Stage, StageFigures, StageKind, StagePlan, StageSpan};
pub use thresholds::{CheckStatus, STEP_METRICS, THRESHOLD_METRICS, ThresholdCheck, Thresholds};
pub use timeline::{
    LATENCY_BIN_COUNT, LatencyBins, TimeBucket, Timeline, TimelineTally, bin_middle_us, bin_of,
};
pub use verdict::{Outcome, Verdict};
pub use worker::{MergedInput, WorkerShare};
