//! Load shapes: a run in stages (a ramping arrival rate, or a ramping number
//! of clients), and each stage's own figures. Plain data: the engine ramps
//! ([`crate::engine`]), [`crate::scenarios`] parses the text forms.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{LatencySummary, WorkerShare};

/// What the stages ramp (`stages.ramps` in report.json).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// The open-loop arrival rate, requests per second in total (`--stages`).
    Rate,
    /// The number of closed-loop clients (`--client-stages`).
    Clients,
}

impl StageKind {
    /// The unit of a stage's target, as the reports write it.
    pub fn unit(self) -> &'static str {
        match self {
            StageKind::Rate => "req/s",
            StageKind::Clients => "clients",
        }
    }
}

/// One stage: over `duration_secs`, the level ramps linearly from the
/// previous stage's target (0 before the first) to `target`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stage {
    pub duration_secs: f64,
    pub target: f64,
}

/// A run's stages (k6's ramping-arrival-rate and ramping-vus executors).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StagePlan {
    pub ramps: StageKind,
    pub stages: Vec<Stage>,
}

impl StagePlan {
    pub fn total_secs(&self) -> f64 {
        self.stages.iter().map(|s| s.duration_secs).sum()
    }

    /// Highest target of any stage.
    pub fn peak(&self) -> f64 {
        self.stages.iter().map(|s| s.target).fold(0.0, f64::max)
    }

    /// Each stage's start and end, seconds from the start of the run, with the
    /// level it ramps from: `(start, end, from, to)`.
    pub fn spans(&self) -> Vec<(f64, f64, f64, f64)> {
        let (mut at, mut level) = (0.0, 0.0);
        self.stages
            .iter()
            .map(|s| {
                let span = (at, at + s.duration_secs, level, s.target);
                at += s.duration_secs;
                level = s.target;
                span
            })
            .collect()
    }

    /// `10s:100,30s:1000,10s:0`, as `--stages` takes it.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .stages
            .iter()
            .map(|s| format!("{}s:{}", s.duration_secs, s.target))
            .collect();
        parts.join(",")
    }
}

/// Where a stage stands in its plan: one of [`StagePlan::spans`] with its
/// number and kind.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageSpan {
    /// 1-based, in the order of the plan.
    pub stage: usize,
    pub ramps: StageKind,
    /// Seconds from the start of the scenario's load.
    pub start_secs: f64,
    pub end_secs: f64,
    /// The level (req/s or clients) the stage ramps from and to: this
    /// process's (a worker's rate stages: its share of the plan's).
    pub from: f64,
    pub to: f64,
}

impl StageSpan {
    /// Open loop: the rate asked of the stage on average; None for clients.
    fn target_rate(&self) -> Option<f64> {
        (self.ramps == StageKind::Rate).then_some((self.from + self.to) / 2.0)
    }
}

/// One stage's figures (`metrics.stages` in report.json). A request belongs
/// to the stage of its intended send time (open loop) or its actual send time
/// (closed loop).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageFigures {
    #[serde(flatten)]
    pub span: StageSpan,
    /// Requests attempted in the stage (sent or failed to connect; not dropped ones).
    pub requests: u64,
    pub success: u64,
    /// success / requests × 100 (100 when the stage sent nothing).
    pub success_rate_pct: f64,
    /// Open loop: the rate asked of the stage on average ((from + to) / 2).
    pub target_rate: Option<f64>,
    /// A worker's rate stage: the whole run's levels, of which `from` and
    /// `to` are its share (so `ctx load merge` of every worker gives them
    /// exactly: N shares of `to / N` do not always add up to `to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_to: Option<f64>,
    /// requests / the stage's duration.
    pub achieved_rate: f64,
    /// Of the requests that got an answer; all zero when none did.
    pub latency: LatencySummary,
}

impl StageFigures {
    /// A stage's figures from what was recorded in it: the one place its
    /// rates and success rate are derived (a run's stages, a merged run's).
    pub fn new(span: StageSpan, requests: u64, success: u64, latency: &Histogram<u64>) -> Self {
        let secs = span.end_secs - span.start_secs;
        StageFigures {
            span,
            requests,
            success,
            success_rate_pct: if requests == 0 {
                100.0
            } else {
                success as f64 / requests as f64 * 100.0
            },
            target_rate: span.target_rate(),
            achieved_rate: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            latency: LatencySummary::from_histogram(latency),
            run_from: None,
            run_to: None,
        }
    }

    /// The figures of a stage of the whole plan as `share` offered it: its
    /// levels and target become the worker's part (requests are dealt
    /// round-robin, so a worker ramps to `to / N`), beside which its own
    /// achieved rate is judged and shown; the plan's levels are kept in
    /// `run_from`/`run_to`. Only rate stages split (ramping clients do not
    /// run on workers).
    pub fn share_of(self, share: WorkerShare) -> StageFigures {
        if share.is_whole() || self.span.ramps != StageKind::Rate {
            return self;
        }
        let span = StageSpan {
            from: share.rate(self.span.from),
            to: share.rate(self.span.to),
            ..self.span
        };
        StageFigures {
            target_rate: span.target_rate(),
            run_from: Some(self.span.from),
            run_to: Some(self.span.to),
            span,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::new_histogram;

    #[test]
    fn a_workers_rate_stage_is_its_share_of_the_plans() {
        let span = StageSpan {
            stage: 2,
            ramps: StageKind::Rate,
            start_secs: 1.0,
            end_secs: 2.0,
            from: 120.0,
            to: 60.0,
        };
        let whole = StageFigures::new(span, 30, 30, &new_histogram());
        assert_eq!(whole.target_rate, Some(90.0));
        let share = whole.clone().share_of(WorkerShare {
            index: 1,
            workers: 3,
        });
        assert_eq!(
            (share.span.from, share.span.to, share.target_rate),
            (40.0, 20.0, Some(30.0))
        );
        assert_eq!((share.run_from, share.run_to), (Some(120.0), Some(60.0)));
        assert_eq!(share.achieved_rate, whole.achieved_rate);
        assert_eq!(whole.clone().share_of(WorkerShare::WHOLE), whole);
    }
}
